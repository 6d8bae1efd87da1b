"""The child's side of every child process: the same set-up first, then the same way to answer.

`child_entry` is the spawn target of every child (process.ChildProcess.start): it makes the
process safe (no core dumps, one-line native aborts, Ctrl+C left to the parent), routes its log
(`ChildLogging`), starts its `Watchdog` (a heartbeat for the parent, and the child's exit when the
parent is gone, even while the main thread is deep in native code: no orphans), then runs the
child's own main with a `ChildPipe`, which sends replies and turns a failure into an ERROR reply
(protocol.portable).
"""

from __future__ import annotations

import faulthandler
import logging
import multiprocessing
import os
import signal
import sys
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from inference.common.errors import ParleyError
from inference.common.logs import LOG_FORMAT
from inference.common.paths import parley_paths
from inference.host import protocol as hp
from inference.host.files import child_log_path

if TYPE_CHECKING:
    from multiprocessing.connection import Connection

log = logging.getLogger("parley.host")
BEAT_S = 0.5           # the watchdog's step: one heartbeat, one look at the parent
ORPHAN_EXIT = 70       # the exit code of a child whose parent went away


@dataclass(frozen=True)
class ChildLogging:
    """Where a child's log goes: its own file `<log_dir>/<kind>-<pid>.log`, which the parent
    appends to Parley's log when the child ends, and the terminal's stderr too when `echo`."""

    log_dir: str
    kind: str = "engine"            # files.CHILD_KINDS
    echo: bool = False              # the parent prints its log on stderr (`parley -v`)

    @classmethod
    def of_parent(cls, kind: str, echo: bool | None = None) -> ChildLogging:
        """`echo` by default when Parley's logger is at DEBUG (`parley -v`)."""
        if echo is None:
            echo = logging.getLogger("parley").isEnabledFor(logging.DEBUG)
        return cls(str(parley_paths().logs), kind, echo)

    def path(self, pid: int) -> Path:
        return child_log_path(Path(self.log_dir), pid, self.kind)

    def install(self) -> None:
        """In the child: Python's log (llama.cpp's, via native_log) and this process's stderr
        (where native aborts and faulthandler write) go to the child's own log file; with
        `echo`, the log also goes to the terminal's stderr, as it does in the parent."""
        Path(self.log_dir).mkdir(parents=True, exist_ok=True)
        path = self.path(os.getpid())
        root = logging.getLogger()
        root.setLevel(logging.DEBUG if self.echo else logging.INFO)
        if self.echo:
            echo = logging.StreamHandler(os.fdopen(os.dup(2), "w", buffering=1, encoding="utf-8"))
            echo.setFormatter(logging.Formatter("%(name)s: %(message)s"))
            root.addHandler(echo)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        os.dup2(fd, 2)
        os.close(fd)
        handler = logging.FileHandler(path, encoding="utf-8")
        handler.setFormatter(logging.Formatter(LOG_FORMAT))
        root.addHandler(handler)
        faulthandler.enable(file=sys.stderr)     # a Python traceback of where a native crash hit


class ParentGone(Exception):
    """The pipe to the parent broke: the parent went away, so the child ends."""


class ChildPipe:
    """The child's end of the pipe; `where` names the child in an unexpected error."""

    def __init__(self, conn: Connection, where: str) -> None:
        self.conn = conn
        self.where = where

    def send(self, message: tuple[Any, ...]) -> None:
        try:
            self.conn.send(message)
        except OSError as exc:
            raise ParentGone() from exc

    def emit(self, obj: Any) -> None:
        """A progress report (picklable) for the parent."""
        self.send((hp.EVENT, obj))

    def answer(self, work: Callable[[], Any]) -> None:
        """Run `work` and send its end: (RESULT, value), or (ERROR, the exception made
        portable) when it raised or its value would not pickle."""
        try:
            reply: tuple[Any, ...] = (hp.RESULT, work())
        except ParentGone:
            raise
        except Exception as exc:
            if not isinstance(exc, hp.CARRIED):
                log.error("%s error:\n%s", self.where, traceback.format_exc())
            reply = (hp.ERROR, hp.portable(exc, self.where))
        try:
            self.conn.send(reply)
        except OSError as exc:
            raise ParentGone() from exc
        except Exception as exc:                 # the result would not pickle
            log.error("%s: cannot send the result: %r", self.where, exc)
            self.send((hp.ERROR, ParleyError(
                f"{self.where} error: cannot return the result: {exc}")))


class Watchdog:
    """A daemon thread in the child: counts `heartbeat` up every BEAT_S (the parent's sign that
    the child still runs) and ends the process at once when the parent is gone: its sentinel
    from multiprocessing closed, or this process handed to another parent (`os.getppid()`)."""

    def __init__(self, heartbeat: Any, parent_pid: int | None) -> None:
        self._heartbeat = heartbeat
        self._parent_pid = parent_pid
        parent = multiprocessing.parent_process()
        self._sentinel = getattr(parent, "sentinel", None)

    def start(self) -> None:
        threading.Thread(target=self._run, name="parley-watchdog", daemon=True).start()

    def parent_gone(self, timeout_s: float = 0.0) -> bool:
        """Whether the parent is gone, waiting up to `timeout_s` on its sentinel to find out."""
        if self._parent_pid is not None and os.getppid() != self._parent_pid:
            return True
        if self._sentinel is None:
            time.sleep(timeout_s)
            return False
        from multiprocessing.connection import wait

        try:
            return bool(wait([self._sentinel], timeout=timeout_s))
        except (OSError, ValueError):
            time.sleep(timeout_s)
            return False

    def _run(self) -> None:
        while True:
            if self._heartbeat is not None:
                self._heartbeat.value = (self._heartbeat.value + 1) & 0xFFFFFFFF
            if self.parent_gone(BEAT_S):
                log.warning("the parent process went away; process %d exits", os.getpid())
                os._exit(ORPHAN_EXIT)


def child_entry(main: Callable[..., None], conn: Connection, logs: ChildLogging,
                args: tuple[Any, ...], heartbeat: Any = None,
                parent_pid: int | None = None) -> None:
    """Every child's first code: safety, logging, the watchdog, then `main(conn, *args)`."""
    os.environ["GGML_NO_BACKTRACE"] = "1"    # an abort prints one line, not a gdb session
    signal.signal(signal.SIGINT, signal.SIG_IGN)   # Ctrl+C in a terminal is the parent's
    logs.install()
    _no_core_dumps()
    Watchdog(heartbeat, parent_pid).start()
    try:
        main(conn, *args)
    finally:
        conn.close()


def _no_core_dumps() -> None:
    try:
        import resource
    except ImportError:                      # Windows
        return
    try:
        _soft, hard = resource.getrlimit(resource.RLIMIT_CORE)
        resource.setrlimit(resource.RLIMIT_CORE, (0, hard))
    except (ValueError, OSError):
        pass
