"""Perplexity as a long job in the engine process: same numbers, progress, cancel."""

from __future__ import annotations

from pathlib import Path

import pytest

from inference.common.cancel import CancelToken
from inference.common.errors import Cancelled
from inference.engine.config import ModelConfig
from inference.host.host import EngineHost

SAMPLE = Path(__file__).parents[2] / "resources" / "samples" / "perplexity_sample.txt"


@pytest.fixture(scope="module")
def host(starter_model_path):
    with EngineHost() as engine_host:
        engine_host.load(ModelConfig(starter_model_path, n_ctx=512, n_threads=1))
        yield engine_host


def test_host_perplexity_matches_in_process(host, engine):
    text = SAMPLE.read_text()[:3000]
    steps: list[tuple[int, int, float | None]] = []
    remote = host.perplexity(text, n_ctx=128, n_batch=256, progress=lambda *s: steps.append(s))
    local = engine.perplexity(text, n_ctx=128, n_batch=256)
    assert remote.method == local.method == "chunked"
    assert remote.ppl == pytest.approx(local.ppl, rel=1e-5)
    assert steps and steps[-1][0] == steps[-1][1]          # progress reaches the total


def test_host_perplexity_cancel_is_a_normal_ending(host):
    cancel = CancelToken()
    cancel.cancel()
    with pytest.raises(Cancelled):
        host.perplexity(SAMPLE.read_text(), n_ctx=128, cancel=cancel)
    assert host.perplexity("A short text to score after a cancel.", mode="full").ppl > 1
