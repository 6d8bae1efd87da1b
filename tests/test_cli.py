"""`parley info` and `parley generate`, end to end through the real CLI entry point."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from inference.cli import main
from tests.gguf_factory import BROKEN_KINDS, EXPECTED_ERRORS, write_broken, write_tiny_model

INFO_KEYS = {"path", "architecture", "name", "quant", "parameters", "bits_per_weight",
             "file_size", "context_length", "layers", "experts", "chat_template"}
STATS_KEYS = {"ttft_s", "tpot_s", "prefill_tps", "gen_tps", "prompt_tokens", "cached_tokens",
              "output_tokens", "itl_p50_s", "itl_p95_s"}


def run_cli(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.model
def test_info_json_has_the_stable_keys(capsys, starter_model_path):
    code, out, _ = run_cli(capsys, "info", str(starter_model_path), "--json", "--ctx", "2048")
    data = json.loads(out)
    assert code == 0 and INFO_KEYS <= data.keys()
    assert (data["architecture"], data["quant"], data["layers"]) == ("gemma3", "Q4_K_M", 18)
    assert data["chat_template"] is False and data["experts"] == 0
    assert data["supported"] is True
    assert data["memory"]["n_ctx"] == 2048 and data["memory"]["total_bytes"] > data["file_size"]


@pytest.mark.model
def test_info_table_is_readable(capsys, starter_model_path):
    code, out, _ = run_cli(capsys, "info", str(starter_model_path))
    assert code == 0
    assert "Q4_K_M" in out and "gemma3" in out and "Memory at n_ctx=4,096" in out


@pytest.mark.parametrize("kind", [k for k in BROKEN_KINDS if EXPECTED_ERRORS[k]])
def test_info_on_a_broken_file_is_one_clear_line(capsys, tmp_path, kind):
    path = write_broken(kind, tmp_path)
    code, out, err = run_cli(capsys, "info", str(path))
    assert code == 1 and out == ""
    assert err.startswith("parley info: error: ") and err.count("\n") == 1, err
    assert "Traceback" not in err and path.name in err


@pytest.mark.parametrize("kind", [k for k in BROKEN_KINDS if EXPECTED_ERRORS[k]])
def test_generate_on_a_broken_file_is_one_clear_line(capsys, tmp_path, kind):
    path = write_broken(kind, tmp_path)
    code, _, err = run_cli(capsys, "generate", str(path), "--prompt", "hi")
    assert code == 1 and err.startswith("parley generate: error: ")
    assert "Traceback" not in err and path.name in err


def test_unknown_architecture_is_named_as_unsupported(capsys, tmp_path):
    path = write_broken("unknown_architecture", tmp_path)
    code, out, _ = run_cli(capsys, "info", str(path))
    assert code == 0 and "NOT SUPPORTED" in out and "'parleytest' is not supported" in out
    code, _, err = run_cli(capsys, "generate", str(path), "--prompt", "hi")
    assert code == 1
    assert "architecture 'parleytest' is not supported by this build" in err


def test_missing_file_and_folder_are_clear(capsys, tmp_path):
    code, _, err = run_cli(capsys, "info", str(tmp_path / "nope.gguf"))
    assert code == 1 and "no such file" in err
    code, _, err = run_cli(capsys, "generate", str(tmp_path), "--prompt", "x")
    assert code == 1 and "is a folder" in err


@pytest.mark.parametrize(("flag", "value", "message"), [
    ("--temperature", "9", "temperature must be between 0 and 5, got 9"),
    ("--top-p", "-1", "top-p must be between 0 and 1"),
    ("--max-tokens", "0", "max-tokens must be between 1"),
    ("--ctx", "4", "context size must be between 16"),
])
def test_out_of_range_flags_are_refused_before_loading(capsys, tmp_path, flag, value, message):
    model = write_tiny_model(tmp_path / "tiny.gguf")
    code, _, err = run_cli(capsys, "generate", str(model), "--prompt", "x", flag, value)
    assert code == 1 and message in err and "Traceback" not in err


def test_non_numeric_flag_is_a_usage_error(capsys, tmp_path):
    with pytest.raises(SystemExit) as exit_info:
        main(["generate", "m.gguf", "--prompt", "x", "--top-k", "many"])
    assert exit_info.value.code == 2
    assert "invalid int value: 'many'" in capsys.readouterr().err


def test_prompt_file_that_is_not_utf8_is_refused(capsys, tmp_path):
    model = write_tiny_model(tmp_path / "tiny.gguf")
    bad = tmp_path / "latin1.txt"
    bad.write_bytes("café".encode("latin-1"))
    code, _, err = run_cli(capsys, "generate", str(model), "--prompt-file", str(bad))
    assert code == 1 and "not valid UTF-8" in err
    binary = tmp_path / "blob.txt"
    binary.write_bytes(b"\x00\x01\x02binary")
    code, _, err = run_cli(capsys, "generate", str(model), "--prompt-file", str(binary))
    assert code == 1 and "binary" in err


@pytest.mark.model
def test_generate_json_has_the_stable_keys(capsys, starter_model_path):
    code, out, _ = run_cli(capsys, "generate", str(starter_model_path), "--mode", "text",
                           "--prompt", "The capital of France is", "--temperature", "0",
                           "--max-tokens", "8", "--ctx", "512", "--json")
    data = json.loads(out)
    assert code == 0
    assert {"text", "finish_reason", "template", "stats"} <= data.keys()
    assert STATS_KEYS <= data["stats"].keys()
    assert data["finish_reason"] == "length" and data["stats"]["output_tokens"] == 8
    assert data["text"].strip()


@pytest.mark.model
def test_generate_streams_text_and_prints_stats_to_stderr(capsys, starter_model_path):
    code, out, err = run_cli(capsys, "generate", str(starter_model_path), "--mode", "instruct",
                             "--prompt", "Say hello.", "--temperature", "0",
                             "--max-tokens", "6", "--ctx", "512")
    assert code == 0 and out.strip()
    assert "TTFT" in err and "TPOT" in err and "output 6 tok" in err


def test_importing_inference_and_running_the_cli_never_imports_qt(tmp_path):
    model = write_tiny_model(tmp_path / "tiny.gguf")
    script = (
        "import sys, inference, inference.engine, inference.cli, app.launcher\n"
        "from inference.cli import main\n"
        f"main(['info', {str(model)!r}, '--json'])\n"
        "bad = [m for m in sys.modules if m.startswith('PySide6')]\n"
        "assert not bad, bad\n"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                            cwd=Path(__file__).parent.parent, timeout=120)
    assert result.returncode == 0, result.stderr


def test_inference_sources_never_import_qt_or_app():
    root = Path(__file__).parent.parent / "inference"
    offenders = []
    for source in root.rglob("*.py"):
        for line in source.read_text().splitlines():
            stripped = line.strip()
            if stripped.startswith(("import PySide6", "from PySide6", "import app",
                                    "from app")):
                offenders.append(f"{source.name}: {stripped}")
    assert not offenders
