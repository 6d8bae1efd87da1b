"""Perplexity of a model on the user's own text, matching llama.cpp's `llama-perplexity`.

Two methods (docs/ARCHITECTURE.md § Figures):

* **chunked** (llama.cpp's default): the text is tokenized once (BOS first if the vocabulary adds
  one) and cut into ⌊N / n_ctx⌋ chunks. Each chunk is evaluated from an empty cache with its first
  token replaced by BOS, and positions n_ctx/2 … n_ctx−2 are scored against the next token.
  Several chunks share one batch (n_seq = n_batch / n_ctx, each its own sequence), as llama.cpp
  does. Needs ≥ 2·n_ctx tokens.
* **full**: every token after the first (BOS included as "first") is scored against its whole
  prefix. Past n_ctx a sliding window is used with a stride of n_ctx/2 tokens: each later window
  is BOS followed by the n_ctx−1 text tokens just before its targets, and scores only its last
  n_ctx/2 positions, so every token sees at least n_ctx/2 tokens of context (and ≈2× the work).

PPL = exp(mean NLL); ± = PPL × SE of the mean NLL, with llama.cpp's formula
sqrt((E[nll²] − E[nll]²) / (count − 1)).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from inference.common import limits
from inference.common.cancel import CancelToken
from inference.common.errors import InvalidSettingError, ParleyError
from inference.llama.chunked_tokenize import tokenize_chunked
from inference.llama.native import NativeContext, NativeModel
from inference.perplexity.run import Alternative, TokenScore, Window, evaluate_windows

__all__ = ["Alternative", "EmptyTextError", "PerplexityError", "PerplexityInputError",
           "PerplexityResult", "TextTooShortError", "TokenScore", "TooFewTokensError",
           "compute_perplexity", "chunk_windows", "full_windows"]

METHODS = ("auto", "chunked", "full")
MIN_CTX = limits.LIMITS["n_ctx"].low
THREADS = limits.IntLimit("threads", 1, limits.MAX_THREADS)   # resolved: 0 is not "default" here
UBATCH = 512          # llama.cpp's default physical batch

ProgressCallback = Callable[[int, int, "float | None"], None]
"""progress(tokens_done, tokens_total, eta_seconds or None) after each evaluated batch."""


class PerplexityInputError(ParleyError):
    """The text cannot be scored as asked; the message says what to do instead."""


class EmptyTextError(PerplexityInputError):
    pass


class TooFewTokensError(PerplexityInputError):
    pass


class TextTooShortError(PerplexityInputError):
    """Chunked mode needs at least 2·n_ctx tokens."""


class PerplexityError(ParleyError):
    """llama.cpp failed while evaluating the text."""


@dataclass(frozen=True)
class PerplexityResult:
    ppl: float
    ppl_se: float                  # NaN when undefined (fewer than 2 scored tokens)
    nll_mean: float
    method: str                    # 'chunked' | 'full'
    n_ctx: int
    tokens_total: int              # tokens in the text (BOS included)
    tokens_scored: int
    chunks: int                    # chunks (chunked) or windows (full) evaluated
    seconds: float                 # tokenizing + evaluating + scoring
    tokens_per_second: float       # tokens evaluated by the model ÷ seconds
    chunk_ppl: tuple[float, ...]   # running PPL after each chunk/window ([1]…, [2]… in llama.cpp)
    per_token: tuple[TokenScore, ...] | None = None
    n_batch: int = 0
    n_seq: int = 1                 # chunks evaluated side by side in one batch
    tokens_evaluated: int = 0

    def to_dict(self, *, per_token: bool = True) -> dict[str, Any]:
        data: dict[str, Any] = {
            "ppl": self.ppl, "ppl_se": None if math.isnan(self.ppl_se) else self.ppl_se,
            "nll_mean": self.nll_mean, "method": self.method, "n_ctx": self.n_ctx,
            "n_batch": self.n_batch, "n_seq": self.n_seq, "tokens_total": self.tokens_total,
            "tokens_scored": self.tokens_scored, "tokens_evaluated": self.tokens_evaluated,
            "chunks": self.chunks, "seconds": self.seconds,
            "tokens_per_second": self.tokens_per_second, "chunk_ppl": list(self.chunk_ppl)}
        if per_token and self.per_token is not None:
            data["per_token"] = [t.to_dict() for t in self.per_token]
        return data

    def summary(self) -> str:
        se = "" if math.isnan(self.ppl_se) else f" ± {self.ppl_se:.5f}"
        return (f"PPL = {self.ppl:.4f}{se} ({self.method}, n_ctx={self.n_ctx}, "
                f"{self.tokens_scored:,} tokens scored in {self.chunks} "
                f"{'chunks' if self.method == 'chunked' else 'windows'}, "
                f"{self.seconds:.2f} s, {self.tokens_per_second:.1f} tokens/s)")


def compute_perplexity(model: NativeModel, text: str, *, n_ctx: int = 512, n_batch: int = 2048,
                       mode: str = "auto", n_threads: int, per_token: bool = False,
                       progress: ProgressCallback | None = None,
                       cancel: CancelToken | None = None) -> PerplexityResult:
    """Score `text` with `model`; raises PerplexityInputError subclasses for unusable input and
    `Cancelled` when `cancel` fires (checked between batches and inside a running batch)."""
    _check_settings(n_ctx, n_batch, mode, n_threads)
    started = time.perf_counter()
    if not text.strip():
        raise EmptyTextError("The text is empty. Paste or open some text to measure "
                             "perplexity on.")
    tokens = np.asarray(tokenize_chunked(model, text, add_special=True, parse_special=False,
                                         cancel=cancel), dtype=np.int32)
    n = len(tokens)
    if n < 2:
        raise TooFewTokensError(f"The text is only {n} token long; perplexity needs at least "
                                "2 tokens. Use a longer text.")
    method = mode if mode != "auto" else ("chunked" if n >= 2 * n_ctx else "full")
    if method == "chunked" and n < 2 * n_ctx:
        raise TextTooShortError(_too_short_message(n, n_ctx))
    bos = model.bos if model.add_bos else None
    windows = list(chunk_windows(tokens, n_ctx, bos) if method == "chunked"
                   else full_windows(tokens, n_ctx, bos))
    # as llama.cpp, capped at the work and at the sequences one context may hold
    n_seq = max(1, min(n_batch // n_ctx, len(windows), limits.MAX_SEQ))
    n_batch_eff = min(n_batch, n_seq * n_ctx)
    try:
        ctx = NativeContext(model, n_ctx=n_seq * n_ctx, n_batch=n_batch_eff,
                            n_ubatch=min(UBATCH, n_batch_eff), n_threads=n_threads,
                            flash_attn="auto", n_seq_max=n_seq)
    except ParleyError as exc:
        raise PerplexityError(f"Could not create a context for perplexity: {exc}") from exc
    try:
        ctx.set_abort(cancel)
        run = evaluate_windows(ctx, windows, n_seq=n_seq, piece=min(n_batch_eff, n_ctx),
                               per_token=per_token, progress=progress, cancel=cancel)
    finally:
        ctx.set_abort(None)
        ctx.close()
    seconds = time.perf_counter() - started
    count = run.count
    ppl, ppl_se = run.ppl_and_se()
    return PerplexityResult(
        ppl=ppl, ppl_se=ppl_se, nll_mean=run.nll_sum / count, method=method, n_ctx=n_ctx,
        tokens_total=n, tokens_scored=count, chunks=len(windows), seconds=seconds,
        tokens_per_second=run.tokens_evaluated / seconds if seconds > 0 else 0.0,
        chunk_ppl=run.running_ppl, per_token=run.per_token if per_token else None,
        n_batch=n_batch_eff, n_seq=n_seq, tokens_evaluated=run.tokens_evaluated)


def chunk_windows(tokens: np.ndarray, n_ctx: int, bos: int | None) -> Iterator[Window]:
    """llama.cpp's chunks: ⌊N / n_ctx⌋ of them, first token → BOS, score n_ctx/2 … n_ctx−2."""
    first = n_ctx // 2
    for start in range(0, (len(tokens) // n_ctx) * n_ctx, n_ctx):
        chunk = tokens[start:start + n_ctx].copy()
        if bos is not None:
            chunk[0] = bos
        yield Window(chunk, first, tokens[start + first + 1:start + n_ctx], start + first + 1)


def full_windows(tokens: np.ndarray, n_ctx: int, bos: int | None) -> Iterator[Window]:
    """Every token from index 1 on, scored once; sliding windows (stride n_ctx/2) past n_ctx."""
    n = len(tokens)
    end = min(n, n_ctx + 1)                    # the first window scores targets 1 … end−1
    yield Window(tokens[:end - 1], 0, tokens[1:end], 1)
    stride = n_ctx // 2
    capacity = n_ctx - 1 if bos is not None else n_ctx   # text tokens a later window holds
    t0 = end
    while t0 < n:
        t1 = min(t0 + stride, n)               # this window scores targets t0 … t1−1
        body = tokens[t1 - 1 - capacity:t1 - 1]
        window = np.concatenate(([bos], body)).astype(np.int32) if bos is not None else body
        yield Window(window, len(window) - (t1 - t0), tokens[t0:t1], t0)
        t0 = t1


def _too_short_message(n: int, n_ctx: int) -> str:
    hint = (f"or a context of at most {n // 2} tokens (--ctx {n // 2})"
            if n // 2 >= MIN_CTX else "(the text is too short for any chunked context)")
    return (f"Chunked perplexity with a context of {n_ctx} needs at least {2 * n_ctx} tokens, "
            f"but the text has only {n}. Use full-text mode (--mode full) {hint}.")


def _check_settings(n_ctx: int, n_batch: int, mode: str, n_threads: int) -> None:
    if mode not in METHODS:
        raise InvalidSettingError(f"perplexity mode must be one of {', '.join(METHODS)}, "
                                  f"got {mode!r}")
    limits.check("n_ctx", n_ctx)
    limits.check("n_batch", n_batch)
    THREADS.check(n_threads)
