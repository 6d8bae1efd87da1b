"""What the decode loop asks of a drafter."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol


class Drafter(Protocol):
    """Proposes the tokens likely to follow a sequence; the main model verifies them."""

    def begin(self, prompt: Sequence[int]) -> None:
        """A reply over `prompt` starts (a drafter may keep what it learned from earlier ones)."""

    def draft(self, tokens: Sequence[int], limit: int) -> list[int]:
        """At most `limit` tokens to follow `tokens` (the prompt and the reply so far, ending
        with the token about to be evaluated); [] when it has no good guess."""

    def verified(self, drafted: int, accepted: int) -> None:
        """Of the last draft's `drafted` tokens the main model kept the first `accepted`."""

    def close(self) -> None:
        """Free what the drafter holds (a draft model's native memory)."""
