"""What a download from the hub checked, kept next to the file (`<name>.download.json`).

The hub room writes the record when a download is complete; the library reads it to say whether
a model it lists was verified. A record counts only while the file is the one it describes (same
size and modification time): a file replaced or edited since has no record.
"""

from __future__ import annotations

import enum
import json
import os
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from pathlib import Path


class DownloadCheck(str, enum.Enum):
    """How far a downloaded file was checked against what the hub said of it."""

    SHA256 = "sha256"     # size and every byte (the hub's LFS sha256) matched: verified
    SIZE = "size"         # the hub gave no sha256: only the size was checked
    NONE = "none"         # the hub gave neither size nor sha256: nothing could be checked

    def __str__(self) -> str:
        return self.value

    @property
    def verified(self) -> bool:
        return self is DownloadCheck.SHA256

    @property
    def words(self) -> str:
        """What the check means, for a tooltip or a note."""
        return {DownloadCheck.SHA256: "verified: its size and sha256 match the hub's",
                DownloadCheck.SIZE: "not verified: the hub gives no sha256 for it, so only its "
                                    "size was checked",
                DownloadCheck.NONE: "not verified: the hub gives neither its size nor its "
                                    "sha256, so nothing could be checked"}[self]


@dataclass(frozen=True)
class DownloadRecord:
    repo_id: str
    filename: str                 # the path in the repo
    revision: str
    check: DownloadCheck
    sha256: str | None
    size: int                     # the file's, when the record was written
    mtime_ns: int


def record_path(model: Path) -> Path:
    return model.with_name(model.name + ".download.json")


def write_record(model: Path, *, repo_id: str, filename: str, revision: str,
                 check: DownloadCheck, sha256: str | None) -> DownloadRecord:
    """Record what was checked of `model` (a complete file), for the file as it is now."""
    st = model.stat()
    record = DownloadRecord(repo_id, filename, revision, check, sha256, st.st_size,
                            st.st_mtime_ns)
    temp = record_path(model).with_suffix(".tmp")
    temp.write_text(json.dumps(asdict(record) | {"check": check.value}), encoding="utf-8")
    os.replace(temp, record_path(model))
    return record


def read_record(model: Path) -> DownloadRecord | None:
    """The record of `model`, or None: none, unreadable, or for another version of the file."""
    try:
        raw = json.loads(record_path(model).read_text(encoding="utf-8"))
        record = DownloadRecord(**{**raw, "check": DownloadCheck(raw["check"])})
        st = model.stat()
    except (OSError, ValueError, TypeError, KeyError):
        return None
    return record if (record.size, record.mtime_ns) == (st.st_size, st.st_mtime_ns) else None


def weakest_check(models: Iterable[Path]) -> DownloadCheck | None:
    """The least checked of a model's parts; None where one has no record (not downloaded by
    Parley, or changed since)."""
    order = list(DownloadCheck)
    checks = [read_record(m) for m in models]
    if not checks or any(r is None for r in checks):
        return None
    return max((r.check for r in checks if r is not None), key=order.index)
