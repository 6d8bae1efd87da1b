"""Engines shared by the speculative tests: plain decoding with exact batches (the reference)
and speculative decoding, each loaded once per module that asks."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from inference.engine.config import ModelConfig
from inference.engine.engine import Engine
from inference.engine.events import Finished
from inference.engine.requests import GenerationRequest
from tests.support.quant_ladder import session_ladder

N_CTX = 1024


def open_engine(path: Path, **settings: object) -> Engine:
    engine = Engine()
    settings = {"n_ctx": N_CTX, "n_threads": 2, **settings}
    engine.load(ModelConfig(path, **settings))   # type: ignore[arg-type]
    return engine


def finish(engine: Engine, request: GenerationRequest, fresh: bool = False) -> Finished:
    """The request's `Finished`; `fresh`: on an empty cache (see test_lossless)."""
    if fresh:
        engine.clear_cache()
    events = list(engine.generate(request))
    final = events[-1]
    assert isinstance(final, Finished)
    return final


@pytest.fixture(scope="session")
def ladder(tmp_path_factory: pytest.TempPathFactory, starter_model_path: Path
           ) -> dict[str, Path]:
    """The starter model's Q8_0 and Q2_K (made once per session with `parley quantize`'s
    code, shared with the quantize tests)."""
    return session_ladder(tmp_path_factory, starter_model_path)[0]


@pytest.fixture(scope="module")
def plain(starter_model_path: Path) -> Iterator[Engine]:
    engine = open_engine(starter_model_path, exact_batches=True)
    yield engine
    engine.close()
