"""Adaptive draft length, shared by the drafters."""

from __future__ import annotations

from dataclasses import dataclass

START = 4            # a first draft's length (capped by the maximum)
MAX_PAUSE = 32       # the longest pause, in decode steps, after drafts the model rejected


@dataclass
class DraftLength:
    """How long the next draft may be: it grows by half after a draft the model kept whole,
    shrinks to just past what was kept after a partial one, and halves after a draft rejected
    at its first token. Rejected drafts in a row also pause drafting for 1, 3, 7 … steps (at
    most `MAX_PAUSE`), so text with nothing to copy costs almost nothing."""

    maximum: int
    current: int = 0
    misses: int = 0           # drafts in a row rejected at their first token
    pause: int = 0            # decode steps left without a draft

    def __post_init__(self) -> None:
        self.current = self.current or min(START, self.maximum)

    def allowed(self) -> int:
        """The length the next draft may have (0: pause this step)."""
        if self.pause > 0:
            self.pause -= 1
            return 0
        return self.current

    def update(self, drafted: int, accepted: int) -> None:
        if drafted <= 0:
            return
        if accepted >= drafted:
            self.misses = 0
            self.current = min(self.maximum, self.current + max(1, self.current // 2))
        elif accepted > 0:
            self.misses = 0
            self.current = max(1, min(self.current, accepted + 2))
        else:
            self.misses += 1
            self.current = max(1, self.current // 2)
            self.pause = min(MAX_PAUSE, 2 ** self.misses - 1)
