"""The parent's side of every child process: start it, wait on its pipe, end it, name its death.

One `ChildProcess` per child, for EngineHost's engine (host.py) and for each one-shot job
(jobs.py). It is spawned with multiprocessing's "spawn" context into `bootstrap.child_entry`,
which sets the child up the same way for both. `receive` is the one wait on the pipe: it polls
in steps of POLL_S (so the caller can look at its CancelToken), stops at an optional deadline,
and raises `ChildGone` when the child ended without answering, `ChildHung` when its heartbeat (a
counter its watchdog thread, bootstrap.Watchdog, moves every BEAT_S) stood still for `hang_s`
(stopped, frozen); `crashed` then makes the EngineCrashedError (how it ended,
exits.ChildExit, and the last lines of its log). `stop` escalates: its own exit, SIGTERM, SIGKILL.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import os
import select
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from multiprocessing.context import BaseContext
from multiprocessing.process import BaseProcess
from pathlib import Path
from typing import Any

from inference.common.errors import EngineCrashedError
from inference.host import files
from inference.host.bootstrap import BEAT_S, ChildLogging, child_entry
from inference.host.exits import ChildExit

log = logging.getLogger(__name__)
POLL_S = 0.05          # how often a waiting parent runs `on_wait` (looks at the caller's cancel)
JOIN_S = 5.0           # patience for a polite exit, then terminate, then kill
TERM_S = 1.0           # after SIGTERM, how long a child has before SIGKILL when it must go now
HANG_S = 30.0          # a heartbeat standing still this long: the child is stopped or frozen


class ChildGone(Exception):
    """The child ended, or its pipe broke, before it sent what the parent waits for."""


class ChildHung(ChildGone):
    """The child's heartbeat stood still for `hang_s`: it is stopped (SIGSTOP) or frozen."""


class DeadlinePassed(Exception):
    """Nothing came from the child before the deadline given to `receive`."""


def spawn_context() -> BaseContext:
    """The multiprocessing context every child is started with (and its shared memory made)."""
    return multiprocessing.get_context("spawn")


@dataclass
class ChildProcess:
    process: BaseProcess
    conn: Connection
    logs: ChildLogging
    pid: int
    heartbeat: Any = None          # a RawValue the child's watchdog counts up every BEAT_S
    hang_s: float = HANG_S
    _poller: Any = field(default=None, init=False, repr=False)   # select.poll, made on first use
    _beat: tuple[int, float] = field(default=(-1, 0.0), init=False, repr=False)

    @classmethod
    def start(cls, main: Callable[..., None], *args: Any, name: str, logs: ChildLogging,
              duplex: bool = True, hang_s: float = HANG_S) -> ChildProcess:
        """Spawn `main(conn, *args)` (a module-level function) behind `bootstrap.child_entry`;
        `duplex=False` gives a pipe the child only writes to. `hang_s`: how long its heartbeat
        may stand still before a wait gives up on it (ChildHung)."""
        context = spawn_context()
        files.merge_left_over_logs(Path(logs.log_dir))
        mine, theirs = context.Pipe(duplex=duplex)
        heartbeat = context.RawValue("L", 0)
        process = context.Process(target=child_entry, name=name, daemon=True,
                                  args=(main, theirs, logs, args, heartbeat, os.getpid()))
        process.start()
        theirs.close()         # only the child holds its end: its death reads as EOF here
        assert process.pid is not None
        log.info("%s process %d started", logs.kind, process.pid)
        return cls(process, mine, logs, process.pid, heartbeat, max(hang_s, 4 * BEAT_S))

    @property
    def log_path(self) -> Path:
        return self.logs.path(self.pid)

    @property
    def alive(self) -> bool:
        return not self.conn.closed and self.process.is_alive()

    def send(self, message: tuple[Any, ...]) -> None:
        try:
            self.conn.send(message)
        except OSError:
            raise ChildGone() from None

    def readable(self, timeout_s: float) -> bool:
        """Whether a message is waiting (within `timeout_s`). On POSIX one `select.poll`
        object, kept for the child's life: `Connection.poll` builds a selector on every call,
        which is most of what receiving a streamed token costs this process."""
        if self._poller is None:
            if not hasattr(select, "poll"):             # Windows pipes: the Connection's own
                return self.conn.poll(timeout_s)
            self._poller = select.poll()
            self._poller.register(self.conn.fileno(), select.POLLIN)
        return bool(self._poller.poll(timeout_s * 1000))

    def receive(self, on_wait: Callable[[], None] | None = None,
                deadline: float | None = None) -> Any:
        """The next message. `on_wait` runs before each wait of up to POLL_S (it may raise, e.g.
        Cancelled); `deadline` (time.monotonic()) raises DeadlinePassed when nothing came by
        then; ChildGone when the child ended without sending one."""
        conn = self.conn
        while True:
            if on_wait is not None:
                on_wait()
            wait = POLL_S if deadline is None else max(0.0, min(POLL_S,
                                                                deadline - time.monotonic()))
            try:
                if self.readable(wait):
                    return conn.recv()
                if not self.process.is_alive() and not self.readable(0):
                    raise ChildGone()
            except (EOFError, OSError):
                raise ChildGone() from None
            if self.hung():
                raise ChildHung()
            if deadline is not None and time.monotonic() >= deadline:
                raise DeadlinePassed()

    def hung(self) -> bool:
        """Whether the child's heartbeat has stood still for `hang_s` (as far as this process
        has watched it: a pause of the parent's own is not counted against the child)."""
        if self.heartbeat is None:
            return False
        value, now = self.heartbeat.value, time.monotonic()
        seen, since = self._beat
        if value != seen:
            self._beat = (value, now)
            return False
        return now - since >= self.hang_s

    def stop(self, patience_s: float = JOIN_S, term_s: float = JOIN_S) -> ChildExit:
        """End the child: `patience_s` to exit by itself, then SIGTERM and `term_s` more, then
        SIGKILL. Its log is appended to Parley's; stopping it again does nothing more."""
        ended = self._end(patience_s, term_s)
        self._release(ended)
        return ended

    def crashed(self, message: Callable[[ChildExit], str],
                patience_s: float = JOIN_S) -> EngineCrashedError:
        """The error for a child that ended (or hung) unasked: `message(how it ended)`, its exit
        signal and the last lines of its log (where native aborts write). `patience_s`: how
        long it may take to end by itself (it may still be writing its last words)."""
        ended = self._end(patience_s, TERM_S)
        tail = files.log_tail(self.log_path)
        log.error("%s process %d stopped (%s)", self.logs.kind, self.pid, ended)
        self._release(ended)
        return EngineCrashedError(message(ended), exit_signal=ended.signal_name, log_tail=tail)

    def _end(self, patience_s: float, term_s: float = JOIN_S) -> ChildExit:
        proc = self.process
        if self.conn.closed:                  # released already
            return ChildExit(None)
        proc.join(patience_s)
        if proc.is_alive():
            proc.terminate()
            _resume(self.pid)                 # a stopped child only sees SIGTERM once resumed
            proc.join(term_s)
        if proc.is_alive():
            proc.kill()
            proc.join(JOIN_S)
        return ChildExit(proc.exitcode)

    def _release(self, ended: ChildExit) -> None:
        if self.conn.closed:
            return
        self.conn.close()
        files.merge_log(self.log_path, self.pid, ended.describe(), self.logs.kind)
        with contextlib.suppress(ValueError):
            self.process.close()


def _resume(pid: int) -> None:
    """SIGCONT where there is one (a SIGSTOPped child), so the SIGTERM just sent can act."""
    cont = getattr(signal, "SIGCONT", None)
    if cont is not None:
        with contextlib.suppress(OSError):
            os.kill(pid, cont)
