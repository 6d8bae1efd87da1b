"""Where the engine process's memory goes: llama.cpp's own buffers (from its log) vs the rest.

llama.cpp logs every buffer it allocates ("CPU_Mapped model buffer size = 241.63 MiB",
"CPU KV buffer size = …", "CPU compute buffer size = …", "CPU output buffer size = …").
Resident memory is then split:

* `rss_before_load_bytes`: the process before any model is loaded: the Python interpreter,
  Parley's modules, llama_cpp and its shared libraries. This is the engine's own overhead.
* `model_mapped_rss_bytes`: resident pages of the GGUF's mapping, read from the process's memory
  maps (exact: untouched pages of a mapping cost no RAM, so it can be below the log's figure).
* `grown_bytes` = RSS − before − mapped: what loading and running added besides the mapping —
  llama.cpp's anonymous buffers *as far as they are touched* plus any Python allocations.
  llama.cpp reserves its compute buffer for the worst case (e.g. 512 logits rows × the
  vocabulary); pages never written stay virtual, so this is below the declared sum.

The comparison that isolates Parley's cost is `peak_rss_bytes` against llama-bench's peak RSS for
the same tests (tests/perf/run_bench.py measures both).
"""

from __future__ import annotations

import contextlib
import logging
import re
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import psutil

MIB = 1024 * 1024
_BUFFER_RE = re.compile(
    r"(?P<device>\S+)\s+(?P<kind>model|KV|output|compute) buffer size\s*=\s*(?P<mib>[\d.]+) MiB")
_NATIVE_LOGGER = "parley.llama_cpp"


@dataclass(frozen=True)
class BufferLine:
    device: str           # e.g. "CPU_Mapped", "CPU_REPACK", "CPU", "CUDA0"
    kind: str             # "model" | "KV" | "output" | "compute"
    bytes: int

    @property
    def mapped(self) -> bool:
        """A view of the mmap'd file, not an allocation of its own."""
        return "Mapped" in self.device


def parse_buffers(lines: list[str]) -> tuple[BufferLine, ...]:
    found = []
    for line in lines:
        match = _BUFFER_RE.search(line)
        if match:
            found.append(BufferLine(match["device"], match["kind"],
                                    int(float(match["mib"]) * MIB)))
    return tuple(found)


class _ListHandler(logging.Handler):
    def __init__(self, sink: list[str]) -> None:
        super().__init__(logging.INFO)
        self.sink = sink

    def emit(self, record: logging.LogRecord) -> None:
        self.sink.append(record.getMessage())


@contextlib.contextmanager
def capture_native_log() -> Iterator[list[str]]:
    """Collect llama.cpp's INFO-and-above log lines (forwarded by NATIVE_LOG) while inside."""
    logger = logging.getLogger(_NATIVE_LOGGER)
    lines: list[str] = []
    handler = _ListHandler(lines)
    old_level = logger.level
    if logger.getEffectiveLevel() > logging.INFO:
        logger.setLevel(logging.INFO)
    logger.addHandler(handler)
    try:
        yield lines
    finally:
        logger.removeHandler(handler)
        logger.setLevel(old_level)


def process_rss(pid: int | None = None) -> int:
    return int(psutil.Process(pid).memory_info().rss)


def mapped_file_rss(path: Path, pid: int | None = None) -> int | None:
    """Resident bytes of `path`'s mappings in the process, or None where the OS won't say."""
    target = str(Path(path).resolve())
    try:
        maps = psutil.Process(pid).memory_maps(grouped=True)
    except (psutil.Error, NotImplementedError, OSError):
        return None
    return sum(int(m.rss) for m in maps if getattr(m, "path", "") == target)


@dataclass(frozen=True)
class MemoryReport:
    """The engine process's memory with a model loaded and one reply generated."""

    n_ctx: int
    rss_before_load_bytes: int        # interpreter + imports, no model
    rss_bytes: int                    # after load + one generation
    model_mapped_rss_bytes: int | None    # resident pages of the GGUF mapping
    llama_buffers: tuple[BufferLine, ...]
    peak_rss_bytes: int | None = None     # ru_maxrss of the process (pp/tg benchmarks only)

    @property
    def allocated_buffer_bytes(self) -> int:
        """KV + compute + output + repacked weights: what llama.cpp allocates itself."""
        return sum(b.bytes for b in self.llama_buffers if not b.mapped)

    @property
    def grown_bytes(self) -> int | None:
        """RSS added since before the load, beyond the model file's resident mapping."""
        if self.model_mapped_rss_bytes is None:
            return None
        return self.rss_bytes - self.rss_before_load_bytes - self.model_mapped_rss_bytes

    def by_kind(self) -> dict[str, int]:
        totals: dict[str, int] = {}
        for b in self.llama_buffers:
            key = f"{b.kind} ({b.device})"
            totals[key] = totals.get(key, 0) + b.bytes
        return totals

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["llama_buffers"] = self.by_kind()
        data["allocated_buffer_bytes"] = self.allocated_buffer_bytes
        data["grown_bytes"] = self.grown_bytes
        return data


def peak_rss_bytes() -> int | None:
    """This process's peak resident set so far (ru_maxrss), or None off POSIX."""
    try:
        import resource
        import sys
    except ImportError:
        return None
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return int(peak if sys.platform == "darwin" else peak * 1024)
