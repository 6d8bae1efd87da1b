"""The folders a user added to the library, kept in `library.json` in Parley's config folder."""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path

from inference.common.errors import ParleyError

log = logging.getLogger("parley.library")


class FolderList:
    """Added folders, read from and written to one JSON file (`{"folders": [...]}`)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def load(self) -> tuple[Path, ...]:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return ()
        except (OSError, ValueError) as exc:
            log.warning("ignoring unreadable %s: %s", self.path, exc)
            return ()
        folders = data.get("folders", []) if isinstance(data, dict) else []
        return tuple(Path(f) for f in folders if isinstance(f, str) and f)

    def add(self, folder: str | Path) -> Path:
        """Add a folder (stored absolute); adding one already there changes nothing."""
        path = Path(folder).expanduser()
        if not path.is_dir():
            raise ParleyError(f"{path} is not a folder" if path.exists()
                              else f"no such folder: {path}")
        path = path.resolve()
        current = self.load()
        if path not in current:
            self._save(current + (path,))
        return path

    def remove(self, folder: str | Path) -> bool:
        """Forget a folder (its files stay where they are); False when it was not added."""
        path = Path(folder).expanduser()
        current = self.load()
        kept = tuple(f for f in current if f != path and f != _resolved(path))
        if kept == current:
            return False
        self._save(kept)
        return True

    def _save(self, folders: tuple[Path, ...]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(self.path.name + ".tmp")
        tmp.write_text(json.dumps({"folders": [str(f) for f in folders]}, indent=2) + "\n",
                       encoding="utf-8")
        os.replace(tmp, self.path)


def _resolved(path: Path) -> Path:
    try:
        return path.resolve()
    except OSError:
        return path
