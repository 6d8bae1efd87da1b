"""Eight requests at once from eight threads, each against the same request alone in `Engine`.

llama.cpp's CPU kernels do not promise the same float sums for a row whatever else is in the
batch (the repacked and tiled matrix products take other paths at 4+ rows; measured here: logits
identical at B ≤ 3, up to ~1.2 apart at B = 8, and llama-server's own test of results across
batch sizes is limited to one setting for the same reason). So "the same text" is checked as
strictly as the arithmetic allows: a reply must equal its request's reply alone, except that it
may leave it at a token where the reply alone had a near tie (its top two logits within TIE);
a request given another's text, or lost, fails at once.
"""

from __future__ import annotations

import codecs
import threading
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from inference.batching.engine import BatchEngine
from inference.engine.config import ModelConfig
from inference.engine.engine import Engine
from inference.engine.events import Finished, FinishReason
from inference.engine.requests import GenerationRequest
from inference.llama.native import NativeContext
from tests.batching.conftest import SEQ_CTX, WAIT_S, load_batch, text_request

PROMPTS = ("The capital of France is", "Once upon a time", "def fibonacci(n):",
           "The best way to cook rice", "My favourite colour is", "In 1969, the first",
           "import numpy as np\n", "Dear Sir,")
N_TOKENS = 10
TIE = 1.5                  # logits: the largest batch-composition difference seen was ~1.2


@pytest.fixture(scope="module")
def alone(starter_model_path: Path) -> Iterator[Engine]:
    engine = Engine()
    engine.load(ModelConfig(starter_model_path, n_ctx=SEQ_CTX, n_threads=2))
    yield engine
    engine.close()


@pytest.fixture(scope="module")
def batch4(starter_model_path: Path) -> Iterator[BatchEngine]:
    engine = load_batch(starter_model_path, 4)
    yield engine
    engine.close()


def reference(engine: Engine, request: GenerationRequest) -> tuple[Finished, list[int]]:
    """The reply alone, and the tokens its sequence held at the end (prompt + reply)."""
    events = list(engine.generate(request))
    final = events[-1]
    assert isinstance(final, Finished)
    return final, list(engine._session.kv_tokens)     # noqa: SLF001 - the test's own look


def top_two_gaps(engine: Engine, tokens: list[int], n_prompt: int) -> list[float]:
    """For each reply position: top logit − second logit, as the reply alone saw them."""
    model = engine._session.model                      # noqa: SLF001
    ctx = NativeContext(model, n_ctx=SEQ_CTX, n_batch=512, n_ubatch=512, n_threads=2)
    try:
        assert ctx.decode(tokens, 0, logits="all") == 0
        rows = ctx.logits_rows(0, len(tokens))
        assert rows is not None
        gaps = []
        for row in rows[n_prompt - 1:]:
            top = np.partition(row, -2)[-2:]
            gaps.append(float(top[1] - top[0]))
        return gaps
    finally:
        ctx.close()


def divergence(engine: Engine, reply: list[int], text: str) -> int:
    """How many of the alone reply's tokens the batch text begins with."""
    model = engine._session.model                      # noqa: SLF001
    decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
    so_far = ""
    for k, token in enumerate(reply):
        so_far += decoder.decode(model.piece(token))
        if not text.startswith(so_far):
            return k
    return len(reply)


def run_at_once(batch: BatchEngine, requests: list[GenerationRequest]) -> list[Finished]:
    results: list[Finished | BaseException | None] = [None] * len(requests)
    start = threading.Barrier(len(requests))

    def one(i: int) -> None:
        try:
            start.wait(WAIT_S)
            events = list(batch.submit(requests[i]))
            finals = [e for e in events if isinstance(e, Finished)]
            assert len(finals) == 1 and events[-1] is finals[0]
            results[i] = finals[0]
        except BaseException as exc:  # kept for the assertion below
            results[i] = exc

    threads = [threading.Thread(target=one, args=(i,), daemon=True) for i in range(len(requests))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(WAIT_S)
    assert not any(t.is_alive() for t in threads), "a request never ended"
    for r in results:
        if isinstance(r, BaseException):
            raise r
    return [r for r in results if isinstance(r, Finished)]


def check_same_as_alone(alone: Engine, requests: list[GenerationRequest],
                        got: list[Finished], greedy: bool) -> int:
    """Each batch reply against its request alone; returns how many are exactly equal."""
    exact = 0
    for request, final in zip(requests, got, strict=True):
        ref, kv = reference(alone, request)
        assert final.reason in (FinishReason.LENGTH, FinishReason.STOP)
        if final.text == ref.text:
            exact += 1
            continue
        n_prompt = ref.stats.prompt_tokens
        reply = kv[n_prompt:]
        k = divergence(alone, reply, final.text)
        if greedy:
            # A greedy first token is the prompt's own argmax: another one means another prompt.
            assert k >= 1, f"{request.text!r} got another reply: {final.text!r} vs {ref.text!r}"
            gap = top_two_gaps(alone, kv, n_prompt)[k]
            assert gap < TIE, (f"{request.text!r} left its reply alone at token {k}, where the "
                               f"top two logits were {gap:.2f} apart: {final.text!r} vs "
                               f"{ref.text!r}")
    return exact


def test_eight_at_once_greedy_get_the_text_each_gets_alone(batch4: BatchEngine,
                                                           alone: Engine) -> None:
    requests = [text_request(p, N_TOKENS, repeat_penalty=1.0) for p in PROMPTS]
    got = run_at_once(batch4, requests)           # 4 slots: four of them wait in the queue
    assert [f.prompt for f in got] == list(PROMPTS)
    exact = check_same_as_alone(alone, requests, got, greedy=True)
    assert exact >= len(PROMPTS) // 2


def test_eight_at_once_seeded_sampling_get_the_text_each_gets_alone(batch4: BatchEngine,
                                                                    alone: Engine) -> None:
    requests = [text_request(p, N_TOKENS, temperature=0.8, seed=1000 + i)
                for i, p in enumerate(PROMPTS)]
    got = run_at_once(batch4, requests)
    assert [f.prompt for f in got] == list(PROMPTS)
    exact = check_same_as_alone(alone, requests, got, greedy=False)
    # A sampled token flips wherever its draw falls near a boundary the batch's float sums move
    # (at any token, the first included: CI saw one flip at token 0), and which requests share
    # a step depends on timing; but a reply with another seed, or another request's seed,
    # matches 10 sampled tokens alone by chance almost never, so two exact replies show each
    # slot draws with its own seed.
    assert exact >= 2, f"only {exact} of {len(PROMPTS)} seeded replies equal their reply alone"
