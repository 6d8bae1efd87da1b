"""`--speculative`, `--draft-model`, `--draft-max` on `parley generate`: one-line errors for bad
values, the acceptance figures in --json, and a draft of another vocabulary refused by name."""

from __future__ import annotations

import json
from pathlib import Path

from inference.cli import main
from tests.speculative.prompts import COPY
from tests.support.gguf_factory import write_tiny_model


def run_cli(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_bad_speculative_flags_are_one_line_errors(capsys, starter_model_path: Path,
                                                   tmp_path: Path) -> None:
    base = ("generate", str(starter_model_path), "--prompt", "hi", "--max-tokens", "2")
    code, out, err = run_cli(capsys, *base, "--speculative", "draft")
    assert (code, out) == (1, "")
    assert err == ("parley generate: error: speculative decoding with a draft model needs a "
                   "draft model file (--draft-model FILE)\n")
    code, _, err = run_cli(capsys, *base, "--speculative", "lookup", "--draft-max", "0")
    assert code == 1 and err == ("parley generate: error: draft length must be between 1 and "
                                 "64, got 0\n")
    code, _, err = run_cli(capsys, *base, "--draft-model", str(tmp_path / "none.gguf"))
    assert code == 1 and err.startswith("parley generate: error: no such draft model file: ")
    other = write_tiny_model(tmp_path / "tiny-other.gguf")
    code, _, err = run_cli(capsys, *base, "--draft-model", str(other))
    assert code == 1 and err.count("\n") == 1
    assert "tiny-other.gguf" in err and starter_model_path.name in err


def test_json_has_the_acceptance_figures(capsys, starter_model_path: Path,
                                         tmp_path: Path) -> None:
    prompt = tmp_path / "copy.txt"
    prompt.write_text(COPY, encoding="utf-8")
    code, out, _ = run_cli(capsys, "generate", str(starter_model_path), "--mode", "text",
                           "--prompt-file", str(prompt), "--temperature", "0",
                           "--max-tokens", "24", "--threads", "2", "--speculative", "lookup",
                           "--json")
    stats = json.loads(out)["stats"]
    assert code == 0 and stats["output_tokens"] == 24
    assert stats["draft_tokens"] >= stats["accepted_tokens"] > 0
    assert 0 < stats["acceptance_rate"] <= 1 and stats["mean_accepted"] > 0
