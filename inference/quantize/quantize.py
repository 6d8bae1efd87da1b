"""Quantized variants of a GGUF, made by llama.cpp's own `llama_model_quantize`.

`llama_model_quantize` has neither a progress callback nor an abort, so each file is made in a
spawned child process (`host.jobs`): the child reads llama.cpp's log ("[ 12/ 236] blk.0.attn_k…"
once per tensor) and reports progress from it; cancelling kills the child and removes the
partial file. The output is written as `<name>.partial` and renamed only when complete.

Refusals, before any work:
* a type that needs an importance matrix (see `quant_types`): Parley has no imatrix step;
* a source that is already quantized, unless `allow_requantize` (quality is lost twice);
  a requantized file carries `parley.requantized_from = <source type>` in its metadata and
  its result says so;
* a float source whose precision is not above the target's (F16 → F16, F16 → F32);
* the source's own type (any source): there would be nothing to do.
With `allow_requantize`, a target *more* precise than a quantized source is made (a ladder's
reference, say) but flagged `upcast`: the file grows and gains no quality over its source.

An output that already exists is refused unless `overwrite`; a ladder with `reuse_existing`
keeps an existing file instead when its header says it is that very variant (same type, made
from a source of the same type, same architecture, newer than the source) and says so
(`reused`), and refuses, naming the difference, when it is something else.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from inference.common.cancel import CancelToken
from inference.common.errors import Cancelled, ParleyError
from inference.gguf.file import read_gguf
from inference.host.jobs import run_in_child
from inference.quantize.child import REQUANTIZED_KEY, QuantizeFailed, quantize_in_child
from inference.quantize.quant_types import QuantType, base_name, quant_type, source_type


class QuantizeError(ParleyError):
    """The file cannot be made as asked; the message says why."""


class ImatrixRequiredError(QuantizeError):
    pass


class RequantizeRefusedError(QuantizeError):
    pass


@dataclass(frozen=True)
class QuantizePlan:
    source: Path
    output: Path
    target: QuantType
    source_quant: str          # the source's type label, e.g. "Q4_K_M" or "F16"
    requantize: bool           # the source is already quantized
    upcast: bool               # the target is more precise than a quantized source
    notes: tuple[str, ...]


@dataclass(frozen=True)
class QuantizeProgress:
    target: str
    job: int                   # 1-based index among the jobs of a ladder
    jobs: int
    tensors_done: int
    tensors_total: int         # 0 until llama.cpp's first tensor line
    tensor: str

    @property
    def fraction(self) -> float:
        return self.tensors_done / self.tensors_total if self.tensors_total else 0.0


@dataclass(frozen=True)
class QuantizeResult:
    source: Path
    output: Path
    quant: str
    source_quant: str
    requantized: bool
    upcast: bool
    file_size: int
    bits_per_weight: float
    seconds: float
    notes: tuple[str, ...]
    reused: bool = False       # an existing file of this very variant was kept, not remade

    def to_dict(self) -> dict[str, Any]:
        return {"source": str(self.source), "output": str(self.output), "quant": self.quant,
                "source_quant": self.source_quant, "requantized": self.requantized,
                "upcast": self.upcast, "file_size": self.file_size,
                "bits_per_weight": round(self.bits_per_weight, 4), "seconds": self.seconds,
                "notes": list(self.notes), "reused": self.reused}


ProgressCallback = Callable[[QuantizeProgress], None]


def output_path(source: Path, target: QuantType, out_dir: Path | None = None) -> Path:
    """`<out_dir or source's folder>/<source name without its quant>-<TYPE>.gguf`."""
    folder = out_dir if out_dir is not None else source.parent
    return folder / f"{base_name(source.stem)}-{target.name}.gguf"


def plan_quantize(source: Path, target: QuantType | str, *, out_dir: Path | None = None,
                  allow_requantize: bool = False, overwrite: bool = False) -> QuantizePlan:
    """Check that `source` can become `target`; raise a QuantizeError that says why not."""
    q = quant_type(target) if isinstance(target, str) else target
    info = read_gguf(source)
    src_label = info.quant
    src_type = source_type(src_label)
    if q.needs_imatrix:
        raise ImatrixRequiredError(
            f"{q.name} needs an importance matrix (imatrix), which Parley cannot compute; "
            "llama.cpp refuses it without one. Choose a type such as Q2_K, Q3_K_S, IQ3_S, "
            "IQ4_XS or higher instead.")
    if src_type is not None and src_type.name == q.name:
        raise RequantizeRefusedError(f"{source.name} is already {q.name}; nothing to do.")
    requantize = src_type is None or not src_type.is_float
    notes: list[str] = []
    upcast = False
    if requantize and not allow_requantize:
        raise RequantizeRefusedError(
            f"{source.name} is already quantized ({src_label}); quantizing it again to {q.name} "
            "loses quality twice. Start from an F16/BF16/F32 file, or allow requantizing "
            "(--allow-requantize) to do it anyway.")
    if src_type is not None and src_type.is_float and q.approx_bpw >= src_type.approx_bpw:
        raise RequantizeRefusedError(
            f"{source.name} is {src_label}; {q.name} is not lower precision, so there is "
            "nothing to gain.")
    if requantize:
        notes.append(f"requantized from {src_label}: errors of both quantizations add up")
        if src_type is not None and q.approx_bpw > src_type.approx_bpw:
            upcast = True
            notes.append(f"{q.name} is more precise than the source's {src_label}: the file "
                         "grows but cannot be better than its source")
    output = output_path(source, q, out_dir)
    if output.resolve() == source.resolve():
        raise QuantizeError(f"the output would overwrite the source ({output})")
    if output.exists() and not overwrite:
        raise QuantizeError(f"{output} already exists (pass overwrite / --force to replace it)")
    return QuantizePlan(source, output, q, src_label, requantize, upcast, tuple(notes))


def quantize(plan: QuantizePlan, *, n_threads: int = 0,
             progress: ProgressCallback | None = None, cancel: CancelToken | None = None,
             job: int = 1, jobs: int = 1) -> QuantizeResult:
    """Make the planned file; `Cancelled` (partial file removed) when `cancel` fires."""
    plan.output.parent.mkdir(parents=True, exist_ok=True)
    partial = plan.output.with_name(plan.output.name + ".partial")
    overrides = ((REQUANTIZED_KEY, plan.source_quant[:120]),) if plan.requantize else ()
    started = time.perf_counter()

    def on_message(message: tuple[int, int, str]) -> None:
        if progress is not None:
            done, total, tensor = message
            progress(QuantizeProgress(plan.target.name, job, jobs, done, total, tensor))

    if progress is not None:
        progress(QuantizeProgress(plan.target.name, job, jobs, 0, 0, ""))
    try:
        run_in_child(quantize_in_child, str(plan.source), str(partial), plan.target.ftype,
                     plan.requantize, n_threads, overrides, on_message=on_message,
                     cancel=cancel, what=f"{plan.target.name} quantization")
        os.replace(partial, plan.output)
    except QuantizeFailed as exc:
        raise _explain(plan, str(exc)) from None
    finally:
        partial.unlink(missing_ok=True)
    info = read_gguf(plan.output)
    return QuantizeResult(plan.source, plan.output, plan.target.name, plan.source_quant,
                          plan.requantize, plan.upcast, info.file_size, info.bits_per_weight,
                          time.perf_counter() - started, plan.notes)


def quantize_ladder(source: Path, targets: Sequence[QuantType | str], *,
                    out_dir: Path | None = None, allow_requantize: bool = False,
                    overwrite: bool = False, reuse_existing: bool = False, n_threads: int = 0,
                    progress: ProgressCallback | None = None,
                    cancel: CancelToken | None = None) -> tuple[QuantizeResult, ...]:
    """Every target from one source; all are checked before the first file is started.

    `reuse_existing` (ignored with `overwrite`): keep an existing output that is the very
    variant asked for (`reuse`); an existing file that is something else is refused."""
    plans = [plan_quantize(source, t, out_dir=out_dir, allow_requantize=allow_requantize,
                           overwrite=overwrite or reuse_existing) for t in targets]
    kept = [reuse(p) if reuse_existing and not overwrite and p.output.exists() else None
            for p in plans]
    results = []
    for i, (plan, existing) in enumerate(zip(plans, kept, strict=True), 1):
        if cancel is not None and cancel.cancelled:
            raise Cancelled("quantization cancelled")
        results.append(existing or quantize(plan, n_threads=n_threads, progress=progress,
                                            cancel=cancel, job=i, jobs=len(plans)))
    return tuple(results)


def reuse(plan: QuantizePlan) -> QuantizeResult:
    """The planned output, already on disk, as a result (`reused`); QuantizeError naming the
    difference when the file there is not what the plan would make."""
    out = plan.output
    try:
        info = read_gguf(out)
        source = read_gguf(plan.source)
        newer = out.stat().st_mtime >= plan.source.stat().st_mtime
    except (OSError, ParleyError) as exc:
        raise QuantizeError(f"{out} already exists but cannot be read ({exc}); remove it to "
                            f"make a new {plan.target.name} file") from None
    origin = info.metadata.get(REQUANTIZED_KEY)
    wanted = plan.source_quant[:120] if plan.requantize else None
    problem = None
    if info.quant != plan.target.name:
        problem = f"it is {info.quant}, not {plan.target.name}"
    elif info.architecture != source.architecture:
        problem = f"it is a {info.architecture} model, the source is {source.architecture}"
    elif (str(origin) if origin else None) != wanted:
        problem = (f"it was made from a {origin} file, not from {plan.source_quant}" if origin
                   else f"it was not made from a {plan.source_quant} file")
    elif not newer:
        problem = f"it is older than {plan.source.name}"
    if problem is not None:
        raise QuantizeError(f"{out} already exists but {problem}; remove it (or replace it) to "
                            f"make a new {plan.target.name} file")
    notes = (f"kept the existing {out.name} (already {plan.target.name} from "
             f"{plan.source_quant})", *plan.notes)
    return QuantizeResult(plan.source, out, plan.target.name, plan.source_quant,
                          plan.requantize, plan.upcast, info.file_size, info.bits_per_weight,
                          0.0, notes, reused=True)


def _explain(plan: QuantizePlan, reason: str) -> QuantizeError:
    if "imatrix" in reason or "importance matrix" in reason:
        return ImatrixRequiredError(f"{plan.target.name}: llama.cpp says this quantization "
                                    f"requires an importance matrix ({reason})")
    if "requantizing" in reason:
        return RequantizeRefusedError(f"{plan.target.name}: {reason}")
    return QuantizeError(f"llama.cpp could not quantize {plan.source.name} to "
                         f"{plan.target.name}: {reason}")
