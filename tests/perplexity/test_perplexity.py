"""Perplexity: chunked and full-text PPL against an independent numpy computation on the real
starter model, per-token scores, cancellation, bad input and the CLI's --json shape."""

from __future__ import annotations

import json
import math
import threading
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from inference.cli import main
from inference.common.cancel import CancelToken
from inference.common.errors import Cancelled, InvalidSettingError, ParleyError
from inference.llama.native import NativeContext, NativeModel
from inference.perplexity.measure import (
    EmptyTextError,
    TextTooShortError,
    TooFewTokensError,
    compute_perplexity,
)
from inference.perplexity.scoring import log_softmax, row_normalizers, target_nll

pytestmark = pytest.mark.model

SAMPLE = Path(__file__).resolve().parents[2] / "resources" / "samples" / "perplexity_sample.txt"
THREADS = 1          # robust on a busy shared CPU; results do not depend on it


@pytest.fixture(scope="module")
def model(starter_model_path: Path) -> Iterator[NativeModel]:
    loaded = NativeModel(starter_model_path)
    yield loaded
    loaded.close()


@pytest.fixture(scope="module")
def sample() -> str:
    return SAMPLE.read_text(encoding="utf-8")


def _full_logits(model: NativeModel, tokens: list[int], piece: int = 0) -> np.ndarray:
    """Logits (float64) at every position of `tokens`, evaluated alone from an empty cache,
    in one decode or in decodes of `piece` tokens."""
    n = len(tokens)
    piece = piece or n
    ctx = NativeContext(model, n_ctx=n, n_batch=piece, n_ubatch=piece, n_threads=THREADS)
    try:
        rows = []
        for start in range(0, n, piece):
            part = tokens[start:start + piece]
            assert ctx.decode(part, start, logits="all") == 0
            rows.append(np.ctypeslib.as_array(ctx.logits_ptr(0), shape=(len(part), model.n_vocab))
                        .astype(np.float64))
        return np.concatenate(rows)
    finally:
        ctx.close()


def _nll(row: np.ndarray, target: int) -> float:
    top = row.max()
    return float(top + np.log(np.exp(row - top).sum()) - row[target])


def _ppl_and_se(nlls: list[float]) -> tuple[float, float]:
    x = np.asarray(nlls)
    mean = x.mean()
    se = math.sqrt((np.mean(x * x) - mean * mean) / (len(x) - 1))
    return math.exp(mean), math.exp(mean) * se


def _reference_chunked(model: NativeModel, tokens: list[int], n_ctx: int,
                       piece: int = 0) -> tuple[list[float], list[float]]:
    """NLLs of llama.cpp's scored positions and the running PPL after each chunk."""
    nlls: list[float] = []
    running = []
    for c in range(len(tokens) // n_ctx):
        chunk = tokens[c * n_ctx:(c + 1) * n_ctx]
        logits = _full_logits(model, [model.bos] + chunk[1:], piece)
        nlls += [_nll(logits[p], chunk[p + 1]) for p in range(n_ctx // 2, n_ctx - 1)]
        running.append(math.exp(np.mean(nlls)))
    return nlls, running


def test_chunked_matches_independent_numpy(model: NativeModel, sample: str) -> None:
    n_ctx = 64
    text = sample[:900]
    tokens = model.tokenize(text)
    n_chunk = len(tokens) // n_ctx
    assert n_chunk == 3                       # one batch of two chunks, then one alone
    nlls, running = _reference_chunked(model, tokens, n_ctx)
    ppl, se = _ppl_and_se(nlls)

    # n_batch 2·n_ctx: two chunks side by side in one batch, each its own sequence
    result = compute_perplexity(model, text, n_ctx=n_ctx, n_batch=2 * n_ctx, mode="auto",
                                n_threads=THREADS)
    assert result.method == "chunked"
    assert result.n_seq == 2
    assert result.chunks == n_chunk
    assert result.tokens_total == len(tokens)
    assert result.tokens_scored == len(nlls) == n_chunk * (n_ctx - 1 - n_ctx // 2)
    assert result.ppl == pytest.approx(ppl, rel=1e-6)
    assert result.ppl_se == pytest.approx(se, rel=1e-5)
    assert result.chunk_ppl == pytest.approx(running, rel=1e-6)
    assert result.chunk_ppl[-1] == pytest.approx(result.ppl, rel=1e-12)
    assert result.per_token is None

    d = result.to_dict()
    assert d["method"] == "chunked" and d["chunks"] == n_chunk and "per_token" not in d


def test_chunked_in_several_decodes_per_chunk(model: NativeModel, sample: str) -> None:
    # n_batch < n_ctx: each chunk is evaluated in several decodes (llama.cpp's num_batches > 1).
    # That shifts the numbers a little versus one decode per chunk (llama-perplexity itself
    # gives 40.4679 with -b 24 and 40.2818 with -b 64 here), so the reference decodes in the
    # same pieces.
    n_ctx, n_batch = 64, 24
    text = sample[:620]
    tokens = model.tokenize(text)
    assert len(tokens) // n_ctx == 2
    nlls, running = _reference_chunked(model, tokens, n_ctx, piece=n_batch)
    result = compute_perplexity(model, text, n_ctx=n_ctx, n_batch=n_batch, n_threads=THREADS)
    assert result.n_seq == 1 and result.n_batch == n_batch
    assert result.tokens_scored == len(nlls)
    assert result.ppl == pytest.approx(_ppl_and_se(nlls)[0], rel=1e-6)
    assert result.chunk_ppl == pytest.approx(running, rel=1e-6)


def test_full_text_single_window_and_per_token(model: NativeModel, sample: str) -> None:
    text = sample[:300] + " Un café très chaud, s'il vous plaît."
    tokens = model.tokenize(text)
    assert len(tokens) < 128
    logits = _full_logits(model, tokens[:-1])
    nlls = [_nll(logits[p], tokens[p + 1]) for p in range(len(tokens) - 1)]
    ppl, se = _ppl_and_se(nlls)

    result = compute_perplexity(model, text, n_ctx=128, mode="auto", n_threads=THREADS,
                                per_token=True)
    assert result.method == "full"
    assert result.chunks == 1
    assert result.tokens_scored == len(tokens) - 1
    assert result.ppl == pytest.approx(ppl, rel=1e-6)
    assert result.ppl_se == pytest.approx(se, rel=1e-5)

    scores = result.per_token
    assert scores is not None and len(scores) == len(nlls)
    assert [s.index for s in scores] == list(range(1, len(tokens)))
    assert "".join(s.text for s in scores) == text          # heatmap pieces rebuild the text
    for s, ref in zip(scores, nlls, strict=True):
        assert s.nll == pytest.approx(ref, rel=1e-6, abs=1e-6)
        assert s.prob == pytest.approx(math.exp(-s.nll), rel=1e-12)
        assert s.rank >= 1 and len(s.top) == 5
        probs = [a.prob for a in s.top]
        assert probs == sorted(probs, reverse=True) and sum(probs) <= 1 + 1e-9
        assert (s.rank == 1) == (s.top[0].token == s.token)
        if s.rank <= 5:
            assert s.top[s.rank - 1].prob == pytest.approx(s.prob, rel=1e-9)
        else:
            assert s.prob <= s.top[-1].prob
    assert np.mean([s.nll for s in scores]) == pytest.approx(result.nll_mean, rel=1e-9)
    assert json.loads(json.dumps(result.to_dict()))["per_token"][0]["index"] == 1


def test_full_text_sliding_window(model: NativeModel, sample: str) -> None:
    n_ctx, stride = 32, 16
    text = sample[:400]
    tokens = model.tokenize(text)
    n = len(tokens)
    assert n > 2 * n_ctx

    result = compute_perplexity(model, text, n_ctx=n_ctx, n_batch=64, mode="full",
                                n_threads=THREADS, per_token=True)
    assert result.method == "full" and result.tokens_scored == n - 1
    assert result.chunks == 1 + math.ceil((n - 1 - n_ctx) / stride)
    by_index = {s.index: s.nll for s in result.per_token or ()}
    assert sorted(by_index) == list(range(1, n))

    # first window: targets 1 … n_ctx against their whole prefix
    first = _full_logits(model, tokens[:n_ctx])
    for t in range(1, n_ctx + 1):
        assert by_index[t] == pytest.approx(_nll(first[t - 1], tokens[t]), rel=1e-5, abs=1e-5)
    # second window: BOS + the n_ctx−1 tokens before its last target, scoring `stride` targets
    t0, t1 = n_ctx + 1, n_ctx + 1 + stride
    window = [model.bos] + tokens[t1 - 1 - (n_ctx - 1):t1 - 1]
    second = _full_logits(model, window)
    for t in range(t0, t1):
        row = second[len(window) - (t1 - t0) + (t - t0)]
        assert by_index[t] == pytest.approx(_nll(row, tokens[t]), rel=1e-5, abs=1e-5)


def test_scoring_core_against_float64() -> None:
    rng = np.random.default_rng(7)
    logits = (rng.standard_normal((37, 1000)) * 4).astype(np.float32)
    targets = rng.integers(0, 1000, 37)
    ref = np.log(np.exp(logits.astype(np.float64)).sum(axis=1)) - logits[np.arange(37), targets]
    norm = row_normalizers(logits)
    assert target_nll(logits, targets, norm) == pytest.approx(ref, rel=1e-6)
    full = log_softmax(logits, norm)
    assert np.exp(full).sum(axis=1) == pytest.approx(np.ones(37), rel=1e-6)
    assert -full[np.arange(37), targets] == pytest.approx(ref, rel=1e-6)


def test_cancel_before_and_during_a_batch(model: NativeModel, sample: str,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    cancel = CancelToken()
    cancel.cancel()
    with pytest.raises(Cancelled):
        compute_perplexity(model, sample, n_ctx=128, n_threads=THREADS, cancel=cancel)

    # cancel 0.2 s into the first decode (4 × 256 tokens, seconds of work): the abort callback
    # stops it inside that batch — llama_decode returns 2 and no batch ever completes
    cancel = CancelToken()
    codes: list[int] = []
    real_decode = NativeContext.decode_batch

    def decode_then_cancel(ctx: NativeContext) -> int:
        timer = threading.Timer(0.2, cancel.cancel)
        timer.start()
        try:
            codes.append(real_decode(ctx))
        finally:
            timer.cancel()
        return codes[-1]

    monkeypatch.setattr(NativeContext, "decode_batch", decode_then_cancel)
    progress: list[tuple[int, int, float | None]] = []
    with pytest.raises(Cancelled):
        compute_perplexity(model, sample, n_ctx=256, n_batch=1024, n_threads=THREADS,
                           progress=lambda *a: progress.append(a), cancel=cancel)
    assert codes == [2] and progress == []


def test_progress_reports_and_cancel_from_progress(model: NativeModel, sample: str) -> None:
    seen: list[tuple[int, int, float | None]] = []
    compute_perplexity(model, sample[:1000], n_ctx=64, n_batch=64, n_threads=THREADS,
                       progress=lambda *a: seen.append(a))
    assert seen and seen[-1][0] == seen[-1][1] and seen[-1][2] == 0
    assert [s[0] for s in seen] == sorted(s[0] for s in seen)

    cancel = CancelToken()
    with pytest.raises(Cancelled):
        compute_perplexity(model, sample[:1000], n_ctx=64, n_batch=64, n_threads=THREADS,
                           progress=lambda *a: cancel.cancel(), cancel=cancel)


def test_bad_input_messages(model: NativeModel, sample: str) -> None:
    for text in ("", "  \n\t "):
        with pytest.raises(EmptyTextError, match="empty"):
            compute_perplexity(model, text, n_threads=THREADS)
    with pytest.raises(TextTooShortError, match=r"needs at least 1024 tokens.*full.*--ctx"):
        compute_perplexity(model, sample[:1000], n_ctx=512, mode="chunked", n_threads=THREADS)
    with pytest.raises(InvalidSettingError, match="mode"):
        compute_perplexity(model, sample, mode="sideways", n_threads=THREADS)
    with pytest.raises(InvalidSettingError, match="context size"):
        compute_perplexity(model, sample, n_ctx=4, n_threads=THREADS)
    assert issubclass(TextTooShortError, ParleyError)


class _OneTokenModel:
    add_bos, bos = True, 2

    def tokenize(self, text: str, *, add_special: bool = True,
                 parse_special: bool = False) -> list[int]:
        return [2]


def test_fewer_than_two_tokens() -> None:
    with pytest.raises(TooFewTokensError, match="at least 2 tokens"):
        compute_perplexity(_OneTokenModel(), "x", n_threads=1)  # type: ignore[arg-type]


def test_cli_json_and_text_output(starter_model_path: Path, sample: str, tmp_path: Path,
                                  capsys: pytest.CaptureFixture[str]) -> None:
    text_file = tmp_path / "text.txt"
    text_file.write_text(sample[:500] + "\n", encoding="utf-8")
    args = ["perplexity", str(starter_model_path), str(text_file), "--ctx", "32",
            "--batch", "64", "--threads", str(THREADS)]
    assert main(args + ["--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    for key in ("ppl", "ppl_se", "method", "n_ctx", "tokens_scored", "chunks", "seconds",
                "chunk_ppl", "tokens_per_second"):
        assert key in data
    assert data["method"] == "chunked" and data["n_ctx"] == 32
    assert len(data["chunk_ppl"]) == data["chunks"] >= 2
    assert data["tokens_scored"] == data["chunks"] * (32 - 1 - 16)

    assert main(args + ["--mode", "full"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("[1]") and "PPL = " in out and "full" in out

    assert main(["perplexity", str(starter_model_path), str(tmp_path / "missing.txt")]) == 1
    assert "no such file" in capsys.readouterr().err
    assert main(args + ["--ctx", "512", "--mode", "chunked"]) == 1
    assert "full-text mode" in capsys.readouterr().err
