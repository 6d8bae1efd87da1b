"""Which drafter to use and how far it may draft: validated before anything is loaded."""

from __future__ import annotations

from enum import Enum
from pathlib import Path

from inference.common.errors import InvalidSettingError

DRAFT_MAX_LIMIT = 64          # longer drafts only cost: acceptance falls off well before this
# A draft of up to 6 and the token before it make a batch of at most 7 rows: on the CPU,
# llama.cpp computes such a batch bit for bit as one position at a time (from 8 rows its
# matrix code works in tiles that round differently), so greedy text stays exactly the same.
DEFAULT_DRAFT_MAX = 6


class SpeculativeMode(str, Enum):
    OFF = "off"
    LOOKUP = "lookup"          # n-gram prompt lookup: no second model
    DRAFT = "draft"            # a smaller GGUF of the same vocabulary drafts


def parse_mode(value: str | SpeculativeMode) -> SpeculativeMode:
    """The mode named by `value`, or one clear error."""
    try:
        return SpeculativeMode(value)
    except ValueError:
        names = ", ".join(m.value for m in SpeculativeMode)
        raise InvalidSettingError(
            f"speculative decoding must be one of {names}, got {value!r}") from None


def check_settings(mode: SpeculativeMode, draft_model: Path | None, draft_max: int) -> None:
    """One line for the first setting that cannot work."""
    if not 1 <= draft_max <= DRAFT_MAX_LIMIT:
        raise InvalidSettingError(
            f"draft length must be between 1 and {DRAFT_MAX_LIMIT}, got {draft_max}")
    if mode is SpeculativeMode.DRAFT and draft_model is None:
        raise InvalidSettingError("speculative decoding with a draft model needs a draft "
                                  "model file (--draft-model FILE)")
