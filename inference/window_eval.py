"""Evaluate perplexity windows and hand each window's scored logit rows to a callback.

The batching is llama-perplexity's (and `perplexity_run.evaluate_windows`'s): up to n_seq
windows share a batch, each as its own sequence from an empty cache, `piece` positions per
sequence per decode, logits only from each window's `score_from` on. The difference: instead of
accumulating NLL, `on_rows(window, first_target, logits, targets)` receives the float32 logit
rows (a view into llama.cpp's buffer, valid during the call) for targets
first_target … first_target+len(targets)−1, in text order — what KL divergence needs.
"""

from __future__ import annotations

import ctypes
from collections.abc import Callable, Sequence

import llama_cpp
import numpy as np

from .cancel import CancelToken
from .errors import Cancelled, ParleyError
from .native import NativeContext
from .perplexity_run import Window

RowsCallback = Callable[[Window, int, np.ndarray, np.ndarray], None]


def evaluate_rows(ctx: NativeContext, windows: Sequence[Window], *, n_seq: int, piece: int,
                  on_rows: RowsCallback,
                  progress: Callable[[int, int], None] | None = None,
                  cancel: CancelToken | None = None) -> int:
    """Run every window; returns the number of tokens evaluated."""
    total = sum(len(w.tokens) for w in windows)
    done = 0
    for g in range(0, len(windows), n_seq):
        group = windows[g:g + n_seq]
        ctx.clear()
        for p0 in range(0, max(len(w.tokens) for w in group), piece):
            _check(cancel)
            spans = _fill(ctx.batch(), group, p0, piece)
            code = llama_cpp.llama_decode(ctx.ptr, ctx.batch())
            if code == 2 or (cancel is not None and cancel.cancelled):
                raise Cancelled("evaluation cancelled")
            if code != 0:
                raise ParleyError(f"llama.cpp could not evaluate the text (llama_decode "
                                  f"returned {code})")
            for window, first_row, pos_lo, pos_hi in spans:
                _deliver(ctx, window, first_row, pos_lo, pos_hi, on_rows)
            done += sum(max(0, min(p0 + piece, len(w.tokens)) - p0) for w in group)
            if progress is not None:
                progress(done, total)
    return done


def _check(cancel: CancelToken | None) -> None:
    if cancel is not None and cancel.cancelled:
        raise Cancelled("evaluation cancelled")


def _fill(batch: llama_cpp.llama_batch, group: Sequence[Window], p0: int,
          piece: int) -> list[tuple[Window, int, int, int]]:
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


def _deliver(ctx: NativeContext, window: Window, first_row: int, pos_lo: int, pos_hi: int,
             on_rows: RowsCallback) -> None:
    t_lo = pos_lo - window.score_from
    t_hi = min(pos_hi - window.score_from, len(window.targets))
    if t_hi <= t_lo:
        return
    n_vocab = ctx.model.n_vocab
    ptr = llama_cpp.llama_get_logits_ith(ctx.ptr, first_row)
    if not ptr:
        raise ParleyError("llama.cpp returned no logits for the evaluated text")
    buf = (ctypes.c_float * ((t_hi - t_lo) * n_vocab)).from_address(
        ctypes.addressof(ptr.contents))
    logits = np.frombuffer(buf, dtype=np.float32).reshape(t_hi - t_lo, n_vocab)
    on_rows(window, t_lo, logits, window.targets[t_lo:t_hi].astype(np.int64))
