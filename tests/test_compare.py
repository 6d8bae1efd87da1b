"""Quant comparison: KLD exactly as llama-perplexity, same-model checks, exports that agree."""

from __future__ import annotations

import contextlib
import csv
import io
import json
from pathlib import Path

import numpy as np
import pytest

from inference.cancel import CancelToken
from inference.cli import main
from inference.compare import CompareProgress, CompareSettings, compare_files, pick_reference
from inference.compare_checks import ModelMismatchError, check_same_model
from inference.compare_export import CSV_FIELDS, to_csv, to_markdown, to_text
from inference.compare_result import CompareResult
from inference.errors import Cancelled
from inference.gguf_file import read_gguf
from inference.kld import KldTotals, LogProbReader, LogProbWriter, encode_rows, row_width
from inference.perplexity import TextTooShortError
from tests.gguf_factory import write_tiny_model
from tests.quant_ladder import LADDER, N_CTX, sample_text, session_ladder

ROW_KEYS = {"file", "quant", "bits_per_weight", "file_size", "ppl", "ppl_se", "kld_mean",
            "kld_se", "kld_p99", "kld_max", "same_top", "dp_mean", "pp_tps", "tg_tps",
            "peak_rss"}


# -- the scoring core (no model) ----------------------------------------------------------------
def _logits(rng: np.random.Generator, n: int = 20, vocab: int = 1001) -> np.ndarray:
    return (rng.standard_normal((n, vocab)) * 3).astype(np.float32)


def test_kld_of_a_model_against_itself_is_zero() -> None:
    logits = _logits(np.random.default_rng(0))
    targets = np.arange(len(logits)) % logits.shape[1]
    totals = KldTotals()
    totals.add(logits, encode_rows(logits), targets)
    stats = totals.stats()
    assert abs(stats.kld_mean) < 1e-4 and stats.kld_max < 1e-4
    assert stats.same_top == 1.0 and abs(stats.dp_mean) < 1e-4


def test_kld_matches_the_definition() -> None:
    rng = np.random.default_rng(1)
    ref, other = _logits(rng), _logits(rng)
    targets = rng.integers(0, ref.shape[1], len(ref))
    totals = KldTotals()
    totals.add(other, encode_rows(ref), targets)
    lp = ref - np.logaddexp.reduce(ref.astype(np.float64), axis=1, keepdims=True)
    lq = other - np.logaddexp.reduce(other.astype(np.float64), axis=1, keepdims=True)
    keep = lp > -16                       # llama.cpp drops reference log-probs below −16
    exact = (np.where(keep, np.exp(lp) * (lp - lq), 0)).sum(axis=1)
    stats = totals.stats()
    assert stats.kld_mean == pytest.approx(exact.mean(), rel=2e-3)
    assert stats.same_top == np.mean(ref.argmax(1) == other.argmax(1))


def test_log_prob_file_round_trip(tmp_path: Path) -> None:
    rng = np.random.default_rng(2)
    tokens = rng.integers(0, 1001, 64).astype(np.int32)
    rows = encode_rows(_logits(rng, n=5))
    writer = LogProbWriter(tmp_path / "base.kld", 32, 1001, tokens)
    writer.write(rows)
    writer.close()
    reader = LogProbReader(tmp_path / "base.kld")
    assert (reader.n_ctx, reader.n_vocab, reader.n_chunk) == (32, 1001, 2)
    assert reader.width == row_width(1001) == 1006
    assert np.array_equal(reader.tokens, tokens) and np.array_equal(reader.read(5), rows)
    reader.close()


# -- same model? (headers only) ----------------------------------------------------------------
@pytest.mark.model
def test_files_of_different_models_are_refused(starter_model_path: Path, tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    starter = read_gguf(starter_model_path)
    llama = read_gguf(write_tiny_model(tmp_path / "tiny-llama.gguf"))
    gemma_like = read_gguf(write_tiny_model(tmp_path / "tiny-gemma3.gguf", architecture="gemma3"))
    with pytest.raises(ModelMismatchError, match="tiny-llama.gguf.*architecture llama vs gemma3"):
        check_same_model([starter, llama])
    with pytest.raises(ModelMismatchError, match="vocabulary has 300 tokens.*262,144"):
        check_same_model([starter, gemma_like])
    text = tmp_path / "t.txt"
    text.write_text("hello")
    assert main(["compare", str(starter_model_path), str(llama.path), "--text", str(text)]) == 1
    assert "tiny-llama.gguf is not the same model" in capsys.readouterr().err


def test_same_size_vocabularies_with_different_tokens_are_refused(tmp_path: Path) -> None:
    a = read_gguf(write_tiny_model(tmp_path / "a.gguf"))
    b = read_gguf(write_tiny_model(tmp_path / "b.gguf", extra_kv={"tokenizer.ggml.tokens": [
        f"t{i}" for i in range(300)]}, omit_keys=("tokenizer.ggml.tokens",)))
    with pytest.raises(ModelMismatchError, match="different token lists"):
        check_same_model([a, b])


# -- the real comparison, once through the CLI --------------------------------------------------
@pytest.fixture(scope="module")
def ladder(tmp_path_factory: pytest.TempPathFactory, starter_model_path: Path):
    return session_ladder(tmp_path_factory, starter_model_path)[0]


@pytest.fixture(scope="module")
def compared(ladder, tmp_path_factory: pytest.TempPathFactory):
    folder = tmp_path_factory.mktemp("compare")
    text = folder / "text.txt"
    text.write_text(sample_text(), encoding="utf-8")
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = main(["compare", *(str(ladder[t]) for t in reversed(LADDER)), "--text", str(text),
                     "--ctx", str(N_CTX), "--threads", "2", "--pp", "16", "--tg", "4",
                     "--reps", "1", "--json", "--save", str(folder / "r.csv"),
                     "--save", str(folder / "r.md")])
    assert code == 0
    return json.loads(out.getvalue()), folder


@pytest.mark.model
def test_json_has_every_figure(compared) -> None:
    data, _ = compared
    assert data["reference"] == "gemma-3-270m-Q8_0.gguf"       # most bits per weight
    assert data["n_ctx"] == N_CTX and data["chunks"] >= 2
    rows = {r["quant"]: r for r in data["rows"]}
    assert [r["quant"] for r in data["rows"]] == list(reversed(LADDER))   # the given order
    for row in data["rows"]:
        assert ROW_KEYS <= set(row)
        assert row["ppl"] > 1 and row["ppl_se"] > 0 and row["peak_rss"] > row["file_size"] / 4
        assert row["pp_tps"] > 0 and row["tg_tps"] > 0 and row["requantized_from"] == "Q4_K_M"
    ref = rows["Q8_0"]
    assert ref["is_reference"] and ref["kld_mean"] == 0 and ref["same_top"] == 100


@pytest.mark.model
def test_quality_falls_as_bits_drop(compared) -> None:
    rows = {r["quant"]: r for r in compared[0]["rows"]}
    kld = [rows[t]["kld_mean"] for t in LADDER]
    same = [rows[t]["same_top"] for t in LADDER]
    assert kld == sorted(kld) and kld[0] < kld[1] < kld[2]
    assert same[0] > same[1] > same[2]
    assert all(rows[t]["kld_p99"] <= rows[t]["kld_max"] for t in LADDER)
    assert rows["Q2_K"]["dp_mean"] < 0 and rows["Q2_K"]["ppl"] > rows["Q8_0"]["ppl"]


@pytest.mark.model
def test_table_csv_and_json_agree(compared) -> None:
    data, folder = compared
    result = CompareResult.from_dict(data)
    assert result.to_dict() == data
    assert (folder / "r.csv").read_text() == to_csv(result)
    assert (folder / "r.md").read_text() == to_markdown(result)
    parsed = list(csv.DictReader(io.StringIO(to_csv(result))))
    assert list(parsed[0]) == list(CSV_FIELDS)
    for line, row in zip(parsed, data["rows"], strict=True):
        for key in ("ppl", "kld_mean", "kld_p99", "same_top", "dp_mean", "pp_tps", "tg_tps"):
            assert float(line[key]) == row[key]
        assert int(line["file_size"]) == row["file_size"]
    text, md = to_text(result), to_markdown(result)
    for row in result.rows:
        assert f"{row.kld_mean:.6f}" in md and f"{row.kld_mean:.6f}" in text
        assert f"{row.same_top:.2f} %" in md and f"{row.ppl:.4f}" in text


# -- choices, refusals, cancel ------------------------------------------------------------------
@pytest.mark.model
def test_reference_can_be_chosen_and_must_be_listed(ladder) -> None:
    infos = [read_gguf(ladder[t]) for t in ("Q4_0", "Q8_0")]
    assert pick_reference(infos) == 1
    assert pick_reference(infos, ladder["Q4_0"]) == 0
    with pytest.raises(Exception, match="not one of the compared files"):
        pick_reference(infos, ladder["Q2_K"])


@pytest.mark.model
def test_cancel_ends_the_comparison(ladder) -> None:
    cancel = CancelToken()
    seen: list[CompareProgress] = []

    def on_progress(p: CompareProgress) -> None:
        seen.append(p)
        cancel.cancel()

    with pytest.raises(Cancelled):
        compare_files([ladder["Q8_0"], ladder["Q4_0"]], sample_text(),
                      settings=CompareSettings(n_ctx=N_CTX, threads=2, speed=None),
                      progress=on_progress, cancel=cancel)
    assert seen and seen[0].index == 0 and seen[0].file == "gemma-3-270m-Q8_0.gguf"


@pytest.mark.model
def test_text_too_short_says_what_to_do(ladder) -> None:
    with pytest.raises(TextTooShortError, match=r"at least 256 tokens.*--ctx"):
        compare_files([ladder["Q8_0"], ladder["Q4_0"]], sample_text()[:400],
                      settings=CompareSettings(n_ctx=N_CTX, threads=2, speed=None))


@pytest.mark.model
def test_a_requantized_upcast_is_no_better_than_its_source(ladder, starter_model_path) -> None:
    """Q8_0 made from the Q4_K_M starter holds no more than the starter: the original wins."""
    infos = [read_gguf(p) for p in (ladder["Q8_0"], starter_model_path, ladder["Q4_0"])]
    assert pick_reference(infos) == 1
    assert pick_reference(infos[::2]) == 0               # among requantized files: the Q8_0


@pytest.mark.parametrize("argv", [["--help"], ["compare", "--help"], ["quantize", "--help"]])
def test_help_texts_render(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 0 and "usage: parley" in capsys.readouterr().out
