"""Log-probabilities of a sampled token and its most likely alternatives, from one logits row.

They are the log-softmax of the model's raw logits — the distribution before any penalty,
grammar, top-k/p or temperature — because that is what OpenAI documents ("the log probability
of this token") and what llama-server reports by default (`post_sampling_probs` off). The
distribution after the sampler chain would depend on settings that have nothing to do with
how likely the model found the token, and is −inf for every token a top-k or a grammar cut.
Computed only for a request that asks (about 2 ms a token over a 262k vocabulary).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

MAX_TOP = 20                       # OpenAI's top_logprobs limit


@dataclass(frozen=True)
class TokenLogprobs:
    """One reply token's bytes and log-probability, and the `top` most likely tokens of the
    same step as (bytes, log-probability), most likely first."""

    token: bytes
    logprob: float
    top: tuple[tuple[bytes, float], ...] = ()


def token_logprobs(logits: np.ndarray, token: int, n_top: int, token_bytes: bytes,
                   piece: Callable[[int], bytes]) -> TokenLogprobs:
    """`token`'s entry from its step's raw `logits` row (float32, one per vocabulary entry),
    with the `n_top` (0…MAX_TOP) most likely tokens, their bytes from `piece`."""
    if not 0 <= n_top <= MAX_TOP:
        raise ValueError(f"n_top must be between 0 and {MAX_TOP}, got {n_top}")
    peak = float(logits.max())            # log Σ exp(l) = peak + log Σ exp(l − peak) ≥ peak
    log_total = peak + float(np.log(np.exp(logits - peak).sum(dtype=np.float64)))
    top: tuple[tuple[bytes, float], ...] = ()
    if n_top:
        best = np.argpartition(logits, -n_top)[-n_top:]
        order = sorted(best.tolist(), key=lambda t: (-float(logits[t]), t))
        top = tuple((piece(t), float(logits[t]) - log_total) for t in order)
    return TokenLogprobs(token_bytes, float(logits[token]) - log_total, top)
