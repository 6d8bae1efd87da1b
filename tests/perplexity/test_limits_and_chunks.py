"""Long texts are tokenized in checked pieces (same tokens as one call, cancellable between
pieces), and perplexity's numbers stay inside llama.cpp's limits. Real starter model."""

from __future__ import annotations

import random
from collections.abc import Iterator
from pathlib import Path

import pytest

from inference.common.cancel import CancelToken
from inference.common.errors import Cancelled, InvalidSettingError
from inference.llama.chunked_tokenize import CHUNK_CHARS, tokenize_chunked
from inference.llama.native import NativeModel
from inference.perplexity.measure import compute_perplexity

pytestmark = pytest.mark.model


@pytest.fixture(scope="module")
def model(starter_model_path: Path) -> Iterator[NativeModel]:
    loaded = NativeModel(starter_model_path)
    yield loaded
    loaded.close()


def _mixed_text(seed: int, words: int) -> str:
    rng = random.Random(seed)
    vocab = ["the", "cat", "Straße", "naïve", "日本語の文章", "emoji😀🎉", "a.", "(b)", "—",
             "don't", "x" * 40, "<start_of_turn>", "١٢٣", "Ünïcödé"]
    gaps = [" ", "  ", "      ", "\n", "\n\n", "\t", " \n ", ""]
    return "".join(rng.choice(vocab) + rng.choice(gaps) for _ in range(words))


TEXTS = {
    "mixed, non-ASCII": _mixed_text(1, 3000),
    "more mixed": _mixed_text(2, 3000),
    "cut inside a run of spaces": "word " * 20 + " " * 400 + "tail " * 20 + "x" + " " * 301,
    "no whitespace at all": "日本語" * 800,
    "lines of prose": "The quick brown fox jumps over the lazy dog.\n" * 300,
}


@pytest.mark.parametrize("name", list(TEXTS))
@pytest.mark.parametrize("chunk_chars", [64, 150, 1000])
def test_pieces_give_the_tokens_of_one_call(model: NativeModel, name: str,
                                            chunk_chars: int) -> None:
    text = TEXTS[name]
    for add_special, parse_special in ((True, False), (False, True)):
        whole = model.tokenize(text, add_special=add_special, parse_special=parse_special)
        assert tokenize_chunked(model, text, add_special=add_special,
                                parse_special=parse_special, chunk_chars=chunk_chars) == whole


def test_a_long_text_at_the_real_chunk_size(model: NativeModel) -> None:
    text = ("Parley tokenizes long texts in pieces.   Ça marche, même ici.\n\n" * 3000)
    assert len(text) > 2 * CHUNK_CHARS
    assert tokenize_chunked(model, text) == model.tokenize(text)


def test_a_cancel_stops_between_pieces(model: NativeModel) -> None:
    cancel = CancelToken()
    calls = 0
    real = model.tokenize

    class Counting:
        """The real model, counting its tokenize calls and cancelling after the first piece."""

        def tokenize(self, text: str, **kwargs: bool) -> list[int]:
            nonlocal calls
            calls += 1
            if len(text) > 1000:
                cancel.cancel()
            return real(text, **kwargs)

    text = "many words here " * 20000
    with pytest.raises(Cancelled):
        tokenize_chunked(Counting(), text, cancel=cancel)   # type: ignore[arg-type]
    assert calls < 10                         # stopped after one piece, not at the end


def test_perplexity_refuses_a_context_that_would_wrap(model: NativeModel) -> None:
    with pytest.raises(InvalidSettingError,
                       match="context size must be between 16 and 1048576, got 4294967312"):
        compute_perplexity(model, "some text " * 100, n_ctx=2**32 + 16, n_threads=1)
    with pytest.raises(InvalidSettingError, match="batch size must be between 1 and 65536"):
        compute_perplexity(model, "some text " * 100, n_batch=2**32 + 16, n_threads=1)


def test_more_chunks_than_llama_cpp_has_sequences(model: NativeModel) -> None:
    """n_batch / n_ctx = 4096 chunks side by side; llama.cpp holds at most 256 sequences."""
    line = "one two three four five six seven eight nine ten "
    per_line = len(model.tokenize(line, add_special=False))
    text = line * (-(-290 * 16 // per_line))            # a little over 256 chunks of 16
    result = compute_perplexity(model, text, n_ctx=16, n_batch=65536, mode="chunked",
                                n_threads=2)
    assert result.n_seq == 256 and 256 < result.chunks < 330 and result.ppl > 0
