"""`BatchEngine`: one model, one llama.cpp context of N sequences, many callers at once.

Each caller's `submit` builds its prompt exactly as `Engine.generate` does (in the caller's
thread, one build at a time: a chat template renders under one budget at a time), then waits in a
FIFO queue for a free slot; the scheduler thread (`scheduler.py`) runs every slot at once. The
context is not unified (llama.cpp's `kv_unified` off, its default for a fixed number of
sequences): each sequence holds at most n_ctx_seq = n_ctx / N tokens (llama.cpp rounds it up to a
multiple of 256), and every prompt is fitted into that.

Speculative decoding here is prompt lookup, a drafter for each slot (`--speculative lookup`);
a draft model drafts for one sequence at a time (the in-process `Engine`), so it is refused.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Iterator

from inference.batching.jobs import Job, LinkedCancel
from inference.batching.logprobs import MAX_TOP, TokenLogprobs
from inference.batching.scheduler import Scheduler
from inference.common import limits
from inference.common.cancel import CancelToken
from inference.common.errors import GenerationError, InvalidSettingError, NoModelLoadedError
from inference.engine.api import LoadedModel, ProgressCallback, RenderedPrompt
from inference.engine.config import ModelConfig
from inference.engine.engine import Session, build_for, open_session, rendered
from inference.engine.events import Finished, GenerationEvent, PromptRendered
from inference.engine.prompts import BuiltPrompt
from inference.engine.requests import GenerationRequest
from inference.llama.chunked_tokenize import tokenize_chunked
from inference.llama.grammar import check_grammar
from inference.speculative.lookup import NgramLookup
from inference.speculative.settings import SpeculativeMode

POLL_S = 0.5             # a waiting caller looks whether the scheduler still runs this often


class BatchEngine:
    """N slots over one context; `submit` may be called from many threads at once."""

    def __init__(self, n_slots: int = 4) -> None:
        self._n_slots = limits.check("n_parallel", n_slots)
        self._session: Session | None = None
        self._scheduler: Scheduler | None = None
        self._build_lock = threading.Lock()
        self._load_lock = threading.Lock()

    @property
    def loaded(self) -> LoadedModel | None:
        return self._session.loaded if self._session else None

    @property
    def n_slots(self) -> int:
        return self._n_slots

    @property
    def n_ctx_seq(self) -> int:
        """The tokens one sequence (one request's prompt and reply) may hold."""
        return self._require()[0].ctx.n_ctx_seq

    # -- loading ------------------------------------------------------------------------------
    def load(self, config: ModelConfig, progress: ProgressCallback | None = None,
             cancel: CancelToken | None = None) -> LoadedModel:
        """Load like `Engine.load`: n_ctx in all, n_seq_max = n_slots."""
        if config.n_batch < self._n_slots:
            raise InvalidSettingError(
                f"batch size must be at least the {self._n_slots} parallel slots (every slot "
                f"puts a token into each step's batch), got {config.n_batch}")
        if config.speculative is SpeculativeMode.DRAFT:
            raise InvalidSettingError(
                "a draft model drafts for one reply at a time: with parallel slots (parley "
                "serve) speculative decoding is prompt lookup (--speculative lookup)")
        draft_max = config.draft_max
        drafter = ((lambda: NgramLookup(draft_max))
                   if config.speculative is SpeculativeMode.LOOKUP else None)
        with self._load_lock:
            self._unload()
            session = open_session(config, progress, cancel, n_seq_max=self._n_slots)
            self._session = session
            self._scheduler = Scheduler(session, self._n_slots, drafter)
            return session.loaded

    def unload(self) -> None:
        """Running and queued requests end with reason cancelled; then the model is freed."""
        with self._load_lock:
            self._unload()

    def _unload(self) -> None:
        session, scheduler = self._session, self._scheduler
        self._session = self._scheduler = None
        if scheduler is not None:
            scheduler.stop()
        if session is not None:
            session.close()

    def close(self) -> None:
        self.unload()

    # -- prompts ------------------------------------------------------------------------------
    def tokenize(self, text: str, add_bos: bool = True) -> list[int]:
        return tokenize_chunked(self._require()[0].model, text, add_special=add_bos)

    def render(self, request: GenerationRequest) -> RenderedPrompt:
        return rendered(self._build(self._require()[0], request, None))

    def _build(self, s: Session, request: GenerationRequest,
               cancel: CancelToken | None) -> BuiltPrompt:
        with self._build_lock:
            return build_for(s, request, s.ctx.n_ctx_seq, cancel)

    # -- generation ---------------------------------------------------------------------------
    def queue_length(self) -> int:
        """Requests waiting for a free slot."""
        return self._scheduler.queue_length() if self._scheduler else 0

    def active_slots(self) -> int:
        """Slots serving a request now."""
        return self._scheduler.active_slots() if self._scheduler else 0

    def submit(self, request: GenerationRequest, cancel: CancelToken | None = None, *,
               top_logprobs: int | None = None
               ) -> Iterator[GenerationEvent | TokenLogprobs]:
        """PromptRendered, TokenEvent…, Finished, as `Engine.generate`; closing the iterator
        (or `cancel`) frees the slot at the scheduler's next step, reason cancelled.

        With `top_logprobs` (0…20) every reply token's `TokenLogprobs` comes just before its
        text. A grammar llama.cpp refuses is raised here, before the prompt is rendered."""
        if top_logprobs is not None and (type(top_logprobs) is not int
                                         or not 0 <= top_logprobs <= MAX_TOP):
            raise InvalidSettingError(f"top logprobs must be between 0 and {MAX_TOP}, got "
                                      f"{top_logprobs!r}")
        if request.sampling.beam_search:      # its W beams need a context of their own
            raise InvalidSettingError("beam search runs in the single-sequence engine "
                                      "(parley generate --beams), not in the batch engine")
        s, scheduler = self._require()
        started = time.perf_counter()          # t0: before rendering, as Engine's
        if request.sampling.grammar:
            check_grammar(s.model, request.sampling.grammar)
        built = self._build(s, request, cancel)
        yield PromptRendered(rendered(built))
        job = Job(request, built, LinkedCancel(cancel), started, s.ctx.n_ctx_seq, top_logprobs)
        scheduler.submit(job)
        done = False
        try:
            while True:
                try:
                    outcome = job.outcomes.get(timeout=POLL_S)
                except queue.Empty:
                    if not scheduler.alive and job.outcomes.empty():
                        raise GenerationError(
                            "the batch scheduler stopped before this request ended") from None
                    continue
                if outcome is None:
                    done = True
                    return
                if isinstance(outcome, BaseException):
                    done = True
                    raise outcome
                if isinstance(outcome, Finished):
                    done = True
                yield outcome
        finally:
            if not done:
                job.cancel.cancel()
                scheduler.wake()

    def _require(self) -> tuple[Session, Scheduler]:
        session, scheduler = self._session, self._scheduler
        if session is None or scheduler is None:
            raise NoModelLoadedError()
        return session, scheduler
