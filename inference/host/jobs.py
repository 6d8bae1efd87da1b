"""Run one function in a spawned child process: progress messages stream back, cancel kills it.

Used for work llama.cpp cannot interrupt or report on by itself (`llama_model_quantize` has no
progress callback and no abort) and for work whose memory must be measured on its own (each file
of a comparison: its peak RSS is the child's). A native abort in the child fails the job with a
clear error; the caller's process survives.

The target must be a module-level function `target(*args, emit)`; `emit(obj)` sends a picklable
progress message to the parent's `on_message`, the return value comes back as the job's result.
The child is set up, logs and dies like EngineHost's (process.py): its log, llama.cpp's too,
goes to Parley's log file, and to stderr only when the parent prints its log there (`-v`).
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from multiprocessing.connection import Connection
from typing import Any, TypeVar

from inference.common.cancel import CancelToken
from inference.common.errors import Cancelled, ParleyError
from inference.host import protocol as hp
from inference.host.bootstrap import ChildLogging, ChildPipe, ParentGone
from inference.host.exits import ChildExit
from inference.host.process import TERM_S, ChildGone, ChildProcess, DeadlinePassed

T = TypeVar("T")
EXIT_S = 2.0           # patience for a child that answered to exit by itself


class ChildTimeoutError(ParleyError):
    """A job did not finish within the time it was given."""


def run_in_child(target: Callable[..., T], *args: Any,
                 on_message: Callable[[Any], None] | None = None,
                 cancel: CancelToken | None = None, what: str = "job",
                 timeout_s: float | None = None) -> T:
    """Run `target(*args, emit)` in a fresh "spawn" process and return its result.

    Raises `Cancelled` after killing the child when `cancel` fires, ChildTimeoutError after
    killing it when `timeout_s` passes, the child's own ParleyError (or `Cancelled`) when it
    raised one, a ParleyError naming the type of anything else it raised, and
    EngineCrashedError when the child died without answering (a native abort, a signal).
    """
    child = ChildProcess.start(_job_main, target, args, what, name=f"parley-{what}",
                               logs=ChildLogging.of_parent("job"), duplex=False)
    deadline = None if timeout_s is None else time.monotonic() + timeout_s

    def look_at_cancel() -> None:
        if cancel is not None and cancel.cancelled:
            raise Cancelled(f"{what} cancelled")

    patience = 0.0                       # unless it answered, the child is killed at once
    try:
        while True:
            try:
                reply = child.receive(look_at_cancel, deadline)
            except ChildGone:
                raise child.crashed(lambda ended: _crash_message(what, ended)) from None
            except DeadlinePassed:
                raise ChildTimeoutError(
                    f"The {what} did not finish within {timeout_s:g} s.") from None
            if reply[0] == hp.EVENT:
                if on_message is not None:
                    on_message(reply[1])
                continue
            patience = EXIT_S            # it answered: let it exit by itself
            if reply[0] == hp.ERROR:
                raise reply[1]
            return reply[1]
    finally:
        child.stop(patience, TERM_S)       # SIGTERM, then SIGKILL 1 s later


def _crash_message(what: str, ended: ChildExit) -> str:
    if ended.crashed:
        return f"The {what} process stopped unexpectedly ({ended}); llama.cpp may have aborted."
    return f"The {what} process ended unexpectedly ({ended})."


def _job_main(conn: Connection, target: Callable[..., Any], args: tuple[Any, ...],
              what: str) -> None:
    """The job child's main (behind bootstrap.child_entry): one answer, then exit."""
    pipe = ChildPipe(conn, what)
    with contextlib.suppress(ParentGone):
        pipe.answer(lambda: target(*args, pipe.emit))
