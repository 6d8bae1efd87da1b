"""The child-process side of `quantize`: run `llama_model_quantize`, report tensors from its log.

Runs in a spawned process (see `child_job`); it installs its own llama.cpp log callback, so the
parent's log capture is untouched. The lines go on to the `parley.llama_cpp` logger (per-tensor
lines at DEBUG), which `child_job` routes like the parent's: Parley's log file, stderr with -v.
"""

from __future__ import annotations

import collections
import ctypes
import logging
import re
from collections.abc import Callable, Sequence
from typing import Any

import llama_cpp

from inference.common.errors import ParleyError

REQUANTIZED_KEY = "parley.requantized_from"
_TENSOR_LINE = re.compile(r"^\[\s*(\d+)/\s*(\d+)\]\s+(\S+)")
_FAILED = "failed to quantize: "
_SILENT = llama_cpp.llama_log_callback(lambda _level, _text, _user: None)
LOG = logging.getLogger("parley.llama_cpp")
_LEVELS = {3: logging.WARNING, 4: logging.ERROR}        # ggml's WARN, ERROR; the rest INFO


class QuantizeFailed(ParleyError):
    """llama_model_quantize returned an error; the message is llama.cpp's reason."""


class _LogReader:
    """Splits llama.cpp's log into lines; emits (done, total, tensor) for each tensor line."""

    def __init__(self, emit: Callable[[Any], None]) -> None:
        self.emit = emit
        self.partial = ""
        self.tail: collections.deque[str] = collections.deque(maxlen=60)

    def feed(self, level: int, text: bytes, _user: ctypes.c_void_p) -> None:
        self.partial += text.decode("utf-8", "replace") if text else ""
        while "\n" in self.partial:
            line, self.partial = self.partial.split("\n", 1)
            line = line.rstrip()
            if not line:
                continue
            self.tail.append(line)
            match = _TENSOR_LINE.match(line)
            LOG.log(logging.DEBUG if match else _LEVELS.get(level, logging.INFO), "%s", line)
            if match:
                self.emit((int(match[1]), int(match[2]), match[3]))

    def reason(self) -> str:
        for line in reversed(self.tail):
            if _FAILED in line:
                return line.split(_FAILED, 1)[1].strip()
        for line in reversed(self.tail):
            if "error" in line.lower():
                return line.strip()
        return "no reason given (see the log)"


def quantize_in_child(source: str, output: str, ftype: int, allow_requantize: bool,
                      n_threads: int, overrides: Sequence[tuple[str, str]],
                      emit: Callable[[Any], None]) -> None:
    reader = _LogReader(emit)
    callback = llama_cpp.llama_log_callback(reader.feed)
    llama_cpp.llama_log_set(callback, ctypes.c_void_p(0))
    llama_cpp.llama_backend_init()
    params = llama_cpp.llama_model_quantize_default_params()
    params.ftype = ftype
    params.allow_requantize = allow_requantize
    params.nthread = n_threads
    kv = (llama_cpp.llama_model_kv_override * (len(overrides) + 1))()   # last one: key "" ends
    for slot, (key, value) in zip(kv, overrides, strict=False):
        slot.tag = llama_cpp.LLAMA_KV_OVERRIDE_TYPE_STR
        slot.key = key.encode("utf-8")[:127]
        slot.value.val_str = value.encode("utf-8")[:127]
    if overrides:
        params.kv_overrides = kv
    code = llama_cpp.llama_model_quantize(source.encode("utf-8"), output.encode("utf-8"),
                                          ctypes.byref(params))
    llama_cpp.llama_log_set(_SILENT, ctypes.c_void_p(0))
    if code != 0:
        raise QuantizeFailed(reader.reason())
