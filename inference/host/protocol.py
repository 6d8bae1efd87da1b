"""What a parent and its child process say over one `multiprocessing.Pipe`.

Every child (EngineHost's engine, a one-shot job) answers with the same three replies: EVENT
(progress) any number of times, then RESULT or ERROR. EngineHost's requests and its compact
TOKEN reply come on top. A token costs one tuple `(TOKEN, text, index)` (plus the live
`GenerationStats` a few times a second); the big objects (`LoadedModel`, `Finished`,
`RenderedPrompt`) cross once per request. An error crosses as the exception itself, made
portable by `portable`.
"""

from __future__ import annotations

import pickle
from typing import Any

from inference.common.cancel import CancelToken
from inference.common.errors import Cancelled, ParleyError

# -- replies (child → parent), from every child ------------------------------------------------
EVENT = "e"              # (EVENT, obj): progress (load fraction, job report) or a generation event
RESULT = "r"             # (RESULT, value): the request's end (a generation's Finished)
ERROR = "x"              # (ERROR, exception): the request failed (see `portable`)
TOKEN = "t"              # EngineHost: (TOKEN, text, index) or (TOKEN, text, index, stats)

# -- EngineHost's requests (parent → child) ----------------------------------------------------
LOAD = "load"            # (LOAD, config.to_dict())
UNLOAD = "unload"        # (UNLOAD,)
RENDER = "render"        # (RENDER, request.to_dict())
GENERATE = "generate"    # (GENERATE, request.to_dict())
TOKENIZE = "tokenize"    # (TOKENIZE, text, add_bos)
JOB = "job"              # (JOB, name, args): a function from the child's job table
CLOSE = "close"          # (CLOSE,): finish politely and exit

CARRIED = (ParleyError, Cancelled)   # the exceptions that cross with their class


def portable(exc: BaseException, where: str) -> BaseException:
    """`exc` as it can cross the pipe. A ParleyError or Cancelled keeps its class and message
    (or its nearest base that survives pickling: a local class, a constructor that wants more
    than the message); anything else becomes a ParleyError '<where> error: <Type>: <message>'."""
    if not isinstance(exc, CARRIED):
        return ParleyError(f"{where} error: {type(exc).__name__}: {exc}")
    if _survives_pickling(exc):
        return exc
    message = str(exc)
    for cls in type(exc).__mro__[1:]:
        if not (isinstance(cls, type) and issubclass(cls, CARRIED)):
            continue
        try:
            candidate = cls(message)
        except TypeError:
            continue
        if _survives_pickling(candidate):
            return candidate
    return ParleyError(message)


def _survives_pickling(exc: BaseException) -> bool:
    try:
        back = pickle.loads(pickle.dumps(exc))
    except Exception:  # noqa: BLE001 - any failure means "send something simpler"
        return False
    return type(back) is type(exc) and str(back) == str(exc)


class SharedCancel(CancelToken):
    """A CancelToken over one byte of shared memory, set by the parent and read by the child.

    Reading it costs a memory load (~0.05 µs), which matters: llama.cpp's abort callback asks
    between compute-graph nodes, hundreds of times per token (a `multiprocessing.Event` takes
    ~0.6 µs per ask and needs the semaphore tracker).
    """

    def __init__(self, flag: Any) -> None:   # a RawValue("b") from `new_flag`
        self._flag = flag

    @staticmethod
    def new_flag(context: Any) -> Any:
        """A fresh flag from a multiprocessing context (pass it to the child when spawning)."""
        return context.RawValue("b", 0)

    def cancel(self) -> None:
        self._flag.value = 1

    def reset(self) -> None:
        self._flag.value = 0

    @property
    def cancelled(self) -> bool:
        return bool(self._flag.value)
