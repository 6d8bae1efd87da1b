"""Finished comparisons kept on disk: one JSON file each (`CompareResult.save_json`) in Parley's
data folder, `data/comparisons/`, listed newest first and reopened with the very same figures.

File names carry the time and the reference: `20250101-120000-gemma-3-270m-Q8_0.json`. A file
that cannot be read is listed with its error (never a failed listing) and can be deleted.
"""

from __future__ import annotations

import json
import logging
import re
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from inference.common.errors import ParleyError
from inference.common.paths import parley_paths
from inference.compare.result import CompareResult

log = logging.getLogger("parley.compare")
FOLDER = "comparisons"
_STAMP = "%Y%m%d-%H%M%S"
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


class HistoryError(ParleyError):
    """A saved comparison cannot be read; the message names the file."""


@dataclass(frozen=True)
class SavedComparison:
    path: Path
    saved_at: datetime
    reference: str                 # "" when the file is unreadable
    files: tuple[str, ...]
    n_ctx: int
    error: str | None = None

    @property
    def label(self) -> str:
        when = self.saved_at.strftime("%Y-%m-%d %H:%M")
        if self.error:
            return f"{when} · unreadable: {self.error}"
        return (f"{when} · {len(self.files)} files · reference {self.reference} · "
                f"n_ctx {self.n_ctx}")


def default_folder() -> Path:
    return parley_paths().data / FOLDER


class CompareHistory:
    """The saved comparisons in one folder (default: Parley's `data/comparisons/`)."""

    def __init__(self, folder: Path | None = None) -> None:
        self.folder = folder if folder is not None else default_folder()

    def save(self, result: CompareResult, when: float | None = None) -> Path:
        """Write `result` as a new JSON file and return its path."""
        self.folder.mkdir(parents=True, exist_ok=True)
        stamp = time.strftime(_STAMP, time.localtime(when if when is not None else time.time()))
        stem = _UNSAFE.sub("_", Path(result.reference).stem)[:80] or "comparison"
        target = self.folder / f"{stamp}-{stem}.json"
        n = 2
        while target.exists():
            target = self.folder / f"{stamp}-{stem}-{n}.json"
            n += 1
        return result.save_json(target)

    def list(self) -> list[SavedComparison]:
        """Every saved comparison, newest first."""
        if not self.folder.is_dir():
            return []
        found = [self._describe(p) for p in self.folder.glob("*.json") if p.is_file()]
        return sorted(found, key=lambda s: (s.saved_at, s.path.name), reverse=True)

    def load(self, path: Path) -> CompareResult:
        try:
            return CompareResult.load_json(path)
        except OSError as exc:
            raise HistoryError(f"cannot read {path.name}: {exc.strerror or exc}") from None
        except (ValueError, KeyError, TypeError) as exc:
            raise HistoryError(f"{path.name} is not a saved comparison ({exc})") from None

    def delete(self, path: Path) -> None:
        if path.parent.resolve() != self.folder.resolve():
            raise HistoryError(f"{path} is not in {self.folder}")
        path.unlink(missing_ok=True)

    def _describe(self, path: Path) -> SavedComparison:
        saved_at = _saved_at(path)
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            files = tuple(str(r["file"]) for r in data["rows"])
            return SavedComparison(path, saved_at, str(data["reference"]), files,
                                   int(data["n_ctx"]))
        except (OSError, ValueError, KeyError, TypeError) as exc:
            log.warning("saved comparison %s is unreadable: %s", path, exc)
            return SavedComparison(path, saved_at, "", (), 0, error=str(exc) or type(exc).__name__)


def _saved_at(path: Path) -> datetime:
    try:
        return datetime.strptime(path.name[:15], _STAMP)
    except ValueError:
        try:
            return datetime.fromtimestamp(path.stat().st_mtime)
        except OSError:
            return datetime.fromtimestamp(0)
