"""Run one function in a spawned child process: progress messages stream back, cancel kills it.

Used for work llama.cpp cannot interrupt or report on by itself (`llama_model_quantize` has no
progress callback and no abort) and for work whose memory must be measured on its own (each file
of a comparison: its peak RSS is the child's). A native abort in the child fails the job with a
clear error; the caller's process survives.

The target must be a module-level function `target(*args, emit)`; `emit(obj)` sends a picklable
progress message to the parent's `on_message`, the return value comes back as the job's result.

Logging follows the parent's (`ChildLogging`): llama.cpp's log (which `native_log` forwards to
the `parley` loggers) goes to Parley's log file, and to stderr only when the parent prints its
log there (`parley -v`). Without it, Python's last-resort handler would print llama.cpp's
warnings ("load: control-looking token …") on the terminal.
"""

from __future__ import annotations

import logging
import multiprocessing
import pickle
import signal
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from inference.common.cancel import CancelToken
from inference.common.errors import Cancelled, EngineCrashedError, ParleyError
from inference.common.logs import LOG_FORMAT

T = TypeVar("T")
POLL_S = 0.05
_PROGRESS, _RESULT, _ERROR = "progress", "result", "error"


class ChildJobError(ParleyError):
    """The child raised something that is not a ParleyError (its type and message are kept)."""


@dataclass(frozen=True)
class ChildLogging:
    """Where the parent's `parley` log goes, so that the child's goes to the same places."""

    log_file: str | None            # Parley's log file (`logs.configure_logging`), if any
    to_stderr: bool                 # the parent echoes its log to stderr (`-v`)
    level: int = logging.INFO

    @classmethod
    def of_parent(cls) -> ChildLogging:
        root = logging.getLogger("parley")
        files = [getattr(h, "parley_file", None) for h in root.handlers]
        return cls(log_file=next((f for f in files if f), None),
                   to_stderr=any(getattr(h, "parley_stderr", False) for h in root.handlers),
                   level=root.getEffectiveLevel())

    def install(self) -> None:
        """In the child: send the `parley` loggers where the parent sends them, nowhere else."""
        root = logging.getLogger("parley")
        root.setLevel(self.level)
        root.propagate = False
        root.addHandler(logging.NullHandler())      # never Python's last-resort stderr handler
        if self.log_file:
            handler = logging.FileHandler(self.log_file, encoding="utf-8", delay=True)
            handler.setFormatter(logging.Formatter(LOG_FORMAT))
            root.addHandler(handler)
        if self.to_stderr:
            stream = logging.StreamHandler(sys.stderr)
            stream.setFormatter(logging.Formatter("%(name)s: %(message)s"))
            root.addHandler(stream)


def run_in_child(target: Callable[..., T], *args: Any,
                 on_message: Callable[[Any], None] | None = None,
                 cancel: CancelToken | None = None, what: str = "job") -> T:
    """Run `target(*args, emit)` in a fresh "spawn" process and return its result.

    Raises `Cancelled` after killing the child when `cancel` fires, the child's own ParleyError
    (or `Cancelled`) when it raised one, ChildJobError for other exceptions, and
    EngineCrashedError when the child died without answering (a native abort, a signal).
    """
    ctx = multiprocessing.get_context("spawn")
    receiver, sender = ctx.Pipe(duplex=False)
    process = ctx.Process(target=_child_main,
                          args=(target, args, sender, ChildLogging.of_parent()), daemon=True)
    process.start()
    sender.close()
    try:
        return _serve(process, receiver, on_message, cancel, what)
    finally:
        receiver.close()
        _stop(process)


def _serve(process: Any, receiver: Any, on_message: Callable[[Any], None] | None,
           cancel: CancelToken | None, what: str) -> Any:
    while True:
        if cancel is not None and cancel.cancelled:
            raise Cancelled(f"{what} cancelled")
        try:
            ready = receiver.poll(POLL_S)
        except (EOFError, OSError):
            ready = False
        if not ready:
            if not process.is_alive() and not _drained(receiver):
                raise _died(process, what)
            continue
        try:
            kind, payload = receiver.recv()
        except (EOFError, OSError):
            process.join(1.0)
            raise _died(process, what) from None
        if kind == _PROGRESS:
            if on_message is not None:
                on_message(payload)
        elif kind == _RESULT:
            return payload
        else:
            raise payload


def _drained(receiver: Any) -> bool:
    """True if the pipe still holds something (the child may have exited just after sending)."""
    try:
        return bool(receiver.poll(0))
    except (EOFError, OSError):
        return False


def _died(process: Any, what: str) -> EngineCrashedError:
    process.join(1.0)
    code = process.exitcode
    if code is not None and code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = f"signal {-code}"
        return EngineCrashedError(f"The {what} process was stopped by {name} (llama.cpp may "
                                  "have aborted).", exit_signal=name)
    return EngineCrashedError(f"The {what} process ended unexpectedly (exit code {code}).")


def _stop(process: Any) -> None:
    if process.is_alive():
        process.terminate()
        process.join(2.0)
    if process.is_alive():
        process.kill()
        process.join(2.0)


def _child_main(target: Callable[..., Any], args: tuple[Any, ...], sender: Any,
                logs: ChildLogging) -> None:
    def emit(message: Any) -> None:
        sender.send((_PROGRESS, message))

    try:
        logs.install()
        result = target(*args, emit)
        sender.send((_RESULT, result))
    except BaseException as exc:  # noqa: BLE001 - everything goes back to the parent
        sender.send((_ERROR, _portable(exc)))
    finally:
        sender.close()


def _portable(exc: BaseException) -> BaseException:
    """The exception itself when it pickles (ParleyError, Cancelled), else a ChildJobError."""
    if isinstance(exc, (ParleyError, Cancelled)):
        try:
            pickle.loads(pickle.dumps(exc))
            return exc
        except Exception:  # noqa: BLE001
            return ParleyError(str(exc))
    return ChildJobError(f"{type(exc).__name__}: {exc}")
