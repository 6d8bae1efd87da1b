"""Quant comparison: KLD exactly as llama-perplexity, same-model checks, exports that agree."""

from __future__ import annotations

import csv
import io
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from inference.cli import main
from inference.common.cancel import CancelToken
from inference.common.errors import Cancelled
from inference.compare.checks import ModelMismatchError, check_same_model
from inference.compare.comparison import (
    CompareProgress,
    CompareSettings,
    ComparisonCancelled,
    compare_files,
    estimate_eta,
    pick_reference,
)
from inference.compare.export import CSV_FIELDS, _pm, to_csv, to_markdown, to_text
from inference.compare.history import CompareHistory, HistoryError
from inference.compare.prompt import PromptSettings, run_same_prompt
from inference.compare.result import CompareResult
from inference.gguf.file import read_gguf
from inference.perplexity.kld import KldTotals, LogProbReader, LogProbWriter, encode_rows, row_width
from inference.perplexity.measure import TextTooShortError
from tests.support.gguf_factory import write_tiny_model
from tests.support.quant_ladder import LADDER, N_CTX, sample_text, session_ladder

ROOT = Path(__file__).resolve().parents[2]
# what llama.cpp's own log lines start with ("load: control-looking token …", "llama_context: …")
LLAMA_LOG = re.compile(r"^(load|llama_\w+|ggml_\w+|print_info|graph_\w+|srv|common_\w+)\s*:",
                       re.M)
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
    """`parley compare … --json` run as a user runs it: its own process, stdout and stderr."""
    folder = tmp_path_factory.mktemp("compare")
    text = folder / "text.txt"
    text.write_text(sample_text(), encoding="utf-8")
    env = os.environ | {"PARLEY_HOME": str(folder / "home")}
    proc = subprocess.run(
        [sys.executable, "-m", "inference.cli", "compare",
         *(str(ladder[t]) for t in reversed(LADDER)), "--text", str(text),
         "--ctx", str(N_CTX), "--threads", "2", "--pp", "16", "--tg", "4",
         "--reps", "1", "--json", "--save", str(folder / "r.csv"),
         "--save", str(folder / "r.md")],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=1200)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout), folder, proc.stderr


def test_json_has_every_figure(compared) -> None:
    data = compared[0]
    assert data["reference"] == "gemma-3-270m-Q8_0.gguf"       # most bits per weight
    assert data["n_ctx"] == N_CTX and data["chunks"] >= 2
    assert [r["quant"] for r in data["rows"]] == list(reversed(LADDER))   # the given order
    for row in data["rows"]:
        assert ROW_KEYS <= set(row)
        assert row["ppl"] > 1 and row["ppl_se"] > 0 and row["peak_rss"] > row["file_size"] / 4
        assert row["pp_tps"] > 0 and row["tg_tps"] > 0 and row["requantized_from"] == "Q4_K_M"
    assert [r["is_reference"] for r in data["rows"]] == [False, False, True]


def test_the_reference_against_itself_is_measured(compared) -> None:
    """The reference's logits scored against the log-probs it streamed to disk: KLD ≈ 0 (the
    uint16 rounding of the stored rows, nothing more) and the same top token everywhere."""
    rows = {r["quant"]: r for r in compared[0]["rows"]}
    ref, q4 = rows["Q8_0"], rows["Q4_0"]
    assert abs(ref["kld_mean"]) < 1e-4 and 0 < ref["kld_max"] < 1e-3   # the rounding, measured
    assert ref["kld_se"] > 0 and ref["kld_p99"] <= ref["kld_max"]
    assert ref["same_top"] == 100 and abs(ref["dp_mean"]) < 0.05 and ref["ppl_ratio"] == 1
    assert q4["kld_mean"] > 100 * abs(ref["kld_mean"]) and q4["same_top"] < 100


def test_llama_cpp_log_stays_off_stderr(compared) -> None:
    """Without -v the child processes' llama.cpp log goes to Parley's log file, not stderr."""
    _data, folder, stderr = compared
    assert LLAMA_LOG.search(stderr) is None, stderr[:2000]
    assert "control-looking" not in stderr
    log = (folder / "home" / "logs" / "parley.log").read_text(encoding="utf-8")
    assert "control-looking token" in log              # routed there, not dropped


def test_quality_falls_as_bits_drop(compared) -> None:
    rows = {r["quant"]: r for r in compared[0]["rows"]}
    kld = [rows[t]["kld_mean"] for t in LADDER]
    same = [rows[t]["same_top"] for t in LADDER]
    assert kld == sorted(kld) and kld[0] < kld[1] < kld[2]
    assert same[0] > same[1] > same[2]
    assert all(rows[t]["kld_p99"] <= rows[t]["kld_max"] for t in LADDER)
    assert rows["Q2_K"]["dp_mean"] < 0 and rows["Q2_K"]["ppl"] > rows["Q8_0"]["ppl"]


def test_table_csv_and_json_agree(compared) -> None:
    data, folder, _ = compared
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
def test_reference_can_be_chosen_and_must_be_listed(ladder) -> None:
    infos = [read_gguf(ladder[t]) for t in ("Q4_0", "Q8_0")]
    assert pick_reference(infos) == 1
    assert pick_reference(infos, ladder["Q4_0"]) == 0
    with pytest.raises(Exception, match="not one of the compared files"):
        pick_reference(infos, ladder["Q2_K"])


def test_cancel_ends_the_comparison(ladder) -> None:
    cancel = CancelToken()
    seen: list[CompareProgress] = []

    def on_progress(p: CompareProgress) -> None:
        seen.append(p)
        cancel.cancel()

    with pytest.raises(Cancelled) as err:
        compare_files([ladder["Q8_0"], ladder["Q4_0"]], sample_text(),
                      settings=CompareSettings(n_ctx=N_CTX, threads=2, speed=None),
                      progress=on_progress, cancel=cancel)
    assert seen and seen[0].index == 0 and seen[0].file == "gemma-3-270m-Q8_0.gguf"
    assert isinstance(err.value, ComparisonCancelled) and err.value.partial is None


def test_a_cancel_after_the_reference_keeps_the_files_measured(ladder) -> None:
    """Cancelled while the second of three files runs: the reference and nothing half-done."""
    cancel = CancelToken()

    def on_progress(p: CompareProgress) -> None:
        if p.index == 1:
            cancel.cancel()

    files = [ladder["Q8_0"], ladder["Q4_0"], ladder["Q2_K"]]
    with pytest.raises(ComparisonCancelled) as err:
        compare_files(files, sample_text(),
                      settings=CompareSettings(n_ctx=N_CTX, threads=2, speed=None),
                      progress=on_progress, cancel=cancel)
    partial = err.value.partial
    assert partial is not None and partial.partial and partial.files_asked == 3
    assert [r.file for r in partial.rows] == ["gemma-3-270m-Q8_0.gguf"]
    assert partial.rows[0].is_reference
    again = CompareResult.from_dict(partial.to_dict())
    assert again.partial and again.files_asked == 3


def test_text_too_short_says_what_to_do(ladder) -> None:
    with pytest.raises(TextTooShortError, match=r"at least 256 tokens.*--ctx"):
        compare_files([ladder["Q8_0"], ladder["Q4_0"]], sample_text()[:400],
                      settings=CompareSettings(n_ctx=N_CTX, threads=2, speed=None))


def test_a_requantized_upcast_is_no_better_than_its_source(ladder, starter_model_path) -> None:
    """Q8_0 made from the Q4_K_M starter holds no more than the starter: the original wins."""
    infos = [read_gguf(p) for p in (ladder["Q8_0"], starter_model_path, ladder["Q4_0"])]
    assert pick_reference(infos) == 1
    assert pick_reference(infos[::2]) == 0               # among requantized files: the Q8_0


def test_eta_extrapolates_the_time_so_far() -> None:
    assert estimate_eta(10.0, 0.01) is None                 # too early to tell
    assert estimate_eta(10.0, 0.25) == pytest.approx(30.0)
    assert estimate_eta(10.0, 1.0) == 0.0


# -- saved comparisons --------------------------------------------------------------------------
def test_saved_comparisons_list_and_reopen(compared_like: CompareResult, tmp_path: Path) -> None:
    history = CompareHistory(tmp_path / "comparisons")
    assert history.list() == []
    first = history.save(compared_like, when=1_700_000_000)
    second = history.save(compared_like, when=1_700_000_060)
    again = history.save(compared_like, when=1_700_000_060)        # same second: a new name
    assert len({first, second, again}) == 3 and first.name.endswith("-m-Q8_0.json")
    listed = history.list()
    assert [s.path for s in listed][-1] == first and listed[0].saved_at >= listed[1].saved_at
    assert listed[-1].reference == "m-Q8_0.gguf" and listed[-1].files == ("m-Q8_0.gguf",
                                                                          "m-Q4_0.gguf")
    assert history.load(first) == compared_like
    (tmp_path / "comparisons" / "20990101-000000-broken.json").write_text("{not json")
    broken = history.list()[0]
    assert broken.error and "unreadable" in broken.label
    with pytest.raises(HistoryError, match="not a saved comparison"):
        history.load(broken.path)
    history.delete(broken.path)
    assert len(history.list()) == 3


@pytest.fixture()
def compared_like() -> CompareResult:
    data = {"reference": "m-Q8_0.gguf", "n_ctx": 128, "tokens": 300, "chunks": 2,
            "tokens_scored": 126, "seconds": 3.5, "settings": {"n_ctx": 128}, "rows": [
                {"file": name, "path": f"/m/{name}", "quant": quant, "bits_per_weight": bpw,
                 "file_size": 1000, "requantized_from": None, "is_reference": ref,
                 "load_seconds": 0.1, "eval_seconds": 1.0, "peak_rss": 5, "vram_bytes": None,
                 "ppl": 20.5, "ppl_se": 1.25, "kld_mean": kld, "same_top": 100 - 100 * kld}
                for name, quant, bpw, kld, ref in (("m-Q8_0.gguf", "Q8_0", 8.5, 0.0, True),
                                                   ("m-Q4_0.gguf", "Q4_0", 4.5, 0.25, False))]}
    return CompareResult.from_dict(data)


# -- same prompt, real files --------------------------------------------------------------------
def test_same_prompt_on_real_files_is_repeatable(ladder, starter_model_path: Path) -> None:
    settings = PromptSettings("Name three colours.", seed=11, max_tokens=12, temperature=0.9,
                              n_ctx=256, threads=2)
    pieces: list[str] = []
    first = run_same_prompt([starter_model_path, ladder["Q2_K"]], settings,
                            on_piece=lambda p: pieces.append(p.file))
    assert [r.file for r in first] == [starter_model_path.name, ladder["Q2_K"].name]
    for reply in first:
        assert reply.error is None and reply.text.strip() and reply.output_tokens > 1
        assert reply.ttft_s is not None and reply.ttft_s > 0
        assert reply.tpot_s is not None and reply.tpot_s > 0
    assert set(pieces) == {starter_model_path.name, ladder["Q2_K"].name}    # streamed
    (again,) = run_same_prompt([starter_model_path], settings)
    assert again.text == first[0].text                     # same file, same seed: same reply


@pytest.mark.parametrize("argv", [["--help"], ["compare", "--help"], ["quantize", "--help"]])
def test_help_texts_render(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 0 and "usage: parley" in capsys.readouterr().out


def test_a_figure_that_rounds_to_zero_is_never_negative_zero() -> None:
    assert _pm(-1e-9, 1e-9, 6) == "0.000000 ± 0.000000"
    assert _pm(-0.0001, 0.1, 3, " %") == "0.000 ± 0.100 %"
    assert _pm(-0.000001, None, 6) == "-0.000001"
    assert _pm(0.012345, 0.0004, 6) == "0.012345 ± 0.000400"
