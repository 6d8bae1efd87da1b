"""What EngineHost and its child process say to each other over one `multiprocessing.Pipe`.

Requests (parent → child) and replies (child → parent) are small tuples whose first item is a
short tag. A token costs one tuple `(TOKEN, text, index)` (plus the live `GenerationStats` a few
times a second); the big objects (`LoadedModel`, `Finished`, `RenderedPrompt`) cross once per
request. Errors cross as class names + message and are rebuilt from an explicit table.
"""

from __future__ import annotations

import ctypes
import signal
import sys
from typing import Any

from inference.common import errors as _e
from inference.common.cancel import CancelToken

# -- requests (parent → child) -------------------------------------------------------------------
LOAD = "load"            # (LOAD, config.to_dict())
UNLOAD = "unload"        # (UNLOAD,)
RENDER = "render"        # (RENDER, request.to_dict())
GENERATE = "generate"    # (GENERATE, request.to_dict())
TOKENIZE = "tokenize"    # (TOKENIZE, text, add_bos)
JOB = "job"              # (JOB, name, args): a function from host_child.JOBS
CLOSE = "close"          # (CLOSE,): finish politely and exit

# -- replies (child → parent) --------------------------------------------------------------------
PROGRESS = "p"           # (PROGRESS, fraction) while loading
TOKEN = "t"              # (TOKEN, text, index) or (TOKEN, text, index, GenerationStats)
EVENT = "e"              # (EVENT, obj): a job's progress report
RESULT = "r"             # (RESULT, value): the request's end (a generation's Finished)
ERROR = "x"              # (ERROR, class names most-derived first, message): the request failed

# The classes that cross the pipe with their identity: every error class in
# inference/common/errors.py
# (listed from the module, so a new one is never forgotten); anything else becomes a ParleyError.
ERROR_CLASSES: dict[str, type[BaseException]] = {
    name: cls for name, cls in vars(_e).items()
    if isinstance(cls, type) and issubclass(cls, (_e.ParleyError, _e.Cancelled))}


def encode_error(exc: BaseException) -> tuple[str, tuple[str, ...], str]:
    """An ERROR reply for a ParleyError / Cancelled (its class and bases, so subclasses the
    parent does not know still arrive as their nearest known base)."""
    names = tuple(cls.__name__ for cls in type(exc).__mro__ if cls.__name__ in ERROR_CLASSES)
    return (ERROR, names, str(exc))


def decode_error(names: tuple[str, ...], message: str) -> BaseException:
    for name in names:
        cls = ERROR_CLASSES.get(name)
        if cls is None:
            continue
        try:
            return cls(message)
        except TypeError:          # a constructor that wants more than a message
            continue
    return _e.ParleyError(message)


class SharedCancel(CancelToken):
    """A CancelToken over one byte of shared memory, set by the parent and read by the child.

    Reading it costs a memory load (~0.05 µs), which matters: llama.cpp's abort callback asks
    between compute-graph nodes, hundreds of times per token (a `multiprocessing.Event` takes
    ~0.6 µs per ask and needs the semaphore tracker).
    """

    def __init__(self, flag: Any) -> None:   # a RawValue(c_bool) from `new_flag`
        self._flag = flag

    @staticmethod
    def new_flag(context: Any) -> Any:
        """A fresh flag from a multiprocessing context (pass it to the child when spawning)."""
        return context.RawValue(ctypes.c_bool, False)

    def cancel(self) -> None:
        self._flag.value = True

    def reset(self) -> None:
        self._flag.value = False

    @property
    def cancelled(self) -> bool:
        return bool(self._flag.value)


# Windows reports a crash as an NTSTATUS exit code rather than a signal.
_WINDOWS_CRASHES = {0xC0000005: "access violation", 0xC0000409: "abort (fast fail)",
                    0xC00000FD: "stack overflow"}


def exit_signal(exitcode: int | None) -> str | None:
    """'SIGABRT' for a process killed by a signal, else None."""
    if exitcode is None or exitcode >= 0:
        return None
    try:
        return signal.Signals(-exitcode).name
    except ValueError:
        return f"signal {-exitcode}"


def describe_exit(exitcode: int | None) -> str:
    """How the child ended, in words for the crash message: 'signal SIGABRT', 'exit code 1'."""
    name = exit_signal(exitcode)
    if name is not None:
        return name if name.startswith("signal") else f"signal {name}"
    if exitcode is None:
        return "no exit status"
    if sys.platform == "win32" and (exitcode & 0xFFFFFFFF) in _WINDOWS_CRASHES:
        return _WINDOWS_CRASHES[exitcode & 0xFFFFFFFF]
    return f"exit code {exitcode}"


def crash_message(how: str, during: str, loading: bool) -> str:
    advice = ("Parley is fine; try a smaller context, fewer GPU layers, or another model."
              if loading else
              "Your conversation is safe; load the model again to continue.")
    return f"The engine stopped unexpectedly ({how}) while {during}. {advice}"
