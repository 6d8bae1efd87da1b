"""The scoring core shared by perplexity (and, later, KL divergence): log-softmax over logit rows.

Arithmetic follows llama.cpp's `tools/perplexity/perplexity.cpp` (`log_softmax`): per row, the max
logit in float32, Σ expf(x − max) accumulated in double, and
NLL = log Σ − (logit[target] − max). Rows are processed in small blocks so that a batch of
logits over a 262k vocabulary never needs more than a few tens of MB of scratch memory.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

BLOCK_ROWS = 16   # rows per scratch block: 16 × 262144 floats = 16 MiB


@dataclass(frozen=True)
class RowNormalizers:
    """Per row of logits: the max logit (float32) and log Σ exp(x − max) (float64)."""

    max_logit: np.ndarray
    log_sum_exp: np.ndarray


@dataclass(frozen=True)
class TopDetails:
    """Per row: the 1-based rank of the target and the top-k token ids with their log-probs."""

    rank: np.ndarray        # int64 (n,)
    top_ids: np.ndarray     # int64 (n, k), most likely first
    top_logp: np.ndarray    # float64 (n, k)


def _blocks(n_rows: int) -> range:
    return range(0, n_rows, BLOCK_ROWS)


def row_normalizers(logits: np.ndarray) -> RowNormalizers:
    """Max and log-sum-exp of every row of a float32 (n, n_vocab) array."""
    n = logits.shape[0]
    max_logit = np.empty(n, dtype=np.float32)
    log_sum = np.empty(n, dtype=np.float64)
    scratch = np.empty((min(BLOCK_ROWS, n), logits.shape[1]), dtype=np.float32)
    for lo in _blocks(n):
        block = logits[lo:lo + BLOCK_ROWS]
        buf = scratch[:block.shape[0]]
        mx = block.max(axis=1)
        np.subtract(block, mx[:, None], out=buf)
        np.exp(buf, out=buf)
        max_logit[lo:lo + block.shape[0]] = mx
        log_sum[lo:lo + block.shape[0]] = np.log(buf.sum(axis=1, dtype=np.float64))
    return RowNormalizers(max_logit, log_sum)


def target_nll(logits: np.ndarray, targets: np.ndarray,
               norm: RowNormalizers | None = None) -> np.ndarray:
    """Negative log-likelihood (float64) of targets[i] under logits row i."""
    norm = norm if norm is not None else row_normalizers(logits)
    rows = np.arange(logits.shape[0])
    picked = (logits[rows, targets] - norm.max_logit).astype(np.float64)
    return norm.log_sum_exp - picked


def log_softmax(logits: np.ndarray, norm: RowNormalizers | None = None) -> np.ndarray:
    """Full log-probability rows (float64, same shape as logits), e.g. for KL divergence."""
    norm = norm if norm is not None else row_normalizers(logits)
    out = np.empty(logits.shape, dtype=np.float64)
    for lo in _blocks(logits.shape[0]):
        hi = lo + BLOCK_ROWS
        np.subtract(logits[lo:hi], norm.max_logit[lo:hi, None], out=out[lo:hi],
                    dtype=np.float64)
        out[lo:hi] -= norm.log_sum_exp[lo:hi, None]
    return out


def top_details(logits: np.ndarray, targets: np.ndarray, norm: RowNormalizers,
                k: int = 5) -> TopDetails:
    """Rank of each target (1 = most likely) and the k most likely tokens, via argpartition."""
    n, n_vocab = logits.shape
    k = min(k, n_vocab)
    rows = np.arange(n)
    picked = logits[rows, targets]
    rank = np.empty(n, dtype=np.int64)
    top_ids = np.empty((n, k), dtype=np.int64)
    for lo in _blocks(n):
        block = logits[lo:lo + BLOCK_ROWS]
        rank[lo:lo + block.shape[0]] = 1 + np.count_nonzero(
            block > picked[lo:lo + block.shape[0], None], axis=1)
        part = np.argpartition(block, n_vocab - k, axis=1)[:, n_vocab - k:]
        order = np.argsort(-np.take_along_axis(block, part, axis=1), axis=1, kind="stable")
        top_ids[lo:lo + block.shape[0]] = np.take_along_axis(part, order, axis=1)
    top_logit = np.take_along_axis(logits, top_ids, axis=1)
    top_logp = ((top_logit - norm.max_logit[:, None]).astype(np.float64)
                - norm.log_sum_exp[:, None])
    return TopDetails(rank, top_ids, top_logp)
