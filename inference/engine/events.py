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
    INTERRUPTED = "interrupted"    # a remote engine's stream stopped mid-reply: text is partial


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
class BeamChoice:
    """One finished beam of a beam search, best first in `Finished.beams`."""

    text: str                      # the answer (the thinking apart, a stop string cut off)
    score: float                   # summed log-probability ÷ length^length_penalty
    sum_logprob: float             # natural log, summed over the beam's tokens (an EOG too)
    tokens: int                    # the beam's generated tokens
    finish_reason: FinishReason
    reasoning: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"text": self.text, "reasoning": self.reasoning, "score": self.score,
                "sum_logprob": self.sum_logprob, "tokens": self.tokens,
                "finish_reason": self.finish_reason.value}


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
    beams: tuple[BeamChoice, ...] = ()   # a beam search's finished beams, best (`text`) first
    inspection: Inspection | None = None   # the token inspector's record, when it was asked for

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "text": self.text,
            "reasoning": self.reasoning,
            "finish_reason": self.reason.value,
            "template": self.template,
            "dropped_turns": self.dropped_turns,
            "warnings": list(self.warnings),
            "stats": self.stats.to_dict(),
        }
        if self.beams:
            data["beams"] = [b.to_dict() for b in self.beams]
        return data


@dataclass(frozen=True)
class LoadProgress:
    fraction: float                # 0 … 1


GenerationEvent = PromptRendered | PrefillProgress | TokenEvent | Finished
