"""Batch engines on the real starter model, and a helper that streams a request in a thread."""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from inference.batching.engine import BatchEngine
from inference.common.cancel import CancelToken
from inference.engine.config import ModelConfig
from inference.engine.events import Finished, GenerationEvent, TokenEvent
from inference.engine.requests import GenerationRequest, Mode
from inference.engine.sampling import SamplingParams

SEQ_CTX = 256             # tokens per sequence (llama.cpp's smallest: one 256-cell block)
WAIT_S = 120.0            # the longest any test waits for one thing (2 busy cores)


def text_request(text: str, max_tokens: int = 8, **sampling: object) -> GenerationRequest:
    params = {"temperature": 0.0, **sampling}
    return GenerationRequest(mode=Mode.TEXT, text=text,
                             sampling=SamplingParams(max_tokens=max_tokens, **params))


def load_batch(model: Path, n_slots: int) -> BatchEngine:
    engine = BatchEngine(n_slots)
    engine.load(ModelConfig(model, n_ctx=SEQ_CTX * n_slots, n_threads=2))
    return engine


@pytest.fixture(scope="module")
def batch2(starter_model_path: Path) -> Iterator[BatchEngine]:
    engine = load_batch(starter_model_path, 2)
    yield engine
    engine.close()


class Streamed:
    """One request iterated in a thread of its own; its events land in `events`."""

    def __init__(self, engine: BatchEngine, request: GenerationRequest) -> None:
        self.cancel = CancelToken()
        self.events: list[GenerationEvent] = []
        self.error: BaseException | None = None
        self._arrived: queue.Queue[None] = queue.Queue()
        self._iter = engine.submit(request, self.cancel)
        self.thread = threading.Thread(target=self._pump, daemon=True)
        self.thread.start()

    def _pump(self) -> None:
        try:
            for event in self._iter:
                self.events.append(event)
                self._arrived.put(None)
        except BaseException as exc:  # kept for the test to assert on
            self.error = exc
        self._arrived.put(None)

    @property
    def finished(self) -> Finished | None:
        last = self.events[-1] if self.events else None
        return last if isinstance(last, Finished) else None

    @property
    def tokens_seen(self) -> int:
        return sum(1 for e in self.events if isinstance(e, TokenEvent))

    def result(self, timeout: float = WAIT_S) -> Finished:
        self.thread.join(timeout)
        assert not self.thread.is_alive(), "the request did not end in time"
        if self.error is not None:
            raise self.error
        assert self.finished is not None
        return self.finished


def wait_until(condition: Callable[[], bool], timeout: float = WAIT_S) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out waiting"
        time.sleep(0.01)
