"""The child-process side of `quantize`: run `llama_model_quantize`, report tensors from its log.

Runs in a spawned process (see `host.jobs`); `inference.llama.quantize` installs its own llama.cpp
log callback there, so the parent's log capture is untouched. The lines go on to the
`parley.llama_cpp` logger (per-tensor lines at DEBUG), which `host.jobs` routes like the parent's:
Parley's log file, stderr with -v.
"""

from __future__ import annotations

import collections
import logging
import re
from collections.abc import Callable, Sequence
from typing import Any

from inference.common.errors import ParleyError
from inference.llama.quantize import quantize_model

REQUANTIZED_KEY = "parley.requantized_from"
_TENSOR_LINE = re.compile(r"^\[\s*(\d+)/\s*(\d+)\]\s+(\S+)")
_FAILED = "failed to quantize: "
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

    def feed(self, level: int, text: str) -> None:
        self.partial += text
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
    code = quantize_model(source, output, ftype=ftype, allow_requantize=allow_requantize,
                          n_threads=n_threads, overrides=overrides, log=reader.feed)
    if code != 0:
        raise QuantizeFailed(reader.reason())
