"""Quant comparison: N GGUF files of one model, one text → quality, size, memory and speed.

Per file: quant type, bits per weight, file size, load time, peak RSS (and VRAM on a GPU),
perplexity ± SE (llama-perplexity's chunks, docs/ARCHITECTURE.md § Figures), pp/tg speeds
(llama-bench's tests,
`bench`), and against the reference — the most precise file (`precision_key`: a requantized
file counts no more precise than its source) unless the caller picks one — mean KLD ± SE,
its 99th percentile and maximum, "same top token" % and mean Δp of the correct token (%),
computed exactly as `llama-perplexity --kl-divergence` does (`kld`).

Files are checked first (same architecture, same vocabulary: `compare.checks`). The reference
runs first and streams its quantized log-probs to a temporary file; each file, the reference
itself included (its row is measured: KLD ≈ 0, same top 100 %), is scored against that file
chunk by chunk, so no two models' logits are ever held at once. With
`isolate` (the default) every file is measured in its own spawned process: its peak RSS is its
own, a native crash fails that one comparison cleanly, and cancel stops it at once.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from inference.common.cancel import CancelToken
from inference.common.errors import Cancelled, InvalidSettingError, ParleyError
from inference.compare.checks import check_same_model
from inference.compare.evaluate import (
    FileJob,
    FileMeasurement,
    SpeedSettings,
    measure_file,
    measure_in_child,
)
from inference.compare.result import CompareResult, FileRow
from inference.engine.config import default_threads
from inference.gguf.file import GGUFInfo, read_gguf
from inference.host.jobs import run_in_child
from inference.quantize.child import REQUANTIZED_KEY
from inference.quantize.quant_types import source_type

__all__ = ["CompareProgress", "CompareResult", "CompareSettings", "FileRow", "SpeedSettings",
           "compare_files", "pick_reference"]


@dataclass(frozen=True)
class CompareSettings:
    n_ctx: int = 512
    n_batch: int = 2048
    threads: int = 0                    # 0 = physical cores
    gpu_layers: int = 0
    speed: SpeedSettings | None = SpeedSettings()   # None: skip pp/tg
    isolate: bool = True                # each file in its own child process
    temp_dir: Path | None = None        # where the reference's log-probs go (system temp)

    def to_dict(self) -> dict[str, Any]:
        return {"n_ctx": self.n_ctx, "n_batch": self.n_batch, "threads": self.n_threads,
                "gpu_layers": self.gpu_layers, "isolate": self.isolate,
                "speed": None if self.speed is None else {
                    "n_prompt": self.speed.n_prompt, "n_gen": self.speed.n_gen,
                    "reps": self.speed.reps}}

    @property
    def n_threads(self) -> int:
        return self.threads or default_threads()


@dataclass(frozen=True)
class CompareProgress:
    index: int                 # 0-based position of the file being measured (run order)
    total: int
    file: str
    stage: str                 # "load" | "eval" | "speed" | "done"
    fraction: float            # of this stage (0…1); 1.0 when done
    detail: str = ""
    eta_s: float | None = None  # seconds left for the whole comparison (None: not known yet)

    @property
    def overall(self) -> float:
        weight = {"load": 0.0, "eval": 0.1, "speed": 0.9, "done": 1.0}[self.stage]
        within = self.fraction * (0.1 if self.stage == "load" else 0.8)
        return min(1.0, (self.index + weight + (within if self.stage != "done" else 0))
                   / self.total)


ProgressCallback = Callable[[CompareProgress], None]
ETA_FROM = 0.02                # no estimate before this much of the comparison is done


def estimate_eta(elapsed_s: float, overall: float) -> float | None:
    """Seconds left, extrapolating the time so far over the fraction done (None if too early)."""
    if overall < ETA_FROM:
        return None
    return max(0.0, elapsed_s * (1.0 - overall) / overall)


def precision_key(info: GGUFInfo) -> tuple[float, bool, float]:
    """How precise a file really is: its type's nominal bits per weight, capped by the type it
    was requantized from (a Q8_0 made from a Q4_K_M holds no more than the Q4_K_M); ties go to
    the file that was not requantized, then to the larger measured bits per weight."""
    own = source_type(info.quant)
    nominal = own.approx_bpw if own is not None else info.bits_per_weight
    origin = info.metadata.get(REQUANTIZED_KEY)
    origin_type = source_type(str(origin)) if origin else None
    if origin_type is not None:
        nominal = min(nominal, origin_type.approx_bpw)
    return nominal, not origin, info.bits_per_weight


def pick_reference(infos: Sequence[GGUFInfo], reference: str | Path | None = None) -> int:
    """Index of the reference: the named file, else the most precise one (`precision_key`)."""
    if reference is None:
        return max(range(len(infos)), key=lambda i: precision_key(infos[i]))
    wanted = Path(reference)
    for i, info in enumerate(infos):
        if info.path == wanted or info.path.resolve() == wanted.resolve():
            return i
    for i, info in enumerate(infos):
        if info.path.name == wanted.name:
            return i
    raise InvalidSettingError(f"the reference {wanted} is not one of the compared files")


def compare_files(paths: Sequence[str | Path], text: str, *, reference: str | Path | None = None,
                  settings: CompareSettings = CompareSettings(),
                  progress: ProgressCallback | None = None,
                  cancel: CancelToken | None = None) -> CompareResult:
    """Measure every file on `text`; rows come back in the order the files were given."""
    if len(paths) < 1:
        raise InvalidSettingError("give at least one GGUF file to compare")
    if settings.n_ctx < 16 or settings.n_batch < 1:
        raise InvalidSettingError(f"context must be ≥ 16 tokens (got {settings.n_ctx})")
    if not text.strip():
        raise ParleyError("The text is empty. Give a text to measure the files on.")
    infos = [read_gguf(Path(p)) for p in paths]
    if len({i.path.resolve() for i in infos}) != len(infos):
        raise InvalidSettingError("a file is listed twice")
    check_same_model(infos)
    ref = pick_reference(infos, reference)
    order = [ref] + [i for i in range(len(infos)) if i != ref]
    started = time.perf_counter()
    measured: dict[int, FileMeasurement] = {}
    try:
        with tempfile.TemporaryDirectory(prefix="parley-compare-",
                                         dir=settings.temp_dir) as tmp:
            logprobs = str(Path(tmp) / "reference.kld")
            for step, i in enumerate(order):
                if cancel is not None and cancel.cancelled:
                    raise Cancelled("comparison cancelled")
                job = FileJob(path=str(infos[i].path), logprob_file=logprobs,
                              text=text if i == ref else None, n_ctx=settings.n_ctx,
                              n_batch=settings.n_batch, n_threads=settings.n_threads,
                              gpu_layers=settings.gpu_layers, speed=settings.speed)
                measured[i] = _measure(job, settings.isolate, _Where(step, len(order),
                                       infos[i].path.name, started), progress, cancel)
    except Cancelled as exc:
        partial = _result(infos, ref, measured, settings, started) if ref in measured else None
        raise ComparisonCancelled(str(exc), partial) from None
    return _result(infos, ref, measured, settings, started)


class ComparisonCancelled(Cancelled):
    """A comparison cancelled midway; `partial` holds the files measured before the cancel
    (None when the reference itself was not finished)."""

    def __init__(self, message: str, partial: CompareResult | None) -> None:
        super().__init__(message)
        self.partial = partial

    def __reduce__(self) -> tuple[Any, ...]:      # crosses process boundaries whole
        return (type(self), (str(self), self.partial))


def _result(infos: Sequence[GGUFInfo], ref: int, measured: dict[int, FileMeasurement],
            settings: CompareSettings, started: float) -> CompareResult:
    """The rows of the measured files, in the order the files were given."""
    ref_m = measured[ref]
    rows = tuple(_row(info, measured[i], i == ref, ref_m) for i, info in enumerate(infos)
                 if i in measured)
    return CompareResult(reference=infos[ref].path.name, rows=rows, n_ctx=settings.n_ctx,
                         tokens=ref_m.tokens_total, chunks=ref_m.chunks,
                         tokens_scored=ref_m.tokens_scored,
                         seconds=time.perf_counter() - started, settings=settings.to_dict(),
                         files_asked=len(infos))


@dataclass(frozen=True)
class _Where:
    step: int
    total: int
    name: str
    started: float            # perf_counter() when the comparison began


def _measure(job: FileJob, isolate: bool, where: _Where, progress: ProgressCallback | None,
             cancel: CancelToken | None) -> FileMeasurement:
    def report(stage: str, fraction: float, detail: str = "") -> None:
        if progress is None:
            return
        p = CompareProgress(where.step, where.total, where.name, stage, fraction, detail)
        progress(replace(p, eta_s=estimate_eta(time.perf_counter() - where.started,
                                               p.overall)))

    def on_message(message: tuple[str, Any]) -> None:
        stage, value = message
        if stage == "speed":
            report(stage, 0.0, str(value))
        else:
            report(stage, float(value))

    name = where.name
    if isolate:
        result = run_in_child(measure_in_child, job, on_message=on_message, cancel=cancel,
                              what=f"comparison of {name}")
    else:
        result = measure_file(job, on_message, cancel)
    report("done", 1.0)
    return result


def _row(info: GGUFInfo, m: FileMeasurement, is_ref: bool, ref: FileMeasurement) -> FileRow:
    """Every figure as measured; the reference's KLD row is its own logits against its stored
    log-probs (≈ 0, not written in)."""
    requant = info.metadata.get(REQUANTIZED_KEY)
    k = m.kld
    return FileRow(
        file=info.path.name, path=str(info.path), quant=info.quant,
        bits_per_weight=info.bits_per_weight, file_size=info.file_size,
        requantized_from=str(requant) if requant else None, is_reference=is_ref,
        load_seconds=m.load_seconds, eval_seconds=m.eval_seconds, peak_rss=m.peak_rss,
        vram_bytes=m.vram_bytes, ppl=m.ppl, ppl_se=m.ppl_se,
        kld_mean=k.kld_mean, kld_se=k.kld_se, kld_median=k.kld_median, kld_p99=k.kld_p99,
        kld_max=k.kld_max, same_top=100.0 * k.same_top, same_top_se=100.0 * k.same_top_se,
        dp_mean=100.0 * k.dp_mean, dp_se=100.0 * k.dp_se, dp_rms=100.0 * k.dp_rms,
        ppl_ratio=m.ppl / ref.ppl,
        pp_tps=m.pp_tps, pp_std=m.pp_std, tg_tps=m.tg_tps, tg_std=m.tg_std)
