"""`parley generate --json --top-logprobs N`: OpenAI's chat logprobs from the token inspector."""

from __future__ import annotations

import json
import math

from tests.cli.test_cli import run_cli


def test_generate_json_adds_one_logprobs_entry_per_token(capsys, starter_model_path):
    code, out, err = run_cli(capsys, "generate", str(starter_model_path), "--mode", "text",
                             "--prompt", "The capital of France is", "--temperature", "0",
                             "--repeat-penalty", "1", "--max-tokens", "6", "--ctx", "512",
                             "--json", "--top-logprobs", "3")
    assert code == 0, err
    data = json.loads(out)
    entries = data["logprobs"]
    assert len(entries) == data["stats"]["output_tokens"] == 6
    assert bytes(b for e in entries for b in e["bytes"]).decode() == data["text"]
    for entry in entries:
        assert set(entry) == {"token", "logprob", "bytes", "top_logprobs"}
        top = entry["top_logprobs"]
        values = [t["logprob"] for t in top]
        assert len(top) == 3 and values == sorted(values, reverse=True)
        assert all(set(t) == {"token", "logprob", "bytes"} for t in top)
        # greedy with no penalty draws the most likely token
        assert entry["token"] == top[0]["token"] and entry["logprob"] == values[0]
        assert values[0] <= 0 and sum(math.exp(v) for v in values) <= 1 + 1e-9
        assert bytes(top[0]["bytes"]).decode(errors="replace") == top[0]["token"]


def test_without_the_flag_there_are_no_logprobs(capsys, starter_model_path):
    code, out, _ = run_cli(capsys, "generate", str(starter_model_path), "--mode", "text",
                           "--prompt", "Hi", "--max-tokens", "2", "--ctx", "256", "--json")
    assert code == 0 and "logprobs" not in json.loads(out)


def test_bad_top_logprobs_are_one_line_errors(capsys, tmp_path):
    model = tmp_path / "m.gguf"
    model.write_bytes(b"")                      # refused before the model would load
    for argv, message in ((["--json", "--top-logprobs", "21"], "between 0 and 20, got 21"),
                          (["--json", "--top-logprobs", "-1"], "between 0 and 20, got -1"),
                          (["--top-logprobs", "2"], "--top-logprobs needs --json")):
        code, out, err = run_cli(capsys, "generate", str(model), "--prompt", "x", *argv)
        assert code != 0 and message in err and "Traceback" not in err
        assert len(err.strip().splitlines()) == 1
