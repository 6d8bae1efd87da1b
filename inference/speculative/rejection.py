"""The rejection-sampling rule of speculative sampling (Leviathan et al. 2023, Chen et al. 2023).

A draft token x drawn from the draft's distribution q is kept with probability
min(1, p(x) / q(x)), p being the main model's distribution (after its whole sampler chain);
when it is rejected, the token is drawn from the residual max(0, p − q), renormalised. The
token that comes out is then distributed exactly as p, whatever q is.

Both of Parley's drafters are deterministic (n-gram lookup copies, the draft model drafts its
greedy choice): q is one-hot at x, the rule keeps x with probability p(x) and otherwise draws
from p with x taken out. That is the same distribution as drawing y from p and keeping x when
y = x, else emitting y — which is how the engine applies it, with llama.cpp's own sampler chain
drawing y from each verified position's logits (no vocabulary-sized copy into Python).
`tests/speculative/test_rejection.py` checks all three forms against each other.
"""

from __future__ import annotations

import numpy as np


def acceptance_probability(p: np.ndarray, q: np.ndarray, x: int) -> float:
    """min(1, p(x) / q(x)) for a draft token x that q gave a positive probability."""
    if q[x] <= 0.0:
        raise ValueError(f"the draft token {x} has probability 0 under the draft distribution")
    return float(min(1.0, p[x] / q[x]))


def residual(p: np.ndarray, q: np.ndarray) -> np.ndarray:
    """max(0, p − q) renormalised: where a rejected draft's token is drawn from."""
    rest = np.maximum(p - q, 0.0)
    total = rest.sum()
    if total <= 0.0:            # p == q: a rejection cannot happen
        return np.asarray(p, dtype=np.float64)
    return rest / total


def speculative_step(p: np.ndarray, q: np.ndarray, x: int, rng: np.random.Generator
                     ) -> tuple[int, bool]:
    """One verified position: (the token that comes out, whether it is the draft's x)."""
    if rng.random() < acceptance_probability(p, q, x):
        return x, True
    return int(rng.choice(len(p), p=residual(p, q))), False


def output_distribution(p: np.ndarray, q: np.ndarray) -> np.ndarray:
    """The exact distribution of `speculative_step`'s token when x is drawn from q."""
    out = np.zeros(len(p), dtype=np.float64)
    rejected = 0.0
    for x in np.flatnonzero(q > 0):
        keep = acceptance_probability(p, q, int(x))
        out[x] += q[x] * keep
        rejected += q[x] * (1.0 - keep)
    return out + rejected * residual(p, q)


def one_hot(n: int, x: int) -> np.ndarray:
    """A deterministic draft's distribution: all of its mass on x."""
    q = np.zeros(n, dtype=np.float64)
    q[x] = 1.0
    return q


def sample_and_compare(p: np.ndarray, x: int, rng: np.random.Generator) -> tuple[int, bool]:
    """The engine's form for a deterministic draft: draw y from p, keep x only when y = x."""
    y = int(rng.choice(len(p), p=p))
    return y, y == x
