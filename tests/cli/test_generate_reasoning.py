"""`parley generate` with a reply that thinks first: `--json`'s "reasoning", the thinking
printed before the answer, `--hide-reasoning` (the real CLI, engine child and starter model)."""

from __future__ import annotations

import json

import pytest

from tests.cli.test_cli import run_cli
from tests.engine.test_engine_reasoning import DEMO, THOUGHTS

pytestmark = pytest.mark.model


def generate(capsys, model, *flags: str) -> tuple[int, str, str]:
    return run_cli(capsys, "generate", str(model), "--mode", "instruct", "--prompt", DEMO,
                   "--temperature", "0", "--max-tokens", "24", "--stop", "\n\n",
                   "--ctx", "512", "--threads", "2", *flags)


def test_json_has_the_reasoning_apart_from_the_answer(capsys, starter_model_path):
    code, out, _ = generate(capsys, starter_model_path, "--json")
    data = json.loads(out)
    assert code == 0 and data["reasoning"] in THOUGHTS and data["text"] == "six"
    stats = data["stats"]
    assert stats["ttft_s"] < stats["ttfa_s"] <= stats["total_s"]


def test_json_reasoning_is_empty_for_a_reply_that_does_not_think(capsys, starter_model_path):
    code, out, _ = run_cli(capsys, "generate", str(starter_model_path), "--mode", "text",
                           "--prompt", "The capital of France is", "--temperature", "0",
                           "--max-tokens", "4", "--ctx", "512", "--json")
    data = json.loads(out)
    assert code == 0 and data["reasoning"] == "" and data["text"]
    assert data["stats"]["ttfa_s"] == data["stats"]["ttft_s"]


def test_plain_text_prints_the_thinking_before_the_answer(capsys, starter_model_path):
    code, out, err = generate(capsys, starter_model_path)
    assert code == 0
    assert out in [f"[Start thinking]\n{t}\n[End thinking]\n\nsix\n" for t in THOUGHTS]
    assert "TTFA" in err.splitlines()[-1]


def test_hide_reasoning_prints_the_answer_alone(capsys, starter_model_path):
    code, out, err = generate(capsys, starter_model_path, "--hide-reasoning")
    assert (code, out) == (0, "six\n")
    assert err.splitlines()[-1].startswith("[stop] ") and "TTFA" in err
