"""Finished beams kept as transformers' `BeamHypotheses` keeps them: the best `width` by
length-penalised score, and its `is_done` rule for each `early_stopping` setting."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum

NEVER = "never"          # early_stopping's third value, as transformers spells it


class BeamEnd(str, Enum):
    """Why one beam ended."""

    EOG = "eog"                # the model's end-of-generation token (not part of the text)
    STOP = "stop"              # a stop string appeared in its text
    LENGTH = "length"          # max tokens reached
    CANCELLED = "cancelled"    # the search was stopped; the beam was live


@dataclass(frozen=True)
class BeamSettings:
    """A beam search: `width` beams, score ÷ length^`length_penalty`, transformers' rule for
    stopping early (False: its heuristic, True: once `width` beams finished, "never": only when
    no live beam can do better)."""

    width: int
    length_penalty: float = 1.0
    early_stopping: bool | str = False

    def __post_init__(self) -> None:
        if isinstance(self.width, bool) or not isinstance(self.width, int) or self.width < 1:
            raise ValueError(f"beam width must be a whole number ≥ 1, got {self.width!r}")
        if self.early_stopping != NEVER and not isinstance(self.early_stopping, bool):
            raise ValueError(f"early_stopping must be true, false or 'never', "
                             f"got {self.early_stopping!r}")


@dataclass(frozen=True)
class FinishedBeam:
    tokens: tuple[int, ...]        # the generated tokens, without an end-of-generation token
    sum_logprob: float             # natural-log probability of the tokens, summed (an EOG too)
    length: int                    # the length the penalty divides by (an EOG token counts)
    score: float                   # sum_logprob ÷ length ** length_penalty
    end: BeamEnd


def penalised(sum_logprob: float, length: int, length_penalty: float) -> float:
    """transformers' beam score: the summed log-probability ÷ length ** length_penalty."""
    return sum_logprob / (length ** length_penalty)


@dataclass
class BeamHypotheses:
    """The best `settings.width` finished beams so far (transformers' `BeamHypotheses`)."""

    settings: BeamSettings
    max_new_tokens: int
    beams: list[FinishedBeam] = field(default_factory=list)
    worst_score: float = 1e9

    def add(self, tokens: tuple[int, ...], sum_logprob: float, length: int, end: BeamEnd) -> None:
        score = penalised(sum_logprob, length, self.settings.length_penalty)
        width = self.settings.width
        if len(self.beams) < width or score > self.worst_score:
            self.beams.append(FinishedBeam(tokens, sum_logprob, length, score, end))
            if len(self.beams) > width:
                ranked = sorted((b.score, i) for i, b in enumerate(self.beams))
                del self.beams[ranked[0][1]]
                self.worst_score = ranked[1][0]
            else:
                self.worst_score = min(score, self.worst_score)

    def is_done(self, best_sum_logprob: float, cur_len: int) -> bool:
        """Whether no live beam can still enter the list (`cur_len`: generated tokens so far,
        counting the one just chosen)."""
        s = self.settings
        if len(self.beams) < s.width:
            return False
        if s.early_stopping is True:
            return True
        if s.early_stopping == NEVER and s.length_penalty > 0.0:
            best = penalised(best_sum_logprob, self.max_new_tokens, s.length_penalty)
        else:
            best = penalised(best_sum_logprob, cur_len, s.length_penalty)
        return self.worst_score >= best

    def ranked(self) -> list[FinishedBeam]:
        """The finished beams, best first."""
        return sorted(self.beams, key=lambda b: b.score, reverse=True)
