"""`parley info` and `parley generate`, end to end through the real CLI entry point."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from inference.cli import main
from inference.engine.load_checks import unsupported_message
from inference.gguf.file import read_gguf
from inference.memory.fit import estimate
from tests.support.gguf_factory import (
    BROKEN_KINDS,
    EXPECTED_ERRORS,
    SIMPLE_CHAT_TEMPLATE,
    write_broken,
    write_tiny_model,
)

INFO_KEYS = {"path", "architecture", "name", "quant", "parameters", "bits_per_weight",
             "file_size", "context_length", "layers", "experts", "chat_template"}
STATS_KEYS = {"ttft_s", "tpot_s", "prefill_tps", "gen_tps", "prompt_tokens", "cached_tokens",
              "output_tokens", "itl_p50_s", "itl_p95_s"}


def run_cli(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_info_json_has_the_stable_keys(capsys, starter_model_path):
    code, out, _ = run_cli(capsys, "info", str(starter_model_path), "--json", "--ctx", "2048")
    data = json.loads(out)
    assert code == 0 and INFO_KEYS <= data.keys()
    assert (data["architecture"], data["quant"], data["layers"]) == ("gemma3", "Q4_K_M", 18)
    assert data["chat_template"] is False and data["experts"] == 0
    assert data["supported"] is True
    assert data["memory"]["n_ctx"] == 2048 and data["memory"]["total_bytes"] > data["file_size"]


def test_info_table_is_readable(capsys, starter_model_path):
    code, out, _ = run_cli(capsys, "info", str(starter_model_path))
    assert code == 0
    assert "Q4_K_M" in out and "gemma3" in out and "Memory at n_ctx=4,096" in out


def corpus_message(kind: str, path: Path) -> str | None:
    """The specific message `read_gguf` gives corpus file `kind` (None: it inspects fine).

    test_gguf_file checks the facts each message holds; here the CLI must pass it on whole.
    """
    expected = EXPECTED_ERRORS[kind]
    if expected is None:
        return None
    with pytest.raises(expected) as err:
        read_gguf(path)
    return str(err.value)


@pytest.mark.parametrize("kind", BROKEN_KINDS)
def test_info_on_each_corpus_file_says_what_is_wrong(capsys, tmp_path, kind):
    path = write_broken(kind, tmp_path)
    message = corpus_message(kind, path)
    code, out, err = run_cli(capsys, "info", str(path))
    if message is not None:
        assert (code, out) == (1, "")
        assert err == f"parley info: error: {message}\n"
    elif kind == "unknown_architecture":
        assert code == 0 and "NOT SUPPORTED" in out
        assert unsupported_message("parleytest") in out
    elif kind == "jinja_escape_template":
        assert code == 0 and err == ""
        row = next(line for line in out.splitlines() if line.startswith("Chat template"))
        assert "yes (in the file)" in row and "stopped by the sandbox" in row
        assert row.endswith("so llama.cpp's built-in llama2 format is used")
    else:
        pytest.fail(f"no expectation for corpus kind {kind!r}")


@pytest.mark.parametrize("kind", BROKEN_KINDS)
def test_generate_on_each_corpus_file_says_what_is_wrong(capsys, tmp_path, kind):
    path = write_broken(kind, tmp_path)
    message = corpus_message(kind, path)
    code, out, err = run_cli(capsys, "generate", str(path), "--prompt", "hi",
                             "--max-tokens", "4", "--temperature", "0", "--json")
    if message is not None:
        assert (code, out) == (1, "")
        assert err == f"parley generate: error: {message}\n"
    elif kind == "unknown_architecture":
        assert code == 1
        assert err == f"parley generate: error: {unsupported_message('parleytest')}\n"
    elif kind == "jinja_escape_template":
        data = json.loads(out)
        assert code == 0 and data["template"] == "llama2 (llama.cpp built-in)"
        assert [w for w in data["warnings"] if "stopped by the sandbox" in w]
        assert err.startswith("parley generate: warning: Using the built-in llama2 format: ")
        assert "stopped by the sandbox" in err and err.count("\n") == 1
    else:
        pytest.fail(f"no expectation for corpus kind {kind!r}")


def test_info_json_names_a_template_that_fails_the_sandbox(capsys, tmp_path):
    path = write_broken("jinja_escape_template", tmp_path)
    code, out, _ = run_cli(capsys, "info", str(path), "--json")
    data = json.loads(out)
    assert code == 0 and INFO_KEYS <= data.keys() and data["chat_template"] is True
    assert data["chat_template_fallback"] == "llama2"
    assert "stopped by the sandbox" in data["chat_template_error"]
    plain = write_tiny_model(tmp_path / "plain.gguf", chat_template=SIMPLE_CHAT_TEMPLATE)
    code, out, _ = run_cli(capsys, "info", str(plain), "--json")
    data = json.loads(out)
    assert data["chat_template"] is True
    assert data["chat_template_error"] is None and data["chat_template_fallback"] is None


def test_load_warnings_reach_the_stats_footer_too(capsys, tmp_path):
    path = write_broken("jinja_escape_template", tmp_path)
    code, out, err = run_cli(capsys, "generate", str(path), "--prompt", "hi",
                             "--max-tokens", "3", "--temperature", "0")
    lines = err.splitlines()
    assert code == 0 and out.endswith("\n")
    assert lines[0].startswith("parley generate: warning: Using the built-in llama2 format")
    assert lines[-1].startswith("[length] prompt ")


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
    ("--repeat-penalty", "0", "repeat-penalty must be greater than 0 and at most 5, got 0"),
    ("--seed", "4294967295", "seed must be between -1 and 4294967294, got 4294967295"),
    ("--max-tokens", "2000000", "max-tokens must be between 1 and 1000000, got 2000000"),
    ("--cache-type-v", "q9", "V cache type must be one of f32, f16, bf16, q8_0"),
    ("--flash-attn", "maybe", "flash attention must be auto, on or off, got 'maybe'"),
])
def test_bad_flags_get_one_exact_line_before_loading(capsys, tmp_path, flag, value, message):
    model = write_tiny_model(tmp_path / "tiny.gguf")
    code, out, err = run_cli(capsys, "generate", str(model), "--prompt", "x", flag, value)
    assert (code, out) == (1, "")
    assert err.startswith(f"parley generate: error: {message}") and err.count("\n") == 1


@pytest.mark.parametrize("flags", [("--ctx", "0"), ("--ctx", "-5"), ("--ctx", "10000000"),
                                   ("--gpu-layers", "-3"), ("--cache-type-k", "q3_k")])
def test_info_refuses_the_settings_generate_refuses(capsys, tmp_path, flags):
    model = write_tiny_model(tmp_path / "tiny.gguf")
    code, out, err = run_cli(capsys, "info", str(model), *flags)
    assert (code, out) == (1, "") and err.startswith("parley info: error: ")
    gen_code, _, gen_err = run_cli(capsys, "generate", str(model), "--prompt", "x", *flags)
    assert gen_code == 1
    assert err.removeprefix("parley info: ") == gen_err.removeprefix("parley generate: ")


def test_info_estimate_follows_the_kv_cache_types(capsys, tmp_path):
    model = write_tiny_model(tmp_path / "tiny.gguf")
    sizes = {}
    for k, v in (("f16", "f16"), ("q8_0", "f16"), ("q4_0", "q8_0")):
        code, out, _ = run_cli(capsys, "info", str(model), "--json", "--ctx", "1024",
                               "--cache-type-k", k, "--cache-type-v", v)
        assert code == 0
        sizes[k, v] = json.loads(out)["memory"]["kv_cache_bytes"]
        assert sizes[k, v] == estimate(read_gguf(model), 1024, kv_type=k,
                                       kv_type_v=v).kv_cache_bytes
    assert len(set(sizes.values())) == 3


def test_a_file_name_too_long_is_one_line_not_a_traceback(capsys, tmp_path):
    long_name = str(tmp_path / ("a" * 300 + ".gguf"))
    for argv in (["info", long_name], ["generate", long_name, "--prompt", "x"]):
        code, out, err = run_cli(capsys, *argv)
        assert (code, out) == (1, "")
        assert err == f"parley {argv[0]}: error: cannot open {long_name}: File name too long\n"


def test_parley_home_that_is_a_file_is_named(capsys, tmp_path, monkeypatch):
    home = tmp_path / "home.txt"
    home.write_text("not a folder")
    monkeypatch.setenv("PARLEY_HOME", str(home))
    code, out, err = run_cli(capsys, "info", str(write_tiny_model(tmp_path / "tiny.gguf")))
    assert (code, out) == (1, "") and err.count("\n") == 1
    assert f"{home} is a file, not a folder (PARLEY_HOME is {home})" in err


def test_an_unforeseen_os_error_is_one_line(capsys, tmp_path, parley_home):
    # the log file's place is taken by a folder: opening it fails inside the logging set-up
    (parley_home / "logs" / "parley.log").mkdir(parents=True)
    code, out, err = run_cli(capsys, "info", str(write_tiny_model(tmp_path / "tiny.gguf")))
    assert (code, out) == (1, "")
    assert err == (f"parley info: error: cannot use {parley_home / 'logs' / 'parley.log'}: "
                   "Is a directory\n")


@pytest.mark.parametrize("source", ["sparse", "/dev/zero"])
def test_a_prompt_file_over_16_mib_is_refused(capsys, tmp_path, source):
    model = write_tiny_model(tmp_path / "tiny.gguf")
    path = source
    if source == "sparse":
        path = str(tmp_path / "huge.txt")
        with open(path, "wb") as handle:
            handle.truncate((16 << 20) + 1)              # sparse: no disk used
    code, out, err = run_cli(capsys, "generate", str(model), "--prompt-file", path)
    assert (code, out) == (1, "")
    assert err == f"parley generate: error: {path} is larger than 16 MiB; use a shorter text\n"


@pytest.mark.parametrize("command", ["perplexity", "compare"])
def test_text_files_of_the_other_commands_are_bounded_too(capsys, tmp_path, command):
    """/dev/zero never ends: every command reads at most TEXT_FILE_LIMIT of a text file."""
    model = str(write_tiny_model(tmp_path / "tiny.gguf"))
    args = [model, "/dev/zero"] if command == "perplexity" else \
        [model, str(write_tiny_model(tmp_path / "other.gguf")), "--text", "/dev/zero"]
    code, out, err = run_cli(capsys, command, *args)
    assert (code, out) == (1, "")
    assert err == f"parley {command}: error: /dev/zero is larger than 256 MiB; use a shorter text\n"


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


def test_generate_streams_text_and_prints_stats_to_stderr(capsys, starter_model_path):
    code, out, err = run_cli(capsys, "generate", str(starter_model_path), "--mode", "instruct",
                             "--prompt", "Say hello.", "--temperature", "0",
                             "--max-tokens", "6", "--ctx", "512")
    assert code == 0 and out.strip()
    assert "TTFT" in err and "TPOT" in err and "output 6 tok" in err


COUNTING = ", ".join(str(i) for i in range(1, 50)) + ","     # greedy text mode keeps counting


def test_a_reply_that_fills_the_context_ends_context_full(capsys, starter_model_path):
    # --ctx 100 becomes 256 (llama.cpp pads n_ctx); max tokens far beyond what is left
    argv = ["generate", str(starter_model_path), "--mode", "text", "--prompt", COUNTING,
            "--ctx", "100", "--temperature", "0", "--repeat-penalty", "1", "--threads", "1",
            "--json"]
    code, out, _ = run_cli(capsys, *argv, "--max-tokens", "100000")
    data = json.loads(out)
    stats = data["stats"]
    assert code == 0 and data["finish_reason"] == "context_full", data["text"]
    assert stats["n_ctx"] == 256 and stats["prompt_tokens"] + stats["output_tokens"] == 256
    code, out, _ = run_cli(capsys, *argv, "--max-tokens", "10")   # the user's own limit
    data = json.loads(out)
    assert data["finish_reason"] == "length" and data["stats"]["output_tokens"] == 10


def test_a_quantized_v_cache_without_flash_attention_says_why(capsys, starter_model_path):
    base = ["generate", str(starter_model_path), "--prompt", "hi", "--ctx", "256",
            "--max-tokens", "2", "--temperature", "0", "--threads", "1"]
    code, out, err = run_cli(capsys, *base, "--cache-type-v", "q8_0", "--flash-attn", "off")
    assert (code, out) == (1, "")
    assert err == ("parley generate: error: Failed to create the llama.cpp context (n_ctx=256): "
                   "quantized V cache requires flash_attn to be enabled\n")
    code, out, _ = run_cli(capsys, *base, "--cache-type-k", "q8_0", "--cache-type-v", "q8_0")
    assert code == 0 and out.strip()                   # auto: llama.cpp turns flash attention on


def test_importing_inference_and_running_the_cli_never_imports_qt(tmp_path):
    model = write_tiny_model(tmp_path / "tiny.gguf")
    script = (
        "import sys, inference, inference.engine.engine, inference.cli, app.shell.launcher\n"
        "from inference.cli import main\n"
        f"main(['info', {str(model)!r}, '--json'])\n"
        "bad = [m for m in sys.modules if m.startswith('PySide6')]\n"
        "assert not bad, bad\n"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                            cwd=Path(__file__).parents[2], timeout=120)
    assert result.returncode == 0, result.stderr


def test_inference_sources_never_import_qt_or_app():
    root = Path(__file__).parents[2] / "inference"
    offenders = []
    for source in root.rglob("*.py"):
        for line in source.read_text().splitlines():
            stripped = line.strip()
            if stripped.startswith(("import PySide6", "from PySide6", "import app",
                                    "from app")):
                offenders.append(f"{source.name}: {stripped}")
    assert not offenders
