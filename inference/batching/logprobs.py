"""Log-probabilities of a sampled token and its most likely alternatives, from the token
inspector's record of its step (inference.inspector: the one place they are computed).

They are the log-softmax of the model's raw logits — the distribution before any penalty,
grammar, top-k/p or temperature — because that is what OpenAI documents ("the log probability
of this token") and what llama-server reports by default (`post_sampling_probs` off). The
distribution after the sampler chain would depend on settings that have nothing to do with
how likely the model found the token, and is −inf for every token a top-k or a grammar cut.
Computed only for a request that asks.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from inference.inspector.choice import TokenChoice
from inference.inspector.recorder import ChoiceRecorder

MAX_TOP = 20                       # OpenAI's top_logprobs limit


@dataclass(frozen=True)
class TokenLogprobs:
    """One reply token's bytes and log-probability, and the `top` most likely tokens of the
    same step as (bytes, log-probability), most likely first."""

    token: bytes
    logprob: float
    top: tuple[tuple[bytes, float], ...] = ()


def logprobs_of(choice: TokenChoice, n_top: int, token_bytes: bytes,
                piece: Callable[[int], bytes]) -> TokenLogprobs:
    """The entry of the token `choice` recorded, with its `n_top` (0…MAX_TOP) most likely
    alternatives, their bytes from `piece`."""
    if not 0 <= n_top <= MAX_TOP:
        raise ValueError(f"n_top must be between 0 and {MAX_TOP}, got {n_top}")
    top = tuple((piece(t), lp) for t, lp in choice.top_raw(n_top))
    return TokenLogprobs(token_bytes, choice.logprob, top)


def token_logprobs(logits: np.ndarray, token: int, n_top: int, token_bytes: bytes,
                   piece: Callable[[int], bytes]) -> TokenLogprobs:
    """`token`'s entry from its step's raw `logits` row (float32, one per vocabulary entry)."""
    if not 0 <= n_top <= MAX_TOP:
        raise ValueError(f"n_top must be between 0 and {MAX_TOP}, got {n_top}")
    recorder = ChoiceRecorder(n_top)
    recorder.raw(logits)
    return logprobs_of(recorder.drawn(token, greedy=False), n_top, token_bytes, piece)
