"""Sampling parameters: a validated value object, with the ranges the UI and CLI share."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from typing import Any

from inference.common.errors import InvalidSettingError


@dataclass(frozen=True)
class Range:
    low: float
    high: float
    help: str
    low_exclusive: bool = False     # the value must be greater than `low`, not equal to it

    def contains(self, value: float) -> bool:
        above = value > self.low if self.low_exclusive else value >= self.low
        return above and value <= self.high

    def describe(self) -> str:
        """"between 0 and 5" or "greater than 0 and at most 5"."""
        if self.low_exclusive:
            return f"greater than {_fmt(self.low)} and at most {_fmt(self.high)}"
        return f"between {_fmt(self.low)} and {_fmt(self.high)}"


MAX_BEAMS = 64                # 2 × 64 sequences: half of llama.cpp's LLAMA_MAX_SEQ (256)

# The one table of limits; the GUI sliders and the CLI use it too.
SAMPLING_RANGES: dict[str, Range] = {
    "temperature": Range(0.0, 5.0, "Randomness. 0 always takes the most likely token (greedy)."),
    "top_k": Range(0, 1000, "Sample only among the k most likely tokens. 0 turns it off."),
    "top_p": Range(0.0, 1.0, "Keep the smallest set of tokens whose probabilities add up to p."),
    "min_p": Range(0.0, 1.0, "Drop tokens less likely than min-p × the top token's probability."),
    # llama.cpp divides positive logits by the penalty, so it must be above 0
    "repeat_penalty": Range(0.0, 5.0, "Penalise tokens seen in the last 64; 1 turns it off.",
                            low_exclusive=True),
    # OpenAI's range; llama.cpp subtracts them from the logits of the tokens in the same window
    "presence_penalty": Range(-2.0, 2.0, "Subtract this from the logit of every token seen in "
                              "the last 64 (below 0 favours them); 0 turns it off."),
    "frequency_penalty": Range(-2.0, 2.0, "Subtract this from a token's logit for each time it "
                               "was seen in the last 64 (below 0 favours them); 0 turns it off."),
    "seed": Range(-1, 2**32 - 2, "Random seed; the same seed and settings give the same text. "
                  "-1 picks a new one each time."),
    "max_tokens": Range(1, 1_000_000, "The most tokens one reply may have."),
    "beams": Range(0, MAX_BEAMS, "Beam search width: follow this many continuations at once and "
                   "keep the most likely whole reply (sampling settings then do nothing); "
                   "0 samples instead."),
    "length_penalty": Range(-10.0, 10.0, "Beam search: a beam's score is its summed "
                            "log-probability ÷ length^this; above 0 favours longer replies, "
                            "below 0 shorter ones."),
}

REPEAT_LAST_N = 64


def sampling_help(name: str) -> str:
    """What setting `name` does and its range: the sliders' tooltips and the token inspector's
    definitions both read it, so they say the same."""
    rng = SAMPLING_RANGES[name]
    return f"{rng.help}\nRange: {rng.describe()}."


@dataclass(frozen=True)
class SamplingParams:
    temperature: float = 0.8
    top_k: int = 40
    top_p: float = 0.95
    min_p: float = 0.05
    repeat_penalty: float = 1.1
    presence_penalty: float = 0.0
    frequency_penalty: float = 0.0
    seed: int = -1
    max_tokens: int = 512
    stop: tuple[str, ...] = field(default_factory=tuple)
    grammar: str = ""              # a llama.cpp GBNF grammar the reply must follow; "" for none
    beams: int = 0                 # beam search width; 0: sample with the settings above
    length_penalty: float = 1.0    # beam search: score = summed log-probability ÷ length^this
    early_stopping: bool | str = False   # beam search: True, False or "never", as transformers

    def __post_init__(self) -> None:
        for name, rng in SAMPLING_RANGES.items():
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise InvalidSettingError(f"{name.replace('_', '-')} must be a number, "
                                          f"got {value!r}")
            if name in ("top_k", "seed", "max_tokens", "beams") and int(value) != value:
                raise InvalidSettingError(f"{name.replace('_', '-')} must be a whole number, "
                                          f"got {value}")
            if not rng.contains(value):
                raise InvalidSettingError(
                    f"{name.replace('_', '-')} must be {rng.describe()}, got {_fmt(value)}")
        if not isinstance(self.stop, tuple):
            object.__setattr__(self, "stop", tuple(self.stop))
        if any(not isinstance(s, str) or not s for s in self.stop):
            raise InvalidSettingError("stop strings must be non-empty text")
        if not isinstance(self.grammar, str):
            raise InvalidSettingError(f"grammar must be GBNF text, got {self.grammar!r}")
        if not (isinstance(self.early_stopping, bool) or self.early_stopping == "never"):
            raise InvalidSettingError(f"early-stopping must be true, false or \"never\", "
                                      f"got {self.early_stopping!r}")
        if self.beams and self.grammar:
            raise InvalidSettingError("beam search cannot follow a grammar: turn one of them off")

    @property
    def beam_search(self) -> bool:
        """Whether the reply comes from a beam search, not from sampling."""
        return self.beams > 0

    @property
    def greedy(self) -> bool:
        return self.temperature == 0

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["stop"] = list(self.stop)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SamplingParams:
        known = {f.name for f in fields(cls)}
        return cls(**{k: (tuple(v) if k == "stop" else v) for k, v in data.items() if k in known})


def _fmt(value: float) -> str:
    """Whole numbers in full ("4294967294", not "4.29497e+09"); others as short decimals."""
    if isinstance(value, int) or (float(value).is_integer() and abs(value) < 1e15):
        return str(int(value))
    return f"{value:g}"
