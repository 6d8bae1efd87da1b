"""A prompt of several n_batch chunks says how far its evaluation has got (PrefillProgress), in
the engine and through the engine process, before the first token; one chunk says nothing."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import pytest

from inference.engine.config import ModelConfig
from inference.engine.engine import Engine
from inference.engine.events import Finished, GenerationEvent, PrefillProgress, TokenEvent
from inference.engine.requests import GenerationRequest, Mode
from inference.engine.sampling import SamplingParams
from inference.host.host import EngineHost

pytestmark = pytest.mark.model
N_BATCH = 64
LONG = "The river runs past the old mill and on towards the sea. " * 30     # ~400 tokens
GREEDY = SamplingParams(temperature=0, max_tokens=2)


def _order(events: Iterable[GenerationEvent]) -> tuple[list[PrefillProgress], Finished, bool]:
    """The progress events, the Finished, and whether every progress came before any token."""
    progress: list[PrefillProgress] = []
    tokens_seen, before = False, True
    finished = None
    for event in events:
        if isinstance(event, PrefillProgress):
            progress.append(event)
            before = before and not tokens_seen
        elif isinstance(event, TokenEvent):
            tokens_seen = True
        elif isinstance(event, Finished):
            finished = event
    assert finished is not None
    return progress, finished, before


@pytest.mark.parametrize("engine_kind", [Engine, EngineHost])
def test_a_long_prompt_reports_each_chunk_before_the_first_token(engine_kind,
                                                                 starter_model_path: Path
                                                                 ) -> None:
    engine = engine_kind()
    try:
        engine.load(ModelConfig(starter_model_path, n_ctx=1024, n_batch=N_BATCH,
                                n_ubatch=N_BATCH, n_threads=2))
        request = GenerationRequest(Mode.TEXT, text=LONG, sampling=GREEDY)
        progress, done, before = _order(engine.generate(request))
        total = done.stats.prompt_tokens - done.stats.cached_tokens
        assert before and len(progress) == (total - 1) // N_BATCH
        assert [p.done for p in progress] == [N_BATCH * (i + 1) for i in range(len(progress))]
        assert all(p.total == total and p.done < total for p in progress)
        short = GenerationRequest(Mode.TEXT, text="Once upon a time", sampling=GREEDY)
        assert _order(engine.generate(short))[0] == []                  # one chunk: silent
    finally:
        engine.close()
