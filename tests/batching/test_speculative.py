"""Prompt lookup in the batch engine (`parley serve --speculative lookup`): one reply at a time it
gives exactly the plain text (greedy) and keeps drafts on copy-heavy prompts; several at once,
each slot drafts and verifies its own; a draft model is refused with the reason."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from inference.batching.engine import BatchEngine
from inference.common.errors import InvalidSettingError
from inference.engine.config import ModelConfig
from inference.engine.engine import Engine
from inference.engine.events import Finished, FinishReason
from inference.engine.requests import GenerationRequest
from tests.batching.conftest import Streamed
from tests.speculative.conftest import finish, open_engine
from tests.speculative.prompts import PROMPTS

N_SLOTS = 2
SEQ_CTX = 1024            # as tests/speculative's engines: the same cache size a sequence
CASES = ("text-copy", "text-copy-long", "stop-in-draft", "max-in-draft", "text-story",
         "chat-repeat", "instruct-upper")
COPYING = ("text-copy", "text-copy-long", "stop-in-draft", "max-in-draft")


def lookup_engine(model: Path) -> BatchEngine:
    engine = BatchEngine(N_SLOTS)
    engine.load(ModelConfig(model, n_ctx=SEQ_CTX * N_SLOTS, n_threads=2,
                            speculative="lookup", draft_max=6))
    return engine


def alone(engine: BatchEngine, request: GenerationRequest) -> Finished:
    final = list(engine.submit(request))[-1]
    assert isinstance(final, Finished)
    return final


@pytest.fixture(scope="module")
def plain(starter_model_path: Path) -> Iterator[Engine]:
    engine = open_engine(starter_model_path, exact_batches=True)
    yield engine
    engine.close()


@pytest.mark.parametrize("name", CASES)
def test_one_reply_at_a_time_is_the_plain_text(starter_model_path: Path, plain: Engine,
                                               name: str) -> None:
    """Each case on a fresh engine (an empty cache, as tests/speculative's lossless cases)."""
    want = finish(plain, PROMPTS[name], fresh=True)
    engine = lookup_engine(starter_model_path)
    try:
        got = alone(engine, PROMPTS[name])
    finally:
        engine.close()
    assert got.text == want.text
    assert (got.reason, got.stats.output_tokens) == (want.reason, want.stats.output_tokens)
    if name in COPYING:               # the others may find no n-gram to draft from
        assert got.stats.accepted_tokens > 0 and got.stats.acceptance_rate is not None


def test_each_slot_drafts_and_verifies_its_own(starter_model_path: Path) -> None:
    """Two copy-heavy replies at once: both keep drafts, each stops where its own settings say
    (a stop string inside a draft for one, a cap inside a draft for the other)."""
    engine = lookup_engine(starter_model_path)
    try:
        stopping = Streamed(engine, PROMPTS["stop-in-draft"])
        capped = Streamed(engine, PROMPTS["max-in-draft"])
        stop, cap = stopping.result(), capped.result()
    finally:
        engine.close()
    assert stop.reason is FinishReason.STOP and "thirty years" not in stop.text
    assert cap.reason is FinishReason.LENGTH and cap.stats.output_tokens == 23
    for final in (stop, cap):
        assert final.stats.accepted_tokens > 0


def test_a_draft_model_is_refused_with_the_reason(starter_model_path: Path,
                                                  tmp_path: Path) -> None:
    engine = BatchEngine(N_SLOTS)
    config = ModelConfig(starter_model_path, n_ctx=SEQ_CTX * N_SLOTS, speculative="draft",
                         draft_model=starter_model_path)
    with pytest.raises(InvalidSettingError, match="a draft model drafts for one reply at a "
                       r"time: with parallel slots \(parley serve\) speculative decoding is "
                       r"prompt lookup \(--speculative lookup\)"):
        engine.load(config)
    assert engine.loaded is None


def test_parley_serve_speculates_by_lookup(starter_model_path: Path, plain: Engine,
                                           tmp_path: Path) -> None:
    """`parley serve --speculative lookup`: a copy-heavy completion over HTTP is the plain
    greedy text; `--speculative draft` is not an option of serve."""
    import openai

    from tests.server.serve_process import serve_command, start

    request = PROMPTS["text-copy"]
    want = finish(plain, request, fresh=True)
    served = start(starter_model_path, tmp_path / "serve.log", "--ctx", str(SEQ_CTX * N_SLOTS),
                   "--parallel", str(N_SLOTS), "--speculative", "lookup")
    try:
        client = openai.OpenAI(base_url=served.v1, api_key="none", max_retries=0, timeout=120)
        reply = client.completions.create(model=starter_model_path.stem, prompt=request.text,
                                          temperature=0,
                                          max_tokens=request.sampling.max_tokens,
                                          extra_body={"repeat_penalty":
                                                      request.sampling.repeat_penalty})
    finally:
        assert served.stop() == 0, served.log()[-2000:]
    assert reply.choices[0].text == want.text
    done = subprocess.run([*serve_command(starter_model_path, "--speculative", "draft")],
                          capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
    assert done.returncode == 2 and "invalid choice: 'draft'" in done.stderr
