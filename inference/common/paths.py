"""Where Parley keeps its data, config, cache and logs (PARLEY_HOME overrides the root)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import platformdirs

from inference.common.errors import DataFolderError

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
        """Create the folders; DataFolderError (one clear sentence) when one cannot be."""
        for folder in (self.data, self.config, self.cache, self.logs, self.models):
            try:
                folder.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise DataFolderError(_folder_problem(folder, exc)) from exc
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


def _folder_problem(folder: Path, exc: OSError) -> str:
    """Why `folder` cannot be made, naming the file in the way and PARLEY_HOME when it is set."""
    blocker = next((p for p in (folder, *folder.parents) if _is_file(p)), None)
    home = os.environ.get("PARLEY_HOME")
    where = f" (PARLEY_HOME is {home})" if home else ""
    if blocker is not None:
        return (f"cannot create Parley's folder {folder}: {blocker} is a file, not a folder"
                f"{where}. Point PARLEY_HOME at a folder, or move the file away.")
    return f"cannot create Parley's folder {folder}: {exc.strerror or exc}{where}"


def _is_file(path: Path) -> bool:
    try:
        return path.exists() and not path.is_dir()
    except OSError:
        return False
