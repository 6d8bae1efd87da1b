"""Evaluating perplexity windows with llama.cpp and scoring their logits as each batch lands.

A `Window` is one independent evaluation (a llama.cpp chunk, or a full-text sliding window):
the tokens to run from position 0 of an empty sequence, the first position whose logits are
scored, and the tokens those positions must predict. Up to n_seq windows share a batch, each as
its own sequence id, exactly like llama.cpp's `perplexity()`. An optional `on_rows` callback also
receives every batch's scored logit rows (what KL divergence needs, see `compare.evaluate`).
"""

from __future__ import annotations

import codecs
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from inference.common.cancel import CancelToken
from inference.common.errors import Cancelled, ParleyError
from inference.llama.native import NativeBatch, NativeContext, NativeModel
from inference.perplexity.scoring import RowNormalizers, row_normalizers, target_nll, top_details

TOP_K = 5


@dataclass(frozen=True)
class Window:
    tokens: np.ndarray      # int32: what is evaluated, positions 0 … len−1
    score_from: int         # logits are requested from this position on (as llama.cpp does)
    targets: np.ndarray     # the tokens positions score_from, score_from+1 … must predict
    target_index: int       # index of targets[0] in the text's token list


@dataclass(frozen=True)
class Alternative:
    token: int
    text: str
    prob: float

    def to_dict(self) -> dict[str, Any]:
        return {"token": self.token, "text": self.text, "prob": self.prob}


@dataclass(frozen=True)
class TokenScore:
    """One scored token, for a heatmap. Texts of consecutive scores concatenate to the text."""

    index: int              # position in the text's token list (BOS = 0)
    token: int
    text: str
    nll: float
    prob: float             # exp(−nll)
    rank: int               # 1 = the model's top choice
    top: tuple[Alternative, ...]

    def to_dict(self) -> dict[str, Any]:
        return {"index": self.index, "token": self.token, "text": self.text, "nll": self.nll,
                "prob": self.prob, "rank": self.rank, "top": [a.to_dict() for a in self.top]}


@dataclass
class RunTotals:
    """What `evaluate_windows` accumulated (llama.cpp's nll / nll2 / count)."""

    nll_sum: float = 0.0
    nll2_sum: float = 0.0
    count: int = 0
    tokens_evaluated: int = 0
    running: list[float] = field(default_factory=list)
    scores: list[TokenScore] = field(default_factory=list)

    @property
    def running_ppl(self) -> tuple[float, ...]:
        return tuple(self.running)

    @property
    def per_token(self) -> tuple[TokenScore, ...]:
        return tuple(self.scores)

    def ppl_and_se(self) -> tuple[float, float]:
        """The PPL over every scored token and its standard error (NaN below 2 tokens)."""
        mean = self.nll_sum / self.count
        ppl = math.exp(mean)
        var = self.nll2_sum / self.count - mean * mean
        return ppl, (math.sqrt(var / (self.count - 1)) * ppl
                     if self.count > 1 and var > 0 else math.nan)


RowsCallback = Callable[[Window, int, np.ndarray, np.ndarray, RowNormalizers], None]
"""`on_rows(window, t_lo, logits, targets, norm)`: the float32 logit rows (a view into
llama.cpp's buffer, valid only during the call) for targets t_lo … t_lo+len(targets)−1 of
`window`, in text order, with their `row_normalizers`."""


def evaluate_windows(ctx: NativeContext, windows: Sequence[Window], *, n_seq: int, piece: int,
                     per_token: bool = False,
                     progress: Callable[[int, int, float | None], None] | None = None,
                     cancel: CancelToken | None = None,
                     on_rows: RowsCallback | None = None) -> RunTotals:
    """Run every window (n_seq at a time, `piece` positions per sequence per decode), handing
    each batch's scored rows to `on_rows` too when given."""
    totals = RunTotals()
    total = sum(len(w.tokens) for w in windows)
    texts = _TextPieces(ctx.model) if per_token else None
    started = time.perf_counter()
    for g in range(0, len(windows), n_seq):
        group = windows[g:g + n_seq]
        ctx.clear()
        for p0 in range(0, max(len(w.tokens) for w in group), piece):
            _check(cancel)
            spans = _fill(ctx.batch(), group, p0, piece)
            code = ctx.decode_batch()
            if code == 2 or (cancel is not None and cancel.cancelled):
                raise Cancelled("perplexity cancelled")
            if code != 0:
                raise ParleyError(f"llama.cpp could not evaluate the text (llama_decode "
                                  f"returned {code})")
            for window, first_row, pos_lo, pos_hi in spans:
                _score(ctx, window, first_row, pos_lo, pos_hi, totals, texts, on_rows)
                _check(cancel)
            done = sum(max(0, min(p0 + piece, len(w.tokens)) - p0) for w in group)
            totals.tokens_evaluated += done
            if progress is not None:
                elapsed = time.perf_counter() - started
                left = total - totals.tokens_evaluated
                eta = elapsed / totals.tokens_evaluated * left if totals.tokens_evaluated else None
                progress(totals.tokens_evaluated, total, eta)
    return totals


def _check(cancel: CancelToken | None) -> None:
    if cancel is not None and cancel.cancelled:
        raise Cancelled("perplexity cancelled")


def _fill(batch: NativeBatch, group: Sequence[Window], p0: int,
          piece: int) -> list[tuple[Window, int, int, int]]:
    """Put positions p0 … p0+piece−1 of every window into the batch, each window its own seq.

    Returns (window, batch index of its first output row, first scored pos, end pos) per window
    that has scored positions in this piece.
    """
    n = 0
    spans = []
    for seq, window in enumerate(group):
        p1 = min(p0 + piece, len(window.tokens))
        if p1 <= p0:
            continue
        out_lo = max(p0, window.score_from)
        if out_lo < p1:
            spans.append((window, n + out_lo - p0, out_lo, p1))
        for p in range(p0, p1):
            batch.token[n] = int(window.tokens[p])
            batch.pos[n] = p
            batch.n_seq_id[n] = 1
            batch.seq_id[n][0] = seq
            batch.logits[n] = p >= window.score_from
            n += 1
    batch.n_tokens = n
    return spans


def _score(ctx: NativeContext, window: Window, first_row: int, pos_lo: int, pos_hi: int,
           totals: RunTotals, texts: _TextPieces | None, on_rows: RowsCallback | None) -> None:
    """Score the output rows for positions pos_lo … pos_hi−1 of `window` that have a target."""
    t_lo = pos_lo - window.score_from
    t_hi = min(pos_hi - window.score_from, len(window.targets))
    if t_hi <= t_lo:
        return
    logits = ctx.logits_rows(first_row, t_hi - t_lo)
    if logits is None:
        raise ParleyError("llama.cpp returned no logits for the evaluated text")
    targets = window.targets[t_lo:t_hi].astype(np.int64)
    norm = row_normalizers(logits)
    if on_rows is not None:
        on_rows(window, t_lo, logits, targets, norm)
    nll = target_nll(logits, targets, norm)
    totals.nll_sum += float(nll.sum())
    totals.nll2_sum += float(np.dot(nll, nll))
    totals.count += len(nll)
    if t_hi == len(window.targets):            # the window is complete: llama.cpp's [i]ppl
        totals.running.append(math.exp(totals.nll_sum / totals.count))
    if texts is not None:
        details = top_details(logits, targets, norm, TOP_K)
        for i in range(len(nll)):
            index = window.target_index + t_lo + i
            token = int(targets[i])
            top = tuple(Alternative(int(t), texts.alone(int(t)), math.exp(lp))
                        for t, lp in zip(details.top_ids[i], details.top_logp[i], strict=True))
            totals.scores.append(TokenScore(index, token, texts.next(index, token),
                                            float(nll[i]), math.exp(-nll[i]),
                                            int(details.rank[i]), top))


class _TextPieces:
    """Token texts: an incremental UTF-8 decode over each run of consecutive scored tokens, so a
    character split over several byte tokens shows up whole on its last token."""

    def __init__(self, model: NativeModel) -> None:
        self._model = model
        self._decoder = codecs.getincrementaldecoder("utf-8")("replace")
        self._expect = -1
        self._cache: dict[int, str] = {}

    def next(self, index: int, token: int) -> str:
        if index != self._expect:
            self._decoder.reset()
        self._expect = index + 1
        return self._decoder.decode(self._model.piece(token))

    def alone(self, token: int) -> str:
        text = self._cache.get(token)
        if text is None:
            text = self._model.piece(token).decode("utf-8", "replace")
            self._cache[token] = text
        return text
