"""Speculative decoding gives exactly the text plain decoding gives (greedy), on 20 prompts in
every mode, with n-gram lookup and with a draft model; a draft of another vocabulary is refused."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from inference.engine.engine import Engine
from inference.engine.events import Finished, FinishReason
from inference.speculative.vocab import IncompatibleDraftError
from tests.speculative.conftest import finish, open_engine
from tests.speculative.prompts import FILL, FILL_CTX, PROMPTS, text
from tests.support.gguf_factory import write_tiny_model

CASES = PROMPTS
COPYING = ("text-copy", "text-copy-long", "stop-in-draft", "max-in-draft")


class Reference(dict):
    """Plain decoding's reply to each case, made when first asked for."""

    def __init__(self, engine: Engine) -> None:
        super().__init__()
        self.engine = engine

    def __missing__(self, name: str) -> Finished:
        self[name] = finish(self.engine, CASES[name], fresh=True)
        return self[name]


@pytest.fixture(scope="module")
def reference(plain: Engine) -> Reference:
    return Reference(plain)


@pytest.fixture(scope="module", params=["lookup", "draft"])
def speculative(request: pytest.FixtureRequest, starter_model_path: Path,
                ladder: dict[str, Path]) -> Iterator[Engine]:
    """The starter model speculating by lookup, or with its Q2_K as the draft model."""
    settings: dict[str, object] = {"speculative": request.param, "draft_max": 6}
    if request.param == "draft":
        settings["draft_model"] = ladder["Q2_K"]
    engine = open_engine(starter_model_path, **settings)
    yield engine
    engine.close()


@pytest.mark.parametrize("name", list(CASES))
def test_greedy_text_is_the_plain_text(speculative: Engine, reference: Reference,
                                       name: str) -> None:
    # Each case on an empty cache: the exact-batch regime is checked case by case (a cache
    # that once held more than 256 tokens can leave llama.cpp computing a later reply's
    # attention by another path on one side; see the report / docs/ARCHITECTURE.md).
    want, got = reference[name], finish(speculative, CASES[name], fresh=True)
    assert got.text == want.text
    assert got.reason is want.reason
    assert got.stats.output_tokens == want.stats.output_tokens
    assert got.stats.context_tokens == want.stats.context_tokens
    if name in COPYING:                      # drafts were verified and kept
        assert got.stats.accepted_tokens > 0 and got.stats.acceptance_rate is not None
    if name == "stop-in-draft":
        assert want.reason is FinishReason.STOP and want.text.endswith("needed for ")
    if name == "max-in-draft":
        assert want.reason is FinishReason.LENGTH and want.stats.output_tokens == 23


def test_a_reply_that_fills_the_context_is_the_plain_one(starter_model_path: Path) -> None:
    plain = open_engine(starter_model_path, n_ctx=FILL_CTX, exact_batches=True)
    lookup = open_engine(starter_model_path, n_ctx=FILL_CTX, speculative="lookup")
    try:
        want, got = finish(plain, FILL), finish(lookup, FILL)
    finally:
        plain.close()
        lookup.close()
    assert want.reason is FinishReason.CONTEXT_FULL
    assert want.stats.context_tokens >= FILL_CTX - 1
    assert (got.text, got.reason) == (want.text, want.reason)
    assert got.stats.context_tokens == want.stats.context_tokens
    assert got.stats.accepted_tokens > 0


def test_plain_decoding_reports_no_drafts(reference: Reference) -> None:
    stats = reference["text-copy"].stats
    assert (stats.draft_tokens, stats.accepted_tokens, stats.acceptance_rate) == (0, 0, None)


def test_q2_k_drafts_for_q8_0_with_the_same_greedy_text(ladder: dict[str, Path]) -> None:
    plain = open_engine(ladder["Q8_0"], exact_batches=True)
    drafted = open_engine(ladder["Q8_0"], speculative="draft", draft_model=ladder["Q2_K"])
    try:
        for name in ("text-copy", "chat-summary", "text-story"):
            want, got = finish(plain, PROMPTS[name]), finish(drafted, PROMPTS[name])
            assert (got.text, got.reason) == (want.text, want.reason), name
        assert finish(drafted, text(PROMPTS["text-copy"].text)).stats.accepted_tokens > 0
    finally:
        plain.close()
        drafted.close()


def test_a_draft_with_another_vocabulary_is_refused_by_name(starter_model_path: Path,
                                                           tmp_path: Path) -> None:
    other = write_tiny_model(tmp_path / "tiny-other.gguf")
    with pytest.raises(IncompatibleDraftError) as caught:
        open_engine(starter_model_path, speculative="draft", draft_model=other)
    message = str(caught.value)
    assert "tiny-other.gguf" in message and starter_model_path.name in message
    assert "vocabularies differ" in message and "\n" not in message
