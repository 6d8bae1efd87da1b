"""Turns what the sampler chain shows after each stage into one `TokenChoice` per token.

inference.llama.sampler calls a `ChoiceRecorder` with the raw logits row, then the candidate
array as each stage leaves it (views into llama.cpp's buffer, valid only during the call:
what is needed is copied), then the drawn token. The heavy part is the softmax over the whole
vocabulary (one exp over 262k logits for Gemma); everything after the chain's first cut works
on its few survivors.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from inference.inspector.choice import DEFAULT_TOP, MAX_TOP, POOL_MAX, Stage, TokenChoice

# Stages that narrow or reshape the distribution "what if" re-computes; the one before the
# first of them is its input (the logits after the penalties).
SHAPING = (Stage.TOP_K, Stage.TOP_P, Stage.MIN_P, Stage.TEMPERATURE, Stage.GREEDY)


@dataclass
class _Snapshot:
    name: str
    ids: np.ndarray | None           # None: the whole vocabulary, index = token id
    logits: np.ndarray
    ordered: bool                    # sorted by logit, most likely first (llama.cpp's flag)


def log_sum_exp(logits: np.ndarray) -> float:
    """log Σ exp(l), −inf entries (cut by a grammar) counting as nothing."""
    peak = float(np.max(logits)) if logits.size else -np.inf
    if not np.isfinite(peak):
        return -np.inf
    return peak + float(np.log(np.exp(logits - peak).sum(dtype=np.float64)))


class ChoiceRecorder:
    """Records each sampled token's `TokenChoice` (see `inference.llama.sampler.ChainObserver`);
    `n_top` candidates by raw probability are kept (0…MAX_TOP)."""

    def __init__(self, n_top: int = DEFAULT_TOP) -> None:
        if type(n_top) is not int or not 0 <= n_top <= MAX_TOP:
            raise ValueError(f"the inspector keeps between 0 and {MAX_TOP} candidates, "
                             f"got {n_top!r}")
        self.n_top = n_top
        self.last: TokenChoice | None = None
        self._row = np.zeros(0, np.float32)
        self._weights = np.zeros(0, np.float32)
        self._snapshots: list[_Snapshot] = []

    def raw(self, logits: np.ndarray) -> None:
        """The step's raw logits (one per vocabulary entry), before any stage."""
        self._row = logits
        self._snapshots = []

    def restart(self) -> None:
        """The chain runs again from the raw logits (a grammar refused its first pick)."""
        self._snapshots = []

    def stage(self, name: str, ids: np.ndarray, logits: np.ndarray, ordered: bool) -> None:
        """The candidates as stage `name` leaves them (views, copied here)."""
        if len(ids) == len(self._row) and not ordered:
            # nothing cut or reordered yet (penalties and grammars change logits in place)
            self._snapshots.append(_Snapshot(name, None, logits.copy(), False))
        else:
            self._snapshots.append(_Snapshot(name, ids.copy(), logits.copy(), ordered))

    def drawn(self, token: int, greedy: bool) -> TokenChoice:
        """The token the chain drew (by its last stage: greedy or a seeded draw)."""
        row = self._row
        log_total, entropy = self._softmax(row)
        snaps = self._snapshots
        pool_ids, pool_logits, complete, cut = self._pool()
        ids = self._candidates(token, pool_ids)
        stage_rows = [self._probs(s, ids) for s in snaps]
        survivors = [self._survivors(s) for s in snaps]
        names = [s.name for s in snaps]
        if greedy:
            names.append(Stage.GREEDY)
            stage_rows.append((ids == token).astype(np.float32))
            survivors.append(1)
        choice = TokenChoice(
            token=token, ids=ids, raw_logprob=(row[ids] - np.float32(log_total)).astype(
                np.float32),
            stages=tuple(names),
            stage_probs=np.array(stage_rows, np.float32).reshape(len(names), len(ids)),
            survivors=np.array(survivors, np.int32), entropy=entropy,
            pool_logits=pool_logits, pool_ids=pool_ids, pool_complete=complete, pool_cut=cut)
        self.last = choice
        return choice

    # -- the parts -----------------------------------------------------------------------
    def _softmax(self, row: np.ndarray) -> tuple[float, float]:
        """log Σ exp(logit) over the whole vocabulary, and the entropy (nats)."""
        peak = float(row.max())
        if self._weights.shape != row.shape:
            self._weights = np.empty_like(row)
        weights = self._weights            # kept: a fresh 1 MB array a token costs page faults
        np.subtract(row, np.float32(peak), out=weights)
        np.exp(weights, out=weights)
        total = float(weights.sum())       # float32 pairwise: ~1e-6 relative over 262k terms
        log_total = peak + float(np.log(total))
        return log_total, log_total - float(np.dot(weights, row)) / total

    def _candidates(self, token: int, pool_ids: np.ndarray) -> np.ndarray:
        """Top n_top by raw logit, then the top n_top after the penalties that are not among
        them, then the drawn token if it is not yet there."""
        ids = list(self._raw_top())
        seen = set(ids)
        for t in (*pool_ids[:self.n_top].tolist(), token):
            if t not in seen:
                ids.append(t)
                seen.add(t)
        return np.array(ids, np.int32)

    def _raw_top(self) -> list[int]:
        n = self.n_top
        if n == 0:
            return []
        first = self._snapshots[0] if self._snapshots else None
        if (first is not None and first.ordered and first.ids is not None
                and first.name in (Stage.PREFILTER, Stage.TOP_K) and len(first.ids) >= n):
            return first.ids[:n].tolist()        # llama.cpp sorted them already: free
        row = self._row
        best = np.argpartition(row, -n)[-n:]
        return sorted(best.tolist(), key=lambda t: (-float(row[t]), t))

    def _pool(self) -> tuple[np.ndarray, np.ndarray, bool, int]:
        """The highest post-penalty logits, most likely first (what "what if" re-shapes), and
        whether they are all the chain's first cut kept."""
        base: _Snapshot | None = None
        cut: _Snapshot | None = None
        for snap in self._snapshots:
            if snap.name in SHAPING:
                cut = snap if snap.name == Stage.TOP_K else None
                break
            base = snap
        if cut is not None and cut.ids is not None:
            return (cut.ids[:POOL_MAX].astype(np.int32), cut.logits[:POOL_MAX].astype(
                np.float32), len(cut.ids) <= POOL_MAX, len(cut.ids))
        if base is None:
            ids, logits = None, self._row
        else:
            ids, logits = base.ids, base.logits
        keep = min(POOL_MAX, len(logits))
        best = np.argpartition(logits, -keep)[-keep:]
        best = best[np.lexsort((best, -logits[best]))]
        pool_ids = best if ids is None else ids[best]
        return (pool_ids.astype(np.int32), logits[best].astype(np.float32),
                keep == len(logits), 0)

    @staticmethod
    def _survivors(snap: _Snapshot) -> int:
        return int(np.count_nonzero(np.isfinite(snap.logits)))

    @staticmethod
    def _probs(snap: _Snapshot, ids: np.ndarray) -> np.ndarray:
        log_total = log_sum_exp(snap.logits)
        if snap.ids is None:
            values = snap.logits[ids].astype(np.float64)
        else:                              # a few hundred survivors at most: a dict is cheapest
            at = dict(zip(snap.ids.tolist(), snap.logits.tolist(), strict=True))
            values = np.array([at.get(t, -np.inf) for t in ids.tolist()], np.float64)
        return np.exp(values - log_total).astype(np.float32)
