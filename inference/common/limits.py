"""The bounds of every whole-number setting that reaches llama.cpp, in one table.

ModelConfig, perplexity, the benchmark, the CLI's flags and the GUI's fields all check against
`LIMITS`, so a value C would wrap (4294967312 is 16 in a 32-bit int) never gets that far, and every
refusal is the same one line: "<setting> must be between <low> and <high>, got <value>".
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

from inference.common.errors import InvalidSettingError

MAX_CTX = 1 << 20          # tokens; far beyond any model's trained context
MAX_BATCH = 1 << 16        # tokens in one llama_batch (llama_batch_init allocates this many)
MAX_THREADS = 1024         # as generate always had; ggml wraps its thread masks past 512
MAX_GPU_LAYERS = 100_000   # -1 = all layers; llama.cpp clamps to the model's own count
MAX_SEQ = 256              # llama.cpp's LLAMA_MAX_SEQ: sequences one context may hold


@dataclass(frozen=True)
class IntLimit:
    """An inclusive range of whole numbers, with the setting's name as people read it."""

    label: str
    low: int
    high: int

    def describe(self) -> str:
        return f"between {self.low} and {self.high}"

    def check(self, value: object) -> int:
        """`value` when it is a whole number inside the range, else one InvalidSettingError."""
        if isinstance(value, bool) or not isinstance(value, int):
            raise InvalidSettingError(f"{self.label} must be a whole number, got {value!r}")
        if not self.low <= value <= self.high:
            raise InvalidSettingError(
                f"{self.label} must be {self.describe()}, got {value}")
        return value


LIMITS: Mapping[str, IntLimit] = MappingProxyType({
    "n_ctx": IntLimit("context size", 16, MAX_CTX),
    "n_gpu_layers": IntLimit("GPU layers", -1, MAX_GPU_LAYERS),
    "n_threads": IntLimit("threads", 0, MAX_THREADS),          # 0 = physical cores
    "n_batch": IntLimit("batch size", 1, MAX_BATCH),
    "n_ubatch": IntLimit("micro-batch size", 1, MAX_BATCH),
    "n_parallel": IntLimit("parallel slots", 1, MAX_SEQ),        # sequences served at once
    "n_prompt": IntLimit("prompt tokens", 1, MAX_CTX),         # bench -p
    "n_gen": IntLimit("generated tokens", 1, MAX_CTX),         # bench -n
    "repetitions": IntLimit("repetitions", 1, 1000),           # bench -r
})


def check(name: str, value: object) -> int:
    """`value` checked against LIMITS[name] (see IntLimit.check)."""
    return LIMITS[name].check(value)


def usable_cores() -> int:
    """CPU cores this process may run on (its affinity where the platform says, at least 1)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):       # macOS, Windows
        return max(1, os.cpu_count() or 1)


def thread_warning(n_threads: int, cores: int | None = None) -> str | None:
    """The warning for asking more threads than the machine has cores (None when it does not):
    llama.cpp's threads then wait on one another, and generation crawls."""
    cores = usable_cores() if cores is None else cores
    if n_threads <= cores:
        return None
    return (f"{n_threads} threads is more than the {cores} CPU cores this machine has; "
            f"llama.cpp runs much slower with more threads than cores "
            f"(use {cores} or fewer, or 0 for the default).")
