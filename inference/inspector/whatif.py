""""What if": one position's distribution re-shaped for other temperature / top-k / top-p /
min-p from its stored `TokenChoice` alone (no model call).

Each stage is llama.cpp's own (src/llama-sampler.cpp), in the chain's order and in float32
where llama.cpp computes in float32 (top-p's running sum, min-p's threshold, the division by
the temperature), so the reply's own settings give back its stored final distribution bit for
bit whenever the stored pool holds every token its top-k kept (`WhatIf.exact`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from inference.inspector.choice import TokenChoice
from inference.inspector.recorder import log_sum_exp


@dataclass(frozen=True)
class Shaping:
    """The settings "what if" varies (the penalties stay as the reply had them)."""

    temperature: float
    top_k: int
    top_p: float
    min_p: float

    @classmethod
    def from_sampling(cls, sampling: dict[str, object]) -> Shaping:
        """A reply's own settings (SamplingParams.to_dict())."""
        return cls(float(sampling["temperature"]), int(sampling["top_k"]),  # type: ignore[arg-type]
                   float(sampling["top_p"]), float(sampling["min_p"]))  # type: ignore[arg-type]


@dataclass(frozen=True)
class WhatIf:
    """The candidates' probabilities under `Shaping` (0: cut), the tokens left, and whether
    that is exact (False: tokens beyond the stored pool would have counted)."""

    probs: np.ndarray                # float32, one per TokenChoice candidate
    survivors: int
    exact: bool


def reshape(choice: TokenChoice, shaping: Shaping) -> WhatIf:
    """`choice`'s position as the chain would have sampled it with `shaping`."""
    logits = choice.pool_logits.astype(np.float32)
    ids = choice.pool_ids
    n = len(logits)
    if shaping.top_k > 0:
        n = min(n, shaping.top_k)
    if shaping.temperature > 0:
        if shaping.top_p < 1.0:
            n = _top_p(logits[:n], shaping.top_p)
        if shaping.min_p > 0.0:
            n = _min_p(logits[:n], shaping.min_p)
        kept = logits[:n] / np.float32(shaping.temperature)
        log_total = log_sum_exp(kept)
        probs_kept = np.exp(kept.astype(np.float64) - log_total).astype(np.float32)
    else:                            # greedy: the most likely token, probability 1
        n = 1
        probs_kept = np.ones(1, np.float32)
    exact = choice.pool_complete and (choice.pool_cut == 0
                                      or 0 < shaping.top_k <= choice.pool_cut)
    probs = np.zeros(len(choice.ids), np.float32)
    where = {int(t): i for i, t in enumerate(ids[:n].tolist())}
    for i, token in enumerate(choice.ids.tolist()):
        at = where.get(token)
        if at is not None:
            probs[i] = probs_kept[at]
    return WhatIf(probs, n, exact)


def _top_p(logits: np.ndarray, p: float) -> int:
    """How many sorted logits top-p keeps: llama.cpp's float32 softmax and running sum, up
    to and including the first that reaches p (at least one)."""
    weights = np.exp(logits - logits[0])                   # float32, as expf
    total = np.cumsum(weights, dtype=np.float32)[-1]       # summed in order, as llama.cpp
    cum = np.cumsum(weights / total, dtype=np.float32)
    reached = np.flatnonzero(cum >= np.float32(p))
    return int(reached[0]) + 1 if reached.size else len(logits)


def _min_p(logits: np.ndarray, p: float) -> int:
    """How many sorted logits min-p keeps: those at least the top one's + log(p), the first
    always."""
    threshold = np.float32(logits[0]) + np.log(np.float32(p))      # logf
    below = np.flatnonzero(logits[1:] < threshold)
    return int(below[0]) + 1 if below.size else len(logits)
