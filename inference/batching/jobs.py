"""A request on its way through the batch engine (`Job`) and the slot that runs it (`Slot`)."""

from __future__ import annotations

import queue
from dataclasses import dataclass, field
from enum import Enum

from inference.batching.logprobs import TokenLogprobs
from inference.common.cancel import CancelToken
from inference.engine.engine import ReplyRun
from inference.engine.events import Finished, FinishReason, GenerationEvent
from inference.engine.metrics import StatsClock
from inference.engine.prompts import BuiltPrompt
from inference.engine.requests import GenerationRequest
from inference.speculative.drafter import Drafter

# What the scheduler hands a caller: an event (a token's log-probabilities, when asked for,
# come just before that token's text), an error to raise there, or None (no more).
Outcome = GenerationEvent | TokenLogprobs | BaseException | None


class LinkedCancel(CancelToken):
    """A job's own cancel flag, also set whenever the caller's token is."""

    def __init__(self, outer: CancelToken | None = None) -> None:
        super().__init__()
        self._outer = outer

    @property
    def cancelled(self) -> bool:
        return super().cancelled or (self._outer is not None and self._outer.cancelled)


@dataclass
class Job:
    """One submitted request: its built prompt, its cancel and the queue its events go to."""

    request: GenerationRequest
    built: BuiltPrompt
    cancel: LinkedCancel
    started: float                                  # t0, before the prompt was built
    n_ctx: int                                      # the tokens its sequence may hold
    top_logprobs: int | None = None                 # None: no log-probabilities; else the
    #                                                 alternatives wanted per token (0…20)
    outcomes: queue.Queue[Outcome] = field(default_factory=queue.Queue)

    def send(self, outcome: Outcome) -> None:
        self.outcomes.put(outcome)

    def cancelled_while_queued(self) -> None:
        """End a job that never reached a slot: one `Finished` with reason cancelled."""
        built = self.built
        stats = StatsClock(prompt_tokens=len(built.tokens), n_ctx=self.n_ctx,
                           t0=self.started).snapshot(0)
        self.send(Finished(FinishReason.CANCELLED, "", stats, built.text, built.template,
                           built.dropped_turns, built.warnings))
        self.send(None)


class SlotState(str, Enum):
    IDLE = "idle"                  # no request; its cached tokens wait for a prefix to reuse
    PREFILL = "prefill"            # evaluating its prompt, a chunk per step
    GENERATING = "generating"      # one token per step


@dataclass
class Slot:
    """One KV-cache sequence of the context and the request it serves."""

    seq_id: int
    kv_tokens: list[int] = field(default_factory=list)   # cached in this sequence, in order
    state: SlotState = SlotState.IDLE
    job: Job | None = None
    run: ReplyRun | None = None
    next_token: int = -1           # GENERATING: the sampled token the next step evaluates
    drafter: Drafter | None = None  # speculative decoding: this sequence's own (kept between
    #                                 requests, so a conversation's n-gram cache serves its next)
    draft: list[int] = field(default_factory=list)   # the tokens drafted after next_token for
    #                                                  the step being decoded

    def assign(self, job: Job, run: ReplyRun) -> None:
        self.job, self.run, self.state = job, run, SlotState.PREFILL

    def release(self) -> None:
        if self.run is not None:
            self.run.close()
        self.job, self.run, self.state, self.next_token = None, None, SlotState.IDLE, -1
        self.draft = []


REUSE_MIN_TOKENS = 16    # a cached prefix shorter than this (unless it is the whole prompt) is
#                          not worth taking a slot out of order for


def choose_slot(free: list[Slot], tokens: list[int]) -> Slot:
    """The free slot for a prompt: the one whose cache holds the longest worthwhile prefix of
    it, else the lowest-numbered. llama.cpp's non-unified cache computes only consecutive
    sequence ids in one ubatch, so slots taken out of order (say 0, 1, 5, 7) cost a whole pass
    through the model for each gap at every step (measured: 4 clients over HTTP at 0.76× of
    llama-server after earlier rounds had scattered them, 1.00× on a fresh server)."""
    def key(slot: Slot) -> tuple[int, int]:
        shared = common_prefix(slot.kv_tokens, tokens)
        worth = shared >= min(REUSE_MIN_TOKENS, len(tokens) - 1)
        return (shared if worth else 0, -slot.seq_id)
    return max(free, key=key)


def common_prefix(a: list[int], b: list[int]) -> int:
    """Length of the longest common prefix of two token lists."""
    n, limit = 0, min(len(a), len(b))
    while n < limit and a[n] == b[n]:
        n += 1
    return n
