"""Where Parley keeps its data, config, cache and logs (PARLEY_HOME overrides the root)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import platformdirs

APP_NAME = "Parley"


@dataclass(frozen=True)
class ParleyPaths:
    data: Path
    config: Path
    cache: Path
    logs: Path

    @property
    def models(self) -> Path:
        return self.data / "models"

    @property
    def database(self) -> Path:
        return self.data / "parley.sqlite3"

    @property
    def log_file(self) -> Path:
        return self.logs / "parley.log"

    def ensure(self) -> ParleyPaths:
        for folder in (self.data, self.config, self.cache, self.logs, self.models):
            folder.mkdir(parents=True, exist_ok=True)
        return self


def parley_paths() -> ParleyPaths:
    """The folders for this user, or all under `$PARLEY_HOME` when it is set."""
    home = os.environ.get("PARLEY_HOME")
    if home:
        root = Path(home).expanduser()
        return ParleyPaths(root / "data", root / "config", root / "cache", root / "logs")
    return ParleyPaths(
        Path(platformdirs.user_data_dir(APP_NAME, appauthor=False)),
        Path(platformdirs.user_config_dir(APP_NAME, appauthor=False)),
        Path(platformdirs.user_cache_dir(APP_NAME, appauthor=False)),
        Path(platformdirs.user_log_dir(APP_NAME, appauthor=False)),
    )
