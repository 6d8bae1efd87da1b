"""The scheduler's log-probabilities (raw log-softmax, only when asked for) and grammars per slot,
on the real starter model."""

from __future__ import annotations

import json

import numpy as np
import pytest

from inference.batching.engine import BatchEngine
from inference.batching.formats import format_grammar
from inference.batching.logprobs import TokenLogprobs, token_logprobs
from inference.common.errors import InvalidSettingError
from inference.engine.events import FinishReason, PromptRendered, TokenEvent
from inference.llama.native import NativeContext, NativeModel
from tests.batching.conftest import Streamed, text_request

PROMPT = "The capital of France is"


def _run(engine: BatchEngine, request, top_logprobs: int | None = None) -> list:
    return list(engine.submit(request, top_logprobs=top_logprobs))


def test_each_token_comes_after_its_logprobs_and_greedy_picks_the_top_one(
        batch2: BatchEngine) -> None:
    events = _run(batch2, text_request(PROMPT, 6, repeat_penalty=1.0), top_logprobs=5)
    entries = [e for e in events if isinstance(e, TokenLogprobs)]
    finished = events[-1]
    assert finished.reason is FinishReason.LENGTH and len(entries) == 6
    assert b"".join(e.token for e in entries).decode() == finished.text
    seen = 0
    for event in events:                        # each token's entry comes before its text
        if isinstance(event, TokenLogprobs):
            seen += 1
        elif isinstance(event, TokenEvent):
            assert seen == event.index + 1
    for entry in entries:
        values = [lp for _, lp in entry.top]
        assert len(entry.top) == 5 and values == sorted(values, reverse=True)
        assert (entry.token, entry.logprob) == entry.top[0]        # greedy, no penalty
        assert all(v <= 0 for v in values) and sum(np.exp(values)) <= 1 + 1e-9


def test_the_logprobs_are_the_raw_distribution_not_the_sampled_one(
        batch2: BatchEngine, starter_model_path) -> None:
    """The first token's log-probabilities equal a log-softmax (float64, numpy) of the logits
    an independent context gives after the same prompt, even at temperature 1.5 with a strong
    penalty and top-k 3, which would change the sampled distribution."""
    request = text_request(PROMPT, 1, temperature=1.5, top_k=3, repeat_penalty=2.0, seed=3)
    entry = next(e for e in _run(batch2, request, top_logprobs=20)
                 if isinstance(e, TokenLogprobs))
    model = NativeModel(starter_model_path)
    ctx = NativeContext(model, n_ctx=256, n_batch=256, n_ubatch=256, n_threads=2)
    try:
        tokens = batch2.tokenize(PROMPT)
        assert len(tokens) == batch2.render(request).prompt_tokens     # the engine's prompt
        assert ctx.decode(tokens, 0) == 0
        logits = ctx.logits_rows(len(tokens) - 1, 1)[0].astype(np.float64)
        expected = logits - logits.max() - np.log(np.exp(logits - logits.max()).sum())
        best = np.argsort(-expected)[:20]
        assert [model.piece(int(t), special=True) for t in best] == [b for b, _ in entry.top]
        assert np.allclose([lp for _, lp in entry.top], expected[best], atol=2e-3)
        chosen = model.tokenize(entry.token.decode(), add_special=False)
        assert len(chosen) == 1 and model.piece(chosen[0]) == entry.token
        assert entry.logprob == pytest.approx(expected[chosen[0]], abs=2e-3)
    finally:
        ctx.close()
        model.close()


def test_no_logprobs_unless_asked_and_zero_gives_the_chosen_token_only(
        batch2: BatchEngine) -> None:
    plain = _run(batch2, text_request(PROMPT, 3))
    assert not any(isinstance(e, TokenLogprobs) for e in plain)
    only = [e for e in _run(batch2, text_request(PROMPT, 3), top_logprobs=0)
            if isinstance(e, TokenLogprobs)]
    assert len(only) == 3 and all(e.top == () and e.logprob <= 0 for e in only)
    for wrong in (-1, 21, True):
        with pytest.raises(InvalidSettingError, match="top logprobs must be between 0 and 20"):
            next(batch2.submit(text_request(PROMPT, 1), top_logprobs=wrong))


def test_token_logprobs_on_a_known_row() -> None:
    logits = np.log(np.array([0.5, 0.25, 0.125, 0.125], dtype=np.float32))
    entry = token_logprobs(logits, 2, 2, b"c", lambda t: b"abcd"[t:t + 1])
    assert entry.token == b"c" and entry.logprob == pytest.approx(np.log(0.125), abs=1e-6)
    assert [b for b, _ in entry.top] == [b"a", b"b"]
    assert [lp for _, lp in entry.top] == pytest.approx([np.log(0.5), np.log(0.25)], abs=1e-6)
    with pytest.raises(ValueError):
        token_logprobs(logits, 0, 21, b"a", lambda t: b"")


def test_a_grammar_constrains_one_slot_and_not_the_other(batch2: BatchEngine) -> None:
    schema = {"type": "object", "properties": {"answer": {"type": "integer"}},
              "required": ["answer"]}
    held = Streamed(batch2, text_request("Q: How many legs has a cat?\nA:", 40,
                                         grammar=format_grammar("json_schema", schema)))
    free = Streamed(batch2, text_request("Q: How many legs has a cat?\nA:", 12))
    reply, other = held.result(), free.result()
    assert reply.reason is FinishReason.STOP                # the grammar ended it
    assert isinstance(json.loads(reply.text)["answer"], int)
    assert not other.text.lstrip().startswith("{")


def test_a_bad_grammar_or_schema_is_refused_before_the_prompt(batch2: BatchEngine) -> None:
    events = batch2.submit(text_request(PROMPT, 1, grammar='root ::= "open'))
    with pytest.raises(InvalidSettingError, match="cannot parse the grammar"):
        next(events)
    with pytest.raises(InvalidSettingError, match="the JSON schema cannot be used"):
        format_grammar("json_schema", {"type": "no-such-type"})
    assert "root" in format_grammar("json_object")
    fine = batch2.submit(text_request(PROMPT, 1, grammar=format_grammar("json_object")))
    assert isinstance(next(fine), PromptRendered)
    fine.close()
