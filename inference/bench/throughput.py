"""`parley bench`: prefill and generation throughput measured exactly as llama-bench measures them,
plus a real chat turn (TTFT / TPOT) through the path the GUI uses.

What llama-bench (tools/llama-bench/llama-bench.cpp) times, and so what this times:

* **pp N** — a fresh context of n_ctx = N; N tokens (BOS, then random ids) evaluated from an
  empty cache in n_batch chunks, logits for the last token only, then synchronize.
* **tg N** — a fresh context of n_ctx = N; from an empty cache, N single-token decodes, each with
  logits, synchronize after each; the next token is a random id (no sampling).
* One untimed warm-up per test (a whole pp run; a one-token tg run); the cache is cleared
  outside the timed region before every repetition; tokens/s = mean ± sample std over the
  repetitions' per-run tokens/s.

The only deliberate difference: the random ids are drawn before the clock starts (llama-bench
draws them with std::rand() inside; a few hundred ns either way). The decodes themselves go through
Parley's own `NativeContext.decode`, so its Python/ctypes cost is part of the figure.
"""

from __future__ import annotations

import random
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from inference.bench.chat import ChatBench, run_chat_turns
from inference.bench.memory import (
    MemoryReport,
    capture_native_log,
    mapped_file_rss,
    parse_buffers,
    peak_rss_bytes,
    process_rss,
)
from inference.common.errors import ModelLoadError
from inference.engine.config import ModelConfig, default_threads
from inference.llama.native import NativeContext, NativeModel, build_info

Progress = Callable[[str], None]


@dataclass(frozen=True)
class BenchSettings:
    model: Path
    threads: int = 0               # 0 = physical cores (llama-bench's default too)
    n_prompt: int = 512
    n_gen: int = 128
    reps: int = 5
    n_batch: int = 2048
    n_ubatch: int = 512
    flash_attn: str = "auto"
    gpu_layers: int = 0
    chat_ctx: int = 4096           # context of the chat turn (the app's default)
    chat: bool = True              # also run the chat turn (TTFT / TPOT)
    prefer_host: bool = True       # chat turn through EngineHost when available
    warmup: bool = True
    seed: int = 42
    rpc_servers: tuple[str, ...] = ()   # llama.cpp rpc-servers holding the offloaded layers
    speculative: str = "off"       # the chat turn's speculative decoding (ModelConfig)
    draft_model: Path | None = None
    draft_max: int = ModelConfig.draft_max

    @property
    def n_threads(self) -> int:
        return self.threads or default_threads()


@dataclass(frozen=True)
class Throughput:
    """One llama-bench style test: wall time of each repetition for `n_tokens` tokens."""

    n_tokens: int
    samples_s: tuple[float, ...]

    @property
    def tps_samples(self) -> tuple[float, ...]:
        return tuple(self.n_tokens / s for s in self.samples_s if s > 0)

    @property
    def mean(self) -> float:
        return statistics.fmean(self.tps_samples) if self.tps_samples else 0.0

    @property
    def std(self) -> float:
        ts = self.tps_samples
        return statistics.stdev(ts) if len(ts) > 1 else 0.0


@dataclass(frozen=True)
class BenchResult:
    model: str
    threads: int
    n_prompt: int
    n_gen: int
    runs: int
    pp: Throughput
    tg: Throughput
    chat: ChatBench | None
    memory: MemoryReport | None
    build: dict[str, Any] = field(default_factory=dict)

    @property
    def pp_tps(self) -> float:
        return self.pp.mean

    @property
    def pp_std(self) -> float:
        return self.pp.std

    @property
    def tg_tps(self) -> float:
        return self.tg.mean

    @property
    def tg_std(self) -> float:
        return self.tg.std

    @property
    def ttft_s(self) -> float | None:
        return self.chat.ttft_median if self.chat else None

    @property
    def tpot_s(self) -> float | None:
        return self.chat.tpot_median if self.chat else None

    def to_dict(self) -> dict[str, Any]:
        return {
            "model": self.model, "threads": self.threads, "n_prompt": self.n_prompt,
            "n_gen": self.n_gen, "runs": self.runs,
            "pp_tps": self.pp_tps, "pp_std": self.pp_std,
            "tg_tps": self.tg_tps, "tg_std": self.tg_std,
            "ttft_s": self.ttft_s, "tpot_s": self.tpot_s,
            "pp_samples_s": list(self.pp.samples_s), "tg_samples_s": list(self.tg.samples_s),
            "chat": self.chat.to_dict() if self.chat else None,
            "memory": self.memory.to_dict() if self.memory else None,
            "build": self.build,
        }


# -- the two llama-bench tests ---------------------------------------------------------------
def _random_tokens(rng: random.Random, n: int, n_vocab: int, bos: int | None) -> list[int]:
    tokens = [rng.randrange(n_vocab) for _ in range(n)]
    if bos is not None and tokens:
        tokens[0] = bos
    return tokens


def time_prompt(ctx: NativeContext, tokens: list[int], n_batch: int) -> float:
    """Seconds to evaluate `tokens` from position 0 in n_batch chunks (cache must be empty)."""
    start = time.perf_counter_ns()
    for begin in range(0, len(tokens), n_batch):
        code = ctx.decode(tokens[begin:begin + n_batch], begin, logits="last")
        if code != 0:
            raise ModelLoadError(f"prompt batch failed at position {begin} (code {code})")
    ctx.synchronize()
    return (time.perf_counter_ns() - start) / 1e9


def time_generation(ctx: NativeContext, tokens: list[int]) -> float:
    """Seconds for len(tokens) single-token decodes from position 0 (cache must be empty)."""
    start = time.perf_counter_ns()
    for pos, token in enumerate(tokens):
        code = ctx.decode([token], pos)
        if code != 0:
            raise ModelLoadError(f"generation decode failed at position {pos} (code {code})")
        ctx.synchronize()
    return (time.perf_counter_ns() - start) / 1e9


def _context(model: NativeModel, s: BenchSettings, n_ctx: int) -> NativeContext:
    return NativeContext(model, n_ctx=n_ctx, n_batch=s.n_batch, n_ubatch=s.n_ubatch,
                         n_threads=s.n_threads, flash_attn=s.flash_attn)


def bench_prompt(model: NativeModel, s: BenchSettings, rng: random.Random) -> Throughput:
    bos = model.bos if model.add_bos else None
    ctx = _context(model, s, s.n_prompt)
    try:
        n_batch = min(s.n_batch, ctx.n_batch)
        if s.warmup:
            time_prompt(ctx, _random_tokens(rng, s.n_prompt, model.n_vocab, bos), n_batch)
        samples = []
        for _ in range(s.reps):
            ctx.clear()
            tokens = _random_tokens(rng, s.n_prompt, model.n_vocab, bos)
            samples.append(time_prompt(ctx, tokens, n_batch))
    finally:
        ctx.close()
    return Throughput(s.n_prompt, tuple(samples))


def bench_generation(model: NativeModel, s: BenchSettings, rng: random.Random) -> Throughput:
    bos = model.bos if model.add_bos else None
    ctx = _context(model, s, s.n_gen)
    try:
        if s.warmup:
            time_generation(ctx, _random_tokens(rng, 1, model.n_vocab, bos))
        samples = []
        for _ in range(s.reps):
            ctx.clear()
            tokens = _random_tokens(rng, s.n_gen, model.n_vocab, bos)
            samples.append(time_generation(ctx, tokens))
    finally:
        ctx.close()
    return Throughput(s.n_gen, tuple(samples))


# -- the whole run ----------------------------------------------------------------------------
def chat_config(s: BenchSettings) -> ModelConfig:
    n_ctx = max(s.chat_ctx, s.n_prompt + s.n_gen + 64)
    return ModelConfig(s.model, n_ctx=n_ctx, n_gpu_layers=s.gpu_layers, n_threads=s.n_threads,
                       n_batch=s.n_batch, n_ubatch=s.n_ubatch, flash_attn=s.flash_attn,
                       seed=s.seed, rpc_servers=s.rpc_servers, speculative=s.speculative,
                       draft_model=s.draft_model, draft_max=s.draft_max)


def measure_memory(model: NativeModel, s: BenchSettings, rss_before: int,
                   model_lines: list[str], rng: random.Random) -> MemoryReport:
    """Memory with the chat turn's context allocated and a prompt plus a few tokens evaluated."""
    n_ctx = chat_config(s).n_ctx
    with capture_native_log() as lines:
        ctx = _context(model, s, n_ctx)
    try:
        bos = model.bos if model.add_bos else None
        time_prompt(ctx, _random_tokens(rng, s.n_prompt, model.n_vocab, bos),
                    min(s.n_batch, ctx.n_batch))
        for i, token in enumerate(_random_tokens(rng, 8, model.n_vocab, None)):
            ctx.decode([token], s.n_prompt + i)              # a few tokens after the prompt
        return MemoryReport(
            n_ctx=n_ctx, rss_before_load_bytes=rss_before, rss_bytes=process_rss(),
            model_mapped_rss_bytes=mapped_file_rss(s.model),
            llama_buffers=parse_buffers(model_lines + lines))
    finally:
        ctx.close()


def run_bench(s: BenchSettings, progress: Progress | None = None) -> BenchResult:
    say = progress or (lambda _msg: None)
    build = build_info()
    rng = random.Random(s.seed)
    rss_before = process_rss()
    say("loading the model")
    with capture_native_log() as model_lines:
        model = NativeModel(s.model, n_gpu_layers=s.gpu_layers, rpc_servers=s.rpc_servers)
    try:
        say(f"pp{s.n_prompt} × {s.reps}")
        pp = bench_prompt(model, s, rng)
        say(f"tg{s.n_gen} × {s.reps}")
        tg = bench_generation(model, s, rng)
        peak = peak_rss_bytes()                     # comparable to llama-bench's own peak
        memory = measure_memory(model, s, rss_before, list(model_lines), rng)
        memory = replace(memory, peak_rss_bytes=peak)
    finally:
        model.close()
    chat = None
    if s.chat:
        chat = run_chat_turns(chat_config(s), s.n_prompt, s.n_gen, max(1, s.reps),
                              prefer_host=s.prefer_host, progress=say)
    return BenchResult(
        model=s.model.name, threads=s.n_threads, n_prompt=s.n_prompt, n_gen=s.n_gen,
        runs=s.reps, pp=pp, tg=tg, chat=chat, memory=memory,
        build={**build.to_dict(), "n_batch": s.n_batch, "n_ubatch": s.n_ubatch,
               "flash_attn": s.flash_attn, "gpu_layers": s.gpu_layers,
               "rpc_servers": list(s.rpc_servers)})
