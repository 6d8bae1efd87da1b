"""The files the child processes leave: each child's log, and EngineHost's crash-loop guard.

- `logs/<kind>-<pid>.log` (kind "engine" for EngineHost's child, "job" for a one-shot job): the
  child's log (llama.cpp's too) plus its stderr (where native aborts and faulthandler write).
  After the child ends it is appended to Parley's main log and removed.
- `data/engine-state.json`: `{"loading": path}` while a load runs; a crash during the load
  leaves it behind, so the next start knows not to auto-load that model.
"""

from __future__ import annotations

import json
import logging
import os
import time
from pathlib import Path

from inference.common.paths import parley_paths

log = logging.getLogger(__name__)
STATE_FILE = "engine-state.json"
TAIL_LINES = 30
CHILD_KINDS = ("engine", "job")


def child_log_path(log_dir: Path, pid: int, kind: str = "engine") -> Path:
    return log_dir / f"{kind}-{pid}.log"


def log_tail(path: Path, lines: int = TAIL_LINES) -> list[str]:
    """The last non-empty lines of a log file ([] if there is none)."""
    try:
        with path.open("rb") as f:
            f.seek(max(0, f.seek(0, os.SEEK_END) - 64 * 1024))
            text = f.read().decode("utf-8", "replace")
    except OSError:
        return []
    return [line for line in text.splitlines() if line.strip()][-lines:]


def merge_log(path: Path, pid: int | None, outcome: str, kind: str = "engine") -> None:
    """Append a finished child's log to Parley's main log file, then remove it."""
    try:
        text = path.read_text("utf-8", errors="replace")
    except OSError:
        return
    main = parley_paths().log_file
    if text and not text.endswith("\n"):
        text += "\n"
    try:
        main.parent.mkdir(parents=True, exist_ok=True)
        with main.open("a", encoding="utf-8") as out:
            out.write(f"---- {kind} process {pid} ({outcome}) ----\n{text}"
                      f"---- end of {kind} process {pid} ----\n")
        path.unlink(missing_ok=True)
    except OSError:
        log.warning("could not append %s to %s", path, main, exc_info=True)


def merge_left_over_logs(log_dir: Path) -> None:
    """Merge the logs of children whose parent ended before it could (a crash, a kill)."""
    import psutil

    for kind in CHILD_KINDS:
        for path in log_dir.glob(f"{kind}-*.log"):
            try:
                pid = int(path.stem.split("-", 1)[1])
            except ValueError:
                continue
            if not psutil.pid_exists(pid):
                merge_log(path, pid, "left over from an earlier run", kind)


# -- the crash-loop guard ----------------------------------------------------------------------
def state_path() -> Path:
    return parley_paths().data / STATE_FILE


def record_loading(model: Path, engine_pid: int | None) -> None:
    path = state_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    temp = path.with_suffix(".tmp")
    temp.write_text(json.dumps({"loading": str(model), "engine_pid": engine_pid,
                                "since": time.time()}), "utf-8")
    os.replace(temp, path)


def clear_loading() -> None:
    state_path().unlink(missing_ok=True)


def loading_record() -> Path | None:
    """The model of a load that never finished (the engine crashed during it), or None."""
    try:
        return Path(json.loads(state_path().read_text("utf-8"))["loading"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
