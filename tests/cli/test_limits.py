"""Every whole number that reaches llama.cpp is bounded in one place (inference.common.limits):
a value C would wrap is one line naming the setting and its range, in every command."""

from __future__ import annotations

import pytest

from inference.cli import main
from inference.common.limits import LIMITS, usable_cores
from tests.support.gguf_factory import write_tiny_model

WRAPS = "4294967312"            # 2**32 + 16: 16 once it is a C int


def run_cli(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize(("command", "flags", "message"), [
    ("perplexity", ("--ctx", WRAPS), f"context size must be between 16 and 1048576, got {WRAPS}"),
    ("perplexity", ("--batch", "0"), "batch size must be between 1 and 65536, got 0"),
    ("perplexity", ("--batch", WRAPS), f"batch size must be between 1 and 65536, got {WRAPS}"),
    ("perplexity", ("--threads", "-1"), "threads must be between 0 and 1024, got -1"),
    ("perplexity", ("--gpu-layers", WRAPS),
     f"GPU layers must be between -1 and 100000, got {WRAPS}"),
    ("bench", ("-p", WRAPS), f"prompt tokens must be between 1 and 1048576, got {WRAPS}"),
    ("bench", ("-n", WRAPS), f"generated tokens must be between 1 and 1048576, got {WRAPS}"),
    ("bench", ("-p", "1048576", "-n", "1000"),
     "context size must be between 16 and 1048576, got 1049640"),
    ("bench", ("-t", "-4"), "threads must be between 0 and 1024, got -4"),
    ("bench", ("-ub", WRAPS), f"micro-batch size must be between 1 and 65536, got {WRAPS}"),
    ("generate", ("--ctx", WRAPS), f"context size must be between 16 and 1048576, got {WRAPS}"),
    ("generate", ("--threads", WRAPS), f"threads must be between 0 and 1024, got {WRAPS}"),
    ("generate", ("--gpu-layers", WRAPS),
     f"GPU layers must be between -1 and 100000, got {WRAPS}"),
    ("models", ("--ctx", WRAPS), f"context size must be between 16 and 1048576, got {WRAPS}"),
    ("compare", ("--ctx", WRAPS), f"context size must be between 16 and 1048576, got {WRAPS}"),
    ("compare", ("--tg", "0"), "generated tokens must be between 1 and 1048576, got 0"),
])
def test_out_of_range_numbers_are_one_line_before_native_code(capsys, tmp_path, command, flags,
                                                              message):
    model = str(write_tiny_model(tmp_path / "tiny.gguf"))
    text = tmp_path / "text.txt"
    text.write_text("some words to measure " * 50)
    args = {"perplexity": [model, str(text)], "bench": [model], "models": [],
            "generate": [model, "--prompt", "x"],
            "compare": [model, model, "--text", str(text)]}[command]
    code, out, err = run_cli(capsys, command, *args, *flags)
    assert (code, out) == (1, "")
    assert err == f"parley {command}: error: {message}\n"


def test_the_gui_and_the_engine_read_the_same_table():
    from inference.engine.config import MAX_CTX, ModelConfig

    assert LIMITS["n_ctx"].high == MAX_CTX
    with pytest.raises(ValueError, match=f"context size must be between 16 and {MAX_CTX}"):
        ModelConfig("x.gguf", n_ctx=int(WRAPS))


def test_more_threads_than_cores_is_a_warning_in_generate(capsys, tmp_path):
    model = str(write_tiny_model(tmp_path / "tiny.gguf"))
    threads = usable_cores() + 1
    code, out, err = run_cli(capsys, "generate", model, "--prompt", "hi", "--max-tokens", "2",
                             "--temperature", "0", "--threads", str(threads))
    assert code == 0
    warnings = [line for line in err.splitlines() if "CPU cores" in line]
    assert warnings == [f"parley generate: warning: {threads} threads is more than the "
                        f"{usable_cores()} CPU cores this machine has; llama.cpp runs much "
                        f"slower with more threads than cores (use {usable_cores()} or fewer, "
                        f"or 0 for the default)."]


def test_threads_within_the_cores_are_not_warned_about(capsys, tmp_path):
    model = str(write_tiny_model(tmp_path / "tiny.gguf"))
    code, _, err = run_cli(capsys, "generate", model, "--prompt", "hi", "--max-tokens", "2",
                           "--threads", "1")
    assert code == 0 and "CPU cores" not in err
