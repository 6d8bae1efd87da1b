"""What the inspector keeps of one sampled token (`TokenChoice`) and of a whole reply."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

DEFAULT_TOP = 20                    # candidates kept per token
MAX_TOP = 100                       # the most a caller may ask for (memory stays bounded)
POOL_MAX = 256                      # the most post-penalty logits kept for "what if"


class Stage:
    """Names of the stages of inference.llama.sampler's chain, in the words the UI shows."""

    RAW = "raw"                     # softmax of the model's logits over the whole vocabulary
    PREFILTER = "prefilter"         # the exact top (k + 64) kept before the penalties
    GRAMMAR = "grammar"
    PENALTIES = "penalties"
    TOP_K = "top-k"
    TOP_P = "top-p"
    MIN_P = "min-p"
    TEMPERATURE = "temperature"     # the distribution the draw is made from
    GREEDY = "greedy"               # temperature 0: the most likely token, probability 1


@dataclass(frozen=True)
class TokenChoice:
    """One sampled token: its candidates (the top N by raw probability, then the top N after
    the penalties when those differ, then the drawn token if not among them), and for each
    stage of the chain, in order, each candidate's probability there (0: cut by it) and how
    many tokens of the vocabulary survive it.

    A stage's probability is the softmax of the survivors' logits as that stage leaves them,
    so the last stage's is the distribution the draw is made from (llama-server's
    `post_sampling_probs`). `pool_logits` are the highest post-penalty logits, in the order
    the chain's own top-k left them (most likely first), that "what if" re-shapes
    (`pool_complete`: every token that top-k kept, or with none every post-penalty token,
    is among them).
    """

    token: int                                  # the drawn token
    ids: np.ndarray                             # int32 (C,) candidate token ids
    raw_logprob: np.ndarray                     # float32 (C,) log-softmax over the vocabulary
    stages: tuple[str, ...]                     # Stage names after RAW, in the chain's order
    stage_probs: np.ndarray                     # float32 (S, C)
    survivors: np.ndarray                       # int32 (S,) tokens left after each stage
    entropy: float                              # of the raw distribution, in nats
    pool_logits: np.ndarray = field(default_factory=lambda: np.zeros(0, np.float32))
    pool_ids: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int32))
    pool_complete: bool = False
    pool_cut: int = 0                           # the top-k that cut the pool; 0: none, so a
    #                                             complete pool is every post-penalty token

    @property
    def drawn_index(self) -> int:
        """The drawn token's index among the candidates."""
        return int(np.flatnonzero(self.ids == self.token)[0])

    @property
    def logprob(self) -> float:
        """The drawn token's raw log-probability."""
        return float(self.raw_logprob[self.drawn_index])

    @property
    def final_probs(self) -> np.ndarray:
        """The candidates' probabilities in the distribution the draw was made from."""
        return self.stage_probs[-1]

    def top_raw(self, n: int) -> list[tuple[int, float]]:
        """The `n` most likely candidates as (token, raw log-probability), most likely first
        (ties: lower id first)."""
        order = sorted(range(len(self.ids)),
                       key=lambda i: (-float(self.raw_logprob[i]), int(self.ids[i])))
        return [(int(self.ids[i]), float(self.raw_logprob[i])) for i in order[:n]]

    def nbytes(self) -> int:
        """The memory its arrays hold (the measured bound of docs/ARCHITECTURE.md)."""
        return sum(a.nbytes for a in (self.ids, self.raw_logprob, self.stage_probs,
                                      self.survivors, self.pool_logits, self.pool_ids))


@dataclass
class Inspection:
    """A reply's choices, one per generated token (end-of-generation left out), with each
    token's text as bytes, every candidate's text (`texts`, by token id), the number of
    candidates kept and the sampling settings used."""

    n_top: int
    sampling: dict[str, object]                 # SamplingParams.to_dict() of the reply
    choices: list[TokenChoice] = field(default_factory=list)
    pieces: list[bytes] = field(default_factory=list)
    texts: dict[int, bytes] = field(default_factory=dict)

    def candidate_ids(self) -> set[int]:
        return {int(t) for c in self.choices for t in c.ids.tolist()}

    def add(self, choice: TokenChoice, piece: bytes) -> None:
        self.choices.append(choice)
        self.pieces.append(piece)

    def nbytes(self) -> int:
        return (sum(c.nbytes() for c in self.choices) + sum(len(p) for p in self.pieces)
                + sum(len(t) + 8 for t in self.texts.values()))
