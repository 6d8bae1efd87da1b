"""Room on disk for a download: free space checked before any byte is written (with a margin),
and write failures (a full disk, a file-size limit, no permission) named with file and folder."""

from __future__ import annotations

import shutil
from pathlib import Path

from inference.hub.search import HubError
from inference.memory.fit import human_bytes

MIN_MARGIN = 64 << 20              # always leave this much free …
MARGIN_FRACTION = 0.01             # … or 1 % of the download, whichever is more


class DiskSpaceError(HubError):
    """Not enough room for a download, or a write to its file failed."""


def margin_for(need: int) -> int:
    return max(MIN_MARGIN, int(need * MARGIN_FRACTION))


def free_space(folder: Path) -> int | None:
    """Bytes free for `folder` (None where the system can't tell)."""
    try:
        return shutil.disk_usage(folder).free
    except OSError:
        return None


def check_free_space(folder: Path, need: int, name: str, *, size_known: bool = True) -> None:
    """Refuse a download of `need` more bytes (what is known of it) that would leave less than
    the margin free in `folder`."""
    free = free_space(folder)
    margin = margin_for(need)
    if free is None or need + margin <= free:
        return
    what = f"{human_bytes(need)} more" if size_known else \
        f"an unknown size ({human_bytes(need)} known)"
    raise DiskSpaceError(
        f"not enough free space for {name} in {folder}: it needs {what} and "
        f"{human_bytes(margin)} to spare, and {human_bytes(free)} is free")


def write_failed(exc: OSError, target: Path) -> DiskSpaceError:
    """The error for a failed write of `target`'s download (its partial file is removed)."""
    free = free_space(target.parent)
    room = f"; {human_bytes(free)} is free there" if free is not None else ""
    return DiskSpaceError(
        f"could not write {target.name} in {target.parent}: {exc.strerror or exc}{room}; "
        "the partial file was removed")
