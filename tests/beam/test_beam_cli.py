"""`parley generate --beams`: the real CLI, its engine child (EngineHost) and the starter
model; `--json` lists the beams with their scores, plain text names the others on stderr."""

from __future__ import annotations

import json

import pytest

from tests.cli.test_cli import run_cli

pytestmark = pytest.mark.model


def beams(capsys, model, *flags: str) -> tuple[int, str, str]:
    return run_cli(capsys, "generate", str(model), "--mode", "text", "--prompt",
                   "The capital of France is", "--beams", "3", "--max-tokens", "6",
                   "--ctx", "512", "--threads", "2", *flags)


def test_json_lists_the_beams_best_first_with_their_scores(capsys, starter_model_path):
    code, out, _ = beams(capsys, starter_model_path, "--json", "--length-penalty", "0.5",
                         "--early-stopping")
    data = json.loads(out)
    assert code == 0 and len(data["beams"]) == 3
    scores = [b["score"] for b in data["beams"]]
    assert scores == sorted(scores, reverse=True)
    assert data["text"] == data["beams"][0]["text"]
    for beam in data["beams"]:
        assert beam["score"] == pytest.approx(beam["sum_logprob"] / beam["tokens"] ** 0.5)
    assert data["stats"]["output_tokens"] <= 6 and data["stats"]["ttft_s"] > 0


def test_plain_text_prints_the_best_and_names_the_others(capsys, starter_model_path):
    code, out, err = beams(capsys, starter_model_path)
    assert code == 0 and out.strip()
    assert "beam 2 (score " in err and "beam 3 (score " in err


def test_a_bad_width_is_one_line_before_the_model_loads(capsys, starter_model_path):
    code, _, err = run_cli(capsys, "generate", str(starter_model_path), "--prompt", "x",
                           "--beams", "65")
    assert code != 0 and "beams must be between 0 and 64" in err
    assert "Traceback" not in err
