"""`parley bench --parallel 1,2,4,8`: aggregate speed with B sequences at once through
`BatchEngine`, in the figures llama.cpp's `llama-batched-bench` prints.

What llama-batched-bench (tools/batched-bench/batched-bench.cpp) measures for each B, and the
same figures here:

* **PP** prompt tokens per sequence, **TG** generated tokens per sequence, **B** sequences, **N_KV**
  = B × (PP + TG) cells the run needs.
* **T_PP**: from the start until every sequence's prompt is evaluated (here: until every
  request's first token, which includes its sample). **S_PP** = B × PP ÷ T_PP.
* **T_TG**: the generation that follows, with all B sequences decoding (batched-bench: TG steps
  of B tokens); here from the moment the last request had its first token to the last token of
  all, and the tokens counted are those that came in that window. **S_TG** = those tokens ÷
  T_TG: the aggregate generation speed.
* **T** = T_PP + T_TG, **S** = (B × PP + all generated tokens) ÷ T.

Differences, on purpose: the requests are real ones (Text mode, a prompt of exactly PP tokens,
BOS included, drawn at random from the model's own words; greedy sampling; every token goes
through the sampler chain and the text stream) rather than random token ids, and a slot keeps
its cached BOS between runs (batched-bench clears the cache). batched-bench gives each run one
context of n_seq_max = max(B); so does this: one `BatchEngine` of max(B) slots for every B.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from inference.batching.engine import BatchEngine
from inference.engine.config import ModelConfig, default_threads
from inference.engine.events import Finished, TokenEvent
from inference.engine.requests import GenerationRequest, Mode
from inference.engine.sampling import SamplingParams
from inference.llama.native import build_info

Progress = Callable[[str], None]
CELL = 256                 # llama.cpp rounds a sequence's cells up to a multiple of this
RUN_TIMEOUT_S = 3600.0     # one B's requests, at most


@dataclass(frozen=True)
class ParallelSettings:
    model: Path
    batches: tuple[int, ...] = (1, 2, 4, 8)
    threads: int = 0
    n_prompt: int = 512
    n_gen: int = 128
    n_batch: int = 2048
    n_ubatch: int = 512
    flash_attn: str = "auto"
    gpu_layers: int = 0
    seed: int = 42
    rpc_servers: tuple[str, ...] = ()

    @property
    def n_threads(self) -> int:
        return self.threads or default_threads()

    @property
    def n_slots(self) -> int:
        return max(self.batches)

    @property
    def n_ctx(self) -> int:
        """The context in all: max(B) sequences of PP + TG tokens (rounded up as llama.cpp)."""
        per_seq = -(-(self.n_prompt + self.n_gen + 1) // CELL) * CELL
        return per_seq * self.n_slots


@dataclass(frozen=True)
class ParallelRow:
    """One B, in llama-batched-bench's columns."""

    pp: int
    tg: int
    b: int
    n_kv: int
    t_pp: float
    s_pp: float
    t_tg: float
    s_tg: float
    t: float
    s: float
    tg_tokens: int                 # tokens generated inside the T_TG window
    output_tokens: tuple[int, ...] # per request
    cached_tokens: tuple[int, ...]
    finish_reasons: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class ParallelResult:
    model: str
    threads: int
    n_ctx: int
    n_slots: int
    rows: tuple[ParallelRow, ...]
    build: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"model": self.model, "threads": self.threads, "n_ctx": self.n_ctx,
                "n_slots": self.n_slots, "rows": [r.to_dict() for r in self.rows],
                "build": self.build}


@dataclass
class _Timeline:
    """One request as its thread saw it."""

    began: float = 0.0                                  # just before its first next()
    arrivals: list[tuple[float, int]] = field(default_factory=list)   # (time, token index)
    finished: Finished | None = None
    error: BaseException | None = None

    @property
    def first(self) -> float:
        assert self.finished is not None and self.finished.stats.ttft_s is not None
        return self.began + self.finished.stats.ttft_s

    @property
    def last(self) -> float:
        assert self.finished is not None
        return self.began + self.finished.stats.total_s


def prompt_text(engine: BatchEngine, n_tokens: int, rng: random.Random) -> str:
    """Text of exactly `n_tokens` tokens (BOS included when the model adds one)."""
    words = ("time", "river", "green", "music", "table", "light", "stone", "paper", "north",
             "window", "garden", "silver", "market", "winter", "letter", "number", "animal")
    text = ""
    while len(engine.tokenize(text)) < n_tokens:
        text += " " + rng.choice(words)
    while len(engine.tokenize(text)) > n_tokens:
        text = text[:-1]
    if len(engine.tokenize(text)) != n_tokens:
        raise ValueError(f"could not build a prompt of exactly {n_tokens} tokens")
    return text


def _request(text: str, n_gen: int) -> GenerationRequest:
    sampling = SamplingParams(temperature=0.0, repeat_penalty=1.0, max_tokens=n_gen)
    return GenerationRequest(mode=Mode.TEXT, text=text, sampling=sampling)


def _consume(engine: BatchEngine, request: GenerationRequest, line: _Timeline,
             start: threading.Barrier) -> None:
    try:
        events = engine.submit(request)
        start.wait(RUN_TIMEOUT_S)
        line.began = time.perf_counter()
        for event in events:
            if isinstance(event, TokenEvent):
                line.arrivals.append((time.perf_counter(), event.index))
            elif isinstance(event, Finished):
                line.finished = event
    except BaseException as exc:  # reported by the caller, with the others' results
        line.error = exc


def run_batch(engine: BatchEngine, s: ParallelSettings, b: int,
              rng: random.Random) -> ParallelRow:
    """B requests at once; the figures of llama-batched-bench for them."""
    texts = [prompt_text(engine, s.n_prompt, rng) for _ in range(b)]
    lines = [_Timeline() for _ in range(b)]
    start = threading.Barrier(b)
    threads = [threading.Thread(target=_consume, args=(engine, _request(t, s.n_gen), ln, start),
                                name=f"bench-{i}", daemon=True)
               for i, (t, ln) in enumerate(zip(texts, lines, strict=True))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(RUN_TIMEOUT_S)
    for line in lines:
        if line.error is not None:
            raise line.error
        if line.finished is None or line.finished.stats.ttft_s is None:
            raise RuntimeError("a benchmark request ended without a token")
    began = min(line.began for line in lines)
    all_first = max(line.first for line in lines)
    end = max(line.last for line in lines)
    stats = [line.finished.stats for line in lines if line.finished]
    generated = sum(st.output_tokens for st in stats)
    before = sum(1 + max((i for t, i in line.arrivals if t <= all_first), default=0)
                 for line in lines)
    tg_tokens = generated - before
    t_pp, t_tg = all_first - began, end - all_first
    evaluated = sum(st.prompt_tokens - st.cached_tokens for st in stats)
    return ParallelRow(
        pp=s.n_prompt, tg=s.n_gen, b=b, n_kv=b * (s.n_prompt + s.n_gen),
        t_pp=t_pp, s_pp=evaluated / t_pp if t_pp > 0 else 0.0,
        t_tg=t_tg, s_tg=tg_tokens / t_tg if t_tg > 0 else 0.0,
        t=t_pp + t_tg, s=(evaluated + generated) / (t_pp + t_tg) if t_pp + t_tg > 0 else 0.0,
        tg_tokens=tg_tokens,
        output_tokens=tuple(st.output_tokens for st in stats),
        cached_tokens=tuple(st.cached_tokens for st in stats),
        finish_reasons=tuple(line.finished.reason.value for line in lines if line.finished))


def run_parallel(s: ParallelSettings, progress: Progress | None = None) -> ParallelResult:
    say = progress or (lambda _msg: None)
    config = ModelConfig(s.model, n_ctx=s.n_ctx, n_gpu_layers=s.gpu_layers,
                         n_threads=s.n_threads, n_batch=s.n_batch, n_ubatch=s.n_ubatch,
                         flash_attn=s.flash_attn, seed=s.seed, rpc_servers=s.rpc_servers)
    rng = random.Random(s.seed)
    engine = BatchEngine(s.n_slots)
    say(f"loading the model ({s.n_slots} slots, n_ctx {s.n_ctx})")
    engine.load(config)
    try:
        say("warm-up")
        for _ in engine.submit(_request(prompt_text(engine, 16, rng), 2)):
            pass
        rows = []
        for b in s.batches:
            say(f"B = {b}: {b} × (pp {s.n_prompt} + tg {s.n_gen})")
            rows.append(run_batch(engine, s, b, rng))
    finally:
        engine.close()
    build = build_info()
    return ParallelResult(
        model=s.model.name, threads=s.n_threads, n_ctx=s.n_ctx, n_slots=s.n_slots,
        rows=tuple(rows),
        build={**build.to_dict(), "n_batch": s.n_batch, "n_ubatch": s.n_ubatch,
               "flash_attn": s.flash_attn, "gpu_layers": s.gpu_layers})


def format_parallel(r: ParallelResult) -> str:
    """llama-batched-bench's table."""
    head = f"|{'PP':>6} | {'TG':>6} | {'B':>4} | {'N_KV':>6} | {'T_PP s':>8} | {'S_PP t/s':>8} | " \
           f"{'T_TG s':>8} | {'S_TG t/s':>8} | {'T s':>8} | {'S t/s':>8} |"
    rule = "|" + "-|-".join("-" * w for w in (6, 6, 4, 6, 8, 8, 8, 8, 8, 8)) + "-|"
    lines = [f"model {r.model}, {r.threads} threads, n_ctx {r.n_ctx}, {r.n_slots} slots "
             f"(BatchEngine, n_ctx_seq {r.n_ctx // r.n_slots})", "", head, rule]
    for w in r.rows:
        lines.append(f"|{w.pp:>6} | {w.tg:>6} | {w.b:>4} | {w.n_kv:>6} | {w.t_pp:>8.3f} | "
                     f"{w.s_pp:>8.2f} | {w.t_tg:>8.3f} | {w.s_tg:>8.2f} | {w.t:>8.3f} | "
                     f"{w.s:>8.2f} |")
    short = [w for w in r.rows if min(w.output_tokens) < w.tg]
    for w in short:
        lines.append(f"B = {w.b}: a request stopped early ({list(w.output_tokens)} tokens, "
                     f"{', '.join(sorted(set(w.finish_reasons)))})")
    return "\n".join(lines)
