"""Recorded choices in the shape of OpenAI's chat logprobs (`choices[].logprobs.content`):
one entry per token, `{"token", "logprob", "bytes", "top_logprobs": [...]}`."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:                     # no numpy for the server's HTTP front, which shapes too
    from inference.inspector.choice import Inspection

MAX_TOP_LOGPROBS = 20                 # OpenAI's limit for chat's top_logprobs


def text_of(token: bytes) -> str:
    return token.decode("utf-8", errors="replace")


def chat_entry(token: bytes, logprob: float,
               top: Sequence[tuple[bytes, float]]) -> dict[str, Any]:
    """One token's entry: its raw log-probability and its most likely alternatives."""
    return {"token": text_of(token), "logprob": logprob, "bytes": list(token),
            "top_logprobs": [{"token": text_of(t), "logprob": lp, "bytes": list(t)}
                             for t, lp in top]}


def chat_logprobs(inspection: Inspection, n_top: int) -> list[dict[str, Any]]:
    """Every recorded token's entry with its `n_top` most likely alternatives."""
    if not 0 <= n_top <= min(MAX_TOP_LOGPROBS, inspection.n_top):
        raise ValueError(f"top logprobs must be between 0 and {MAX_TOP_LOGPROBS} and at "
                         f"most the {inspection.n_top} candidates recorded, got {n_top}")
    return [chat_entry(piece, choice.logprob,
                       [(inspection.texts[t], lp) for t, lp in choice.top_raw(n_top)])
            for choice, piece in zip(inspection.choices, inspection.pieces, strict=True)]
