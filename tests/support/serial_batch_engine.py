"""SerialBatchEngine: the BatchEngine interface over the real in-process Engine, behind a lock.

A stand-in for inference.batching's BatchEngine while it is written (and a reference to compare
it with): every `submit` runs the real `Engine.generate`, one at a time in arrival order; a
waiting one counts in `queue_length`. tests/server/test_serial_batch_engine.py checks that its
members and signatures match BatchEngine's once that exists.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator

from inference.batching.logprobs import TokenLogprobs
from inference.common.cancel import CancelToken
from inference.common.errors import InvalidSettingError
from inference.engine.api import LoadedModel, ProgressCallback, RenderedPrompt
from inference.engine.config import ModelConfig
from inference.engine.engine import Engine
from inference.engine.events import Finished, FinishReason, GenerationEvent
from inference.engine.metrics import GenerationStats
from inference.engine.requests import GenerationRequest


class SerialBatchEngine:
    """The real Engine, one request at a time, behind BatchEngine's interface."""

    def __init__(self, n_slots: int = 4) -> None:
        self._n_slots = n_slots
        self._engine = Engine()
        self._lock = threading.Lock()          # the one llama.cpp context, one caller at a time
        self._count = threading.Lock()         # guards the two counters below
        self._waiting = 0
        self._active = 0

    @property
    def loaded(self) -> LoadedModel | None:
        return self._engine.loaded

    @property
    def n_slots(self) -> int:
        return self._n_slots

    def load(self, config: ModelConfig, progress: ProgressCallback | None = None,
             cancel: CancelToken | None = None) -> LoadedModel:
        with self._lock:
            return self._engine.load(config, progress, cancel)

    def submit(self, request: GenerationRequest, cancel: CancelToken | None = None, *,
               top_logprobs: int | None = None
               ) -> Iterator[GenerationEvent | TokenLogprobs]:
        """Engine.generate's events, once the requests before this one have ended (the
        in-process Engine computes no log-probabilities: asking for them is refused)."""
        if top_logprobs is not None:
            raise InvalidSettingError("the serial stand-in computes no log-probabilities")
        with self._count:
            self._waiting += 1
        acquired = False
        try:
            while not acquired:
                acquired = self._lock.acquire(timeout=0.05)
                if not acquired and cancel is not None and cancel.cancelled:
                    break
            with self._count:
                self._waiting -= 1
                self._active += int(acquired)
            if not acquired:                         # cancelled while queued: a normal ending
                yield from self._cancelled_in_queue()
                return
            yield from self._engine.generate(request, cancel)
        finally:
            if acquired:
                with self._count:
                    self._active -= 1
                self._lock.release()

    def queue_length(self) -> int:
        with self._count:
            return self._waiting

    def active_slots(self) -> int:
        with self._count:
            return self._active

    def tokenize(self, text: str, add_bos: bool = True) -> list[int]:
        with self._lock:
            return self._engine.tokenize(text, add_bos)

    def render(self, request: GenerationRequest) -> RenderedPrompt:
        with self._lock:
            return self._engine.render(request)

    def close(self) -> None:
        with self._lock:
            self._engine.close()

    @staticmethod
    def _cancelled_in_queue() -> Iterator[GenerationEvent]:
        """A request cancelled before its turn ends as a cancel does: one Finished, no text."""
        yield Finished(FinishReason.CANCELLED, "", GenerationStats())
