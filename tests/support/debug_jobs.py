"""Test-only jobs for the engine process: `EngineHost(job_modules=[DEBUG_JOBS])` adds them to the
child's job table (inference/host/child.py), so production's `JOBS` holds only real jobs."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from inference.common.errors import Cancelled, NoModelLoadedError
from inference.host.child import Job, JobContext

if TYPE_CHECKING:
    from multiprocessing.connection import Connection

    from inference.engine.engine import Engine

DEBUG_JOBS = __name__


def debug_crash(engine: Engine, ctx: JobContext, how: str) -> None:
    """End the engine process the way a native failure does: 'invalid_token' is a real one
    (llama.cpp aborts, SIGABRT); anything else names a signal to send to ourselves."""
    if how == "invalid_token":
        from inference.llama.debug import abort_on_invalid_token

        if engine.loaded is None:
            raise NoModelLoadedError()
        abort_on_invalid_token(engine.loaded.config.path)
    os.kill(os.getpid(), signal.Signals[how])


def network_attempts(engine: Engine, ctx: JobContext) -> list[str] | None:
    """The network accesses the audit hook saw (None when it is not installed)."""
    return list(ctx.audit.attempts) if ctx.audit else None


def debug_steps(engine: Engine, ctx: JobContext, steps: int, pause_s: float = 0.0) -> int:
    """A job in miniature: it reports each step and stops when cancelled."""
    for step in range(steps):
        if ctx.cancel.cancelled:
            raise Cancelled("job cancelled")
        ctx.emit(step)
        time.sleep(pause_s)
    return steps


def raise_in_job(engine: Engine, ctx: JobContext, kind: str, message: str) -> None:
    """Raise `kind` (an inference.common.errors class or a builtin exception) with `message`."""
    raise_named(kind, message, None)


JOBS: Mapping[str, Job] = MappingProxyType({
    "_debug_crash": debug_crash,
    "_debug_steps": debug_steps,
    "_network_attempts": network_attempts,
    "_raise": raise_in_job,
})


# -- `run_in_child` targets: target(*args, emit) ----------------------------------------------
def count_then(steps: int, pause_s: float, result: Any, emit: Callable[[Any], None]) -> Any:
    """Emit 0 … steps-1 with a pause after each, then return `result`."""
    for step in range(steps):
        emit(step)
        time.sleep(pause_s)
    return result


def raise_named(kind: str, message: str, emit: Callable[[Any], None] | None) -> None:
    """Raise `kind` (an inference.common.errors class or a builtin exception) with `message`."""
    import builtins

    from inference.common import errors

    raise (getattr(errors, kind, None) or getattr(builtins, kind))(message)


def kill_myself(how: str, emit: Callable[[Any], None]) -> None:
    """Send this process the signal `how` ('SIGKILL', 'SIGABRT')."""
    emit("about to die")
    os.kill(os.getpid(), signal.Signals[how])
    time.sleep(30)


def unpicklable_result(emit: Callable[[Any], None]) -> Any:
    return lambda: None


def wait_for_a_message(conn: Connection) -> None:
    """A `ChildProcess.start` main that answers nothing: it ends when a message comes."""
    conn.recv()
