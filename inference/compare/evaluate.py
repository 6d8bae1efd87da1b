"""One file of a comparison, measured (normally inside its own child process, see `compare`).

The reference file tokenizes the text, evaluates llama.cpp's perplexity chunks and streams its
quantized log-probs to the comparison's temporary file (llama.cpp's `--kl-divergence-base`
format, see `kld`); every other file evaluates the very tokens stored in that file and scores
each chunk against the stored rows as soon as the chunk's logits exist. The reference is scored
the same way against the rows it has just written, read back from the file: its row of the
table (KLD ≈ 0, same top 100 %) is measured, not assumed, and checks the file round trip.
Only one chunk's logits (and a few MB of scratch) are ever held; the stored rows are read one
chunk at a time.
"""

from __future__ import annotations

import random
import shutil
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from inference.bench.memory import peak_rss_bytes, process_rss
from inference.bench.throughput import BenchSettings, bench_generation, bench_prompt
from inference.common.cancel import CancelToken
from inference.common.errors import ParleyError
from inference.llama.native import NativeContext, NativeModel, build_info
from inference.memory.probes import MemoryProbe
from inference.perplexity.kld import (
    KldStats,
    KldTotals,
    LogProbReader,
    LogProbWriter,
    encode_rows,
    row_width,
)
from inference.perplexity.kld import scored_rows as rows_per_chunk
from inference.perplexity.measure import TextTooShortError, chunk_windows
from inference.perplexity.run import RowsCallback, RunTotals, Window, evaluate_windows
from inference.perplexity.scoring import RowNormalizers

Emit = Callable[[Any], None]
UBATCH = 512


@dataclass(frozen=True)
class SpeedSettings:
    n_prompt: int = 512
    n_gen: int = 128
    reps: int = 3


@dataclass(frozen=True)
class FileJob:
    path: str
    logprob_file: str              # written by the reference, read by the others
    text: str | None               # the reference only: the text to tokenize
    n_ctx: int
    n_batch: int
    n_threads: int
    gpu_layers: int = 0
    speed: SpeedSettings | None = None


@dataclass(frozen=True)
class FileMeasurement:
    load_seconds: float
    eval_seconds: float
    rss_before_load: int
    peak_rss: int | None
    vram_bytes: int | None
    vram_note: str
    ppl: float
    ppl_se: float
    tokens_total: int
    tokens_scored: int
    chunks: int
    kld: KldStats                  # against the reference's stored log-probs (itself too)
    pp_tps: float | None = None
    pp_std: float | None = None
    tg_tps: float | None = None
    tg_std: float | None = None


def measure_file(job: FileJob, emit: Emit, cancel: CancelToken | None = None) -> FileMeasurement:
    """Load, score against / for the reference, optionally time pp/tg; `emit` reports stages."""
    rss_before = process_rss()
    build = build_info()
    on_gpu = job.gpu_layers != 0 and build.gpu_offload
    emit(("load", 0.0))
    sent = [0.0]

    def on_load(fraction: float) -> None:
        if fraction - sent[0] >= 0.05 or fraction >= 1.0:
            sent[0] = fraction
            emit(("load", fraction))

    started = time.perf_counter()
    model = NativeModel(Path(job.path), n_gpu_layers=job.gpu_layers, progress=on_load,
                        cancel=cancel)
    load_seconds = time.perf_counter() - started
    probe = MemoryProbe(gpu_offload=on_gpu, backend=build.backend)
    try:
        vram = [_vram(probe)]
        started = time.perf_counter()
        scored = _score_file(model, job, emit, cancel)
        eval_seconds = time.perf_counter() - started
        vram.append(_vram(probe))
        speed = _speed(model, job, emit) if job.speed is not None else None
        vram.append(_vram(probe))
        _, note = probe.gpu_memory()
    finally:
        probe.close()
        model.close()
    run, kld, tokens_total, chunks = scored
    ppl, ppl_se = run.ppl_and_se()
    known = [v for v in vram if v is not None]
    return FileMeasurement(
        load_seconds=load_seconds, eval_seconds=eval_seconds, rss_before_load=rss_before,
        peak_rss=peak_rss_bytes(), vram_bytes=max(known) if known else None, vram_note=note,
        ppl=ppl, ppl_se=ppl_se, tokens_total=tokens_total,
        tokens_scored=run.count, chunks=chunks, kld=kld,
        pp_tps=speed[0] if speed else None, pp_std=speed[1] if speed else None,
        tg_tps=speed[2] if speed else None, tg_std=speed[3] if speed else None)


def measure_in_child(job: FileJob, emit: Emit) -> FileMeasurement:
    """`host.jobs` target (a child is stopped by killing it, so it needs no cancel token)."""
    return measure_file(job, emit)


def _vram(probe: MemoryProbe) -> int | None:
    gpu, _ = probe.gpu_memory()
    return gpu.used_by_process_bytes if gpu is not None else None


def _score_file(model: NativeModel, job: FileJob, emit: Emit, cancel: CancelToken | None
                ) -> tuple[RunTotals, KldStats, int, int]:
    bos = model.bos if model.add_bos else None
    path = Path(job.logprob_file)
    if job.text is not None:
        tokens = model.tokenize(job.text, add_special=True, parse_special=False)
        _check_length(len(tokens), job.n_ctx)
        _check_disk(path, len(tokens) // job.n_ctx, job.n_ctx, model.n_vocab)
        array = np.asarray(tokens, dtype=np.int32)
        writer = LogProbWriter(path, job.n_ctx, model.n_vocab, array)
        writer.flush()
        own = LogProbReader(path)
        totals = KldTotals()
        try:
            def store(_window: Window, _t_lo: int, logits: np.ndarray, targets: np.ndarray,
                      norm: RowNormalizers) -> None:
                writer.write(encode_rows(logits, norm))
                totals.add(logits, own.read(len(targets)), targets, norm)

            run, chunks = _run(model, job, chunk_windows(array, job.n_ctx, bos), store, emit,
                               cancel)
        finally:
            own.close()
            writer.close()
        return run, totals.stats(), len(tokens), chunks
    reader = LogProbReader(path)
    try:
        if reader.n_vocab != model.n_vocab or reader.n_ctx != job.n_ctx:
            raise ParleyError(f"the reference log-probs ({reader.n_vocab} tokens, n_ctx "
                              f"{reader.n_ctx}) do not fit this model ({model.n_vocab} tokens, "
                              f"n_ctx {job.n_ctx})")
        totals = KldTotals()

        def compare(_window: Window, _t_lo: int, logits: np.ndarray, targets: np.ndarray,
                    norm: RowNormalizers) -> None:
            totals.add(logits, reader.read(len(targets)), targets, norm)

        run, chunks = _run(model, job, chunk_windows(reader.tokens, job.n_ctx, bos), compare,
                           emit, cancel)
        n_text = int(reader.tokens.size)
    finally:
        reader.close()
    return run, totals.stats(), n_text, chunks


def _run(model: NativeModel, job: FileJob, chunks: Iterable[Window], on_rows: RowsCallback,
         emit: Emit, cancel: CancelToken | None) -> tuple[RunTotals, int]:
    """Evaluate the chunks (as llama-perplexity batches them); returns the totals and chunks."""
    windows = list(chunks)
    n_seq = max(1, min(job.n_batch // job.n_ctx, len(windows)))   # as llama-perplexity
    n_batch = min(job.n_batch, n_seq * job.n_ctx)
    ctx = NativeContext(model, n_ctx=n_seq * job.n_ctx, n_batch=n_batch,
                        n_ubatch=min(UBATCH, n_batch), n_threads=job.n_threads,
                        flash_attn="auto", n_seq_max=n_seq)
    try:
        ctx.set_abort(cancel)
        run = evaluate_windows(ctx, windows, n_seq=n_seq, piece=min(n_batch, job.n_ctx),
                               progress=lambda done, total, _eta: emit(("eval", done / total)),
                               cancel=cancel, on_rows=on_rows)
    finally:
        ctx.set_abort(None)
        ctx.close()
    return run, len(windows)


def _speed(model: NativeModel, job: FileJob, emit: Emit) -> tuple[float, float, float, float]:
    assert job.speed is not None
    s = BenchSettings(model=Path(job.path), threads=job.n_threads, n_prompt=job.speed.n_prompt,
                      n_gen=job.speed.n_gen, reps=job.speed.reps, gpu_layers=job.gpu_layers,
                      chat=False)
    rng = random.Random(s.seed)
    emit(("speed", f"pp{s.n_prompt}"))
    pp = bench_prompt(model, s, rng)
    emit(("speed", f"tg{s.n_gen}"))
    tg = bench_generation(model, s, rng)
    return pp.mean, pp.std, tg.mean, tg.std


def _check_length(n_tokens: int, n_ctx: int) -> None:
    if n_tokens < 2 * n_ctx:
        hint = (f"or a context of at most {n_tokens // 2} tokens (--ctx {n_tokens // 2})"
                if n_tokens // 2 >= 16 else "")
        raise TextTooShortError(
            f"Comparing with a context of {n_ctx} needs a text of at least {2 * n_ctx} tokens "
            f"(llama-perplexity's chunks), but this one has only {n_tokens}. Use a longer text "
            f"{hint}".rstrip() + ".")


def _check_disk(path: Path, n_chunk: int, n_ctx: int, n_vocab: int) -> None:
    need = 20 + 4 * n_chunk * n_ctx + 2 * n_chunk * rows_per_chunk(n_ctx) * row_width(n_vocab)
    free = shutil.disk_usage(path.parent).free
    if need > free * 0.95:
        raise ParleyError(
            f"The reference's log-probabilities need {need / 2**30:.2f} GiB of temporary disk "
            f"space in {path.parent}, but only {free / 2**30:.2f} GiB is free. Use a shorter "
            "text or another folder for temporary files.")
