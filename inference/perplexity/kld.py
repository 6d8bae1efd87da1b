"""KL divergence against a reference model, computed exactly as `llama-perplexity` does it.

llama.cpp (tools/perplexity/perplexity.cpp) first runs the reference with
`--kl-divergence-base FILE`, which stores, per scored position, the reference's log-probs
quantized to uint16: per row a float32 `scale` and `min_log_prob` (4 uint16 slots), then one
uint16 per token with log p ≈ scale·q + min_log_prob, clipped 16 nats below the top logit; rows
are `2·⌈n_vocab/2⌉ + 4` uint16 wide. The file starts with "_logits_", n_ctx (u32), n_vocab
(i32), n_chunk (i32) and the n_ctx·n_chunk evaluated tokens (i32). Then `--kl-divergence`
evaluates another model on those tokens and, per row:

* KLD = Σ_{i: log p_ref,i > −16} p_ref,i · (log p_ref,i − log p_q,i);
* "same top" when the argmax of the model's logits equals the argmax of the reference row;
* Δp = p_q(correct token) − p_ref(correct token).

This module reads and writes that very file format (so its files and llama.cpp's are
interchangeable) and repeats the float32 / float64 arithmetic step by step. Rows are processed in
small blocks, so memory stays at a few tens of MB whatever the vocabulary.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

import numpy as np

from inference.common.errors import ParleyError
from inference.perplexity.scoring import BLOCK_ROWS, RowNormalizers, row_normalizers

MAGIC = b"_logits_"
_HEADER = struct.Struct("<Iii")         # n_ctx, n_vocab, n_chunk
F32 = np.float32


class LogProbFileError(ParleyError):
    pass


def row_width(n_vocab: int) -> int:
    """uint16 slots per stored row (llama.cpp's `nv`)."""
    return 2 * ((n_vocab + 1) // 2) + 4


def scored_rows(n_ctx: int) -> int:
    """Rows stored per chunk: positions n_ctx/2 … n_ctx−2."""
    return n_ctx - 1 - n_ctx // 2


def encode_rows(logits: np.ndarray, norm: RowNormalizers | None = None) -> np.ndarray:
    """Reference logits (n, n_vocab) float32 → stored rows (n, row_width) uint16."""
    n, n_vocab = logits.shape
    norm = norm if norm is not None else row_normalizers(logits)
    out = np.zeros((n, row_width(n_vocab)), dtype=np.uint16)
    for lo in range(0, n, BLOCK_ROWS):
        block = logits[lo:lo + BLOCK_ROWS]
        mx = norm.max_logit[lo:lo + BLOCK_ROWS]
        mn = np.maximum(block.min(axis=1), mx - F32(16))
        lse = norm.log_sum_exp[lo:lo + BLOCK_ROWS].astype(F32)
        min_log_prob = (mn - mx) - lse
        scale = (mx - mn) / F32(65535)
        rows = out[lo:lo + BLOCK_ROWS]
        rows[:, 0:2] = scale[:, None].view(np.uint16)
        rows[:, 2:4] = min_log_prob[:, None].view(np.uint16)
        with np.errstate(divide="ignore"):
            inv = np.where(scale != 0, F32(1) / scale, F32(0)).astype(F32)
        q = np.rint(inv[:, None] * (block - mn[:, None]))
        q = np.where(block > mn[:, None], q, F32(0)).astype(np.int64) & 0xFFFF
        rows[:, 4:4 + n_vocab] = q
    return out


@dataclass
class KldTotals:
    """llama.cpp's `kl_divergence_result` plus the per-row values kept for percentiles."""

    sum_nll: float = 0.0
    sum_nll2: float = 0.0
    sum_nll_base: float = 0.0
    sum_nll_base2: float = 0.0
    sum_kld: float = 0.0
    sum_kld2: float = 0.0
    sum_p_diff: float = 0.0
    sum_p_diff2: float = 0.0
    sum_p_diff4: float = 0.0
    n_same_top: int = 0
    count: int = 0
    kld_values: list[np.ndarray] = field(default_factory=list)
    p_diff_values: list[np.ndarray] = field(default_factory=list)

    def add(self, logits: np.ndarray, base: np.ndarray, targets: np.ndarray,
            norm: RowNormalizers | None = None) -> None:
        """Score model logits (n, n_vocab) against stored reference rows (n, row_width)."""
        n, n_vocab = logits.shape
        norm = norm if norm is not None else row_normalizers(logits)
        for lo in range(0, n, BLOCK_ROWS):
            hi = min(lo + BLOCK_ROWS, n)
            self._add_block(logits[lo:hi], base[lo:hi], targets[lo:hi].astype(np.int64),
                            norm.max_logit[lo:hi], norm.log_sum_exp[lo:hi].astype(F32),
                            n_vocab)

    def _add_block(self, block: np.ndarray, base: np.ndarray, targets: np.ndarray,
                   mx: np.ndarray, lse: np.ndarray, n_vocab: int) -> None:
        rows = np.arange(len(block))
        scale = np.ascontiguousarray(base[:, 0:2]).view(F32)[:, 0]
        min_log_prob = np.ascontiguousarray(base[:, 2:4]).view(F32)[:, 0]
        q = base[:, 4:4 + n_vocab]
        nll = (mx + lse) - block[rows, targets]
        nll_base = -(scale * q[rows, targets].astype(F32) + min_log_prob)
        p_log_base = scale[:, None] * q.astype(F32) + min_log_prob[:, None]
        same = block.argmax(axis=1) == p_log_base.argmax(axis=1)
        terms = np.exp(p_log_base) * ((p_log_base - block) + (mx + lse)[:, None])
        kld = np.where(p_log_base > F32(-16), terms, F32(0)).sum(axis=1, dtype=np.float64)
        p_diff = np.exp(-nll) - np.exp(-nll_base)
        nll64, base64, pd64 = (a.astype(np.float64) for a in (nll, nll_base, p_diff))
        p_diff2 = (p_diff * p_diff).astype(np.float64)
        self.sum_nll += float(nll64.sum())
        self.sum_nll2 += float(nll64 @ nll64)
        self.sum_nll_base += float(base64.sum())
        self.sum_nll_base2 += float(base64 @ base64)
        self.sum_kld += float(kld.sum())
        self.sum_kld2 += float(kld @ kld)
        self.sum_p_diff += float(pd64.sum())
        self.sum_p_diff2 += float(p_diff2.sum())
        self.sum_p_diff4 += float(p_diff2 @ p_diff2)
        self.n_same_top += int(same.sum())
        self.count += len(block)
        self.kld_values.append(kld.astype(F32))
        self.p_diff_values.append(p_diff.astype(F32))

    def stats(self) -> KldStats:
        if self.count == 0:
            raise ParleyError("no positions were scored for KL divergence")
        kld = np.sort(np.concatenate(self.kld_values))
        kld_mean, kld_se = mean_and_uncertainty(self.sum_kld, self.sum_kld2, self.count)
        dp_mean, dp_se = mean_and_uncertainty(self.sum_p_diff, self.sum_p_diff2, self.count)
        mse, _ = mean_and_uncertainty(self.sum_p_diff2, self.sum_p_diff4, self.count)
        same = self.n_same_top / self.count
        same_se = (same * (1 - same) / (self.count - 1)) ** 0.5 if self.count > 1 else 0.0
        nll_base, _ = mean_and_uncertainty(self.sum_nll_base, self.sum_nll_base2, self.count)
        return KldStats(
            count=self.count, kld_mean=kld_mean, kld_se=kld_se,
            kld_median=float(median(kld)), kld_p99=float(percentile(kld, 0.99)),
            kld_max=float(kld[-1]), same_top=same, same_top_se=same_se, dp_mean=dp_mean,
            dp_se=dp_se, dp_rms=mse ** 0.5, ppl_base=float(np.exp(nll_base)))


@dataclass(frozen=True)
class KldStats:
    count: int
    kld_mean: float
    kld_se: float
    kld_median: float
    kld_p99: float
    kld_max: float
    same_top: float           # fraction, 0…1
    same_top_se: float
    dp_mean: float            # fraction (llama.cpp prints ×100 as %)
    dp_se: float
    dp_rms: float
    ppl_base: float           # the reference's PPL from its stored (quantized) log-probs


def mean_and_uncertainty(total: float, total2: float, count: int) -> tuple[float, float]:
    """llama.cpp's mean ± standard error (0 for ≤ 10 values, as it does)."""
    if count < 1:
        return 0.0, 0.0
    f = total / count
    df = total2 / count - f * f
    return f, (df / (count - 1)) ** 0.5 if df > 0 and count > 10 else 0.0


def percentile(sorted_values: np.ndarray, fraction: float) -> np.float32:
    """llama.cpp's linear-interpolation percentile, in float32 like its lambda."""
    if fraction <= 0:
        return sorted_values[0]
    if fraction >= 1:
        return sorted_values[-1]
    p = F32(fraction) * F32(len(sorted_values) - 1)
    ip = int(p)
    p = p - F32(ip)
    upper = sorted_values[min(ip + 1, len(sorted_values) - 1)]
    return (F32(1) - p) * sorted_values[ip] + p * upper


def median(sorted_values: np.ndarray) -> np.float32:
    n = len(sorted_values)
    if n % 2:
        return sorted_values[n // 2]
    return F32(0.5) * (sorted_values[n // 2] + sorted_values[n // 2 - 1])


class LogProbWriter:
    """Writes a `--kl-divergence-base` file: header and tokens first, then rows as they come."""

    def __init__(self, path: Path, n_ctx: int, n_vocab: int, tokens: np.ndarray) -> None:
        n_chunk = len(tokens) // n_ctx
        self._file: BinaryIO = path.open("wb")
        self._file.write(MAGIC + _HEADER.pack(n_ctx, n_vocab, n_chunk))
        self._file.write(np.ascontiguousarray(tokens[:n_chunk * n_ctx], dtype="<i4").tobytes())

    def write(self, rows: np.ndarray) -> None:
        """Append rows; they are on disk (readable by a `LogProbReader`) when this returns."""
        self._file.write(np.ascontiguousarray(rows, dtype="<u2").tobytes())
        self._file.flush()

    def flush(self) -> None:
        self._file.flush()

    def close(self) -> None:
        self._file.close()


class LogProbReader:
    """Reads a `--kl-divergence-base` file (Parley's or llama.cpp's) row block by row block."""

    def __init__(self, path: Path) -> None:
        self._file: BinaryIO = path.open("rb")
        head = self._file.read(len(MAGIC) + _HEADER.size)
        if len(head) < len(MAGIC) + _HEADER.size or not head.startswith(MAGIC):
            self._file.close()
            raise LogProbFileError(f"{path} does not look like a file of log-probabilities")
        self.n_ctx, self.n_vocab, self.n_chunk = _HEADER.unpack(head[len(MAGIC):])
        count = self.n_ctx * self.n_chunk
        self.tokens = np.frombuffer(self._file.read(4 * count), dtype="<i4").astype(np.int32)
        if len(self.tokens) != count:
            self._file.close()
            raise LogProbFileError(f"{path} ends inside its token list")
        self.width = row_width(self.n_vocab)

    def read(self, n_rows: int) -> np.ndarray:
        data = self._file.read(2 * n_rows * self.width)
        if len(data) != 2 * n_rows * self.width:
            raise LogProbFileError("the reference log-probabilities file ended early")
        return np.frombuffer(data, dtype="<u2").reshape(n_rows, self.width)

    def close(self) -> None:
        self._file.close()
