"""What a generation yields: the rendered prompt first, prefill progress on a long prompt, token
pieces while it streams, then one Finished event."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import TYPE_CHECKING, Any

from inference.engine.metrics import GenerationStats

if TYPE_CHECKING:
    from inference.engine.api import RenderedPrompt
    from inference.inspector.choice import Inspection


class FinishReason(str, Enum):
    STOP = "stop"                  # end-of-generation token or a stop string
    LENGTH = "length"              # max tokens reached
    CANCELLED = "cancelled"        # the user stopped it: a normal ending
    CONTEXT_FULL = "context_full"  # the KV cache is full


@dataclass(frozen=True)
class PromptRendered:
    """A generation's first event: the prompt as rendered and tokenized, before it is run."""

    prompt: RenderedPrompt


@dataclass(frozen=True)
class PrefillProgress:
    """Between the prompt's n_batch chunks (a prompt of more than one chunk): `done` of `total`
    prompt tokens evaluated, tokens reused from the KV cache not counted."""

    done: int
    total: int


@dataclass(frozen=True)
class TokenEvent:
    text: str                      # always whole UTF-8 characters
    index: int                     # 0-based output token index of the last token in `text`
    stats: GenerationStats | None = None   # a live snapshot, attached a few times a second
    reasoning: bool = False        # the text is part of the model's thinking, not its answer


@dataclass(frozen=True)
class Finished:
    reason: FinishReason
    text: str
    stats: GenerationStats
    prompt: str = ""
    template: str = ""
    dropped_turns: int = 0
    warnings: tuple[str, ...] = field(default_factory=tuple)
    reasoning: str = ""            # the model's thinking; `text` is the answer alone
    inspection: Inspection | None = None   # the token inspector's record, when it was asked for

    def to_dict(self) -> dict[str, Any]:
        return {
            "text": self.text,
            "reasoning": self.reasoning,
            "finish_reason": self.reason.value,
            "template": self.template,
            "dropped_turns": self.dropped_turns,
            "warnings": list(self.warnings),
            "stats": self.stats.to_dict(),
        }


@dataclass(frozen=True)
class LoadProgress:
    fraction: float                # 0 … 1


GenerationEvent = PromptRendered | PrefillProgress | TokenEvent | Finished
