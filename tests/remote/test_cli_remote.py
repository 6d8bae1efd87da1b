"""`parley generate --remote` and `parley models --remote` against the stand-in server: the
reply on stdout, figures on stderr, every failure one line and exit 1."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from inference.cli import main
from tests.remote.standin import MODEL, StandIn, free_port, start_standin


@pytest.fixture()
def standin() -> Iterator[StandIn]:
    server = start_standin()
    yield server
    server.stop()


def run_cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_generate_streams_a_remote_reply(capsys, standin: StandIn) -> None:
    code, out, err = run_cli(capsys, "generate", "--remote", standin.url, "--model", MODEL,
                             "--prompt", "Hi", "--temperature", "0", "--max-tokens", "8")
    assert code == 0, err
    assert out == "Hello, world!\n"
    assert "[stop] prompt 7 tok · output 4 tok" in err
    body = standin.script.seen[-1]
    assert body["temperature"] == 0 and body["max_tokens"] == 8
    assert body["messages"] == [{"role": "user", "content": "Hi"}]


def test_generate_json_and_the_key_from_the_environment(capsys, standin: StandIn,
                                                        monkeypatch) -> None:
    standin.script.key = "sekret-42"
    monkeypatch.setenv("MY_KEY", "sekret-42")
    code, out, err = run_cli(capsys, "generate", "--remote", standin.url, "--api-key-env",
                             "MY_KEY", "--mode", "text", "--prompt", "Once", "--json")
    assert code == 0, err
    data = json.loads(out)
    assert data["text"] == "Hello, world!" and data["stats"]["output_tokens"] == 4
    assert "sekret-42" not in out + err
    code, _, err = run_cli(capsys, "generate", "--remote", standin.url, "--prompt", "x")
    assert code == 1 and err.count("\n") == 1
    assert "401 (no API key was sent): Invalid API Key" in err
    code, _, err = run_cli(capsys, "generate", "--remote", standin.url, "--api-key-env",
                           "UNSET_VAR_XYZ", "--prompt", "x")
    assert (code, err) == (1, "parley generate: error: --api-key-env UNSET_VAR_XYZ: that "
                              "environment variable is not set or empty\n")


def test_generate_says_when_it_waits_and_when_the_stream_was_cut(capsys,
                                                                 standin: StandIn) -> None:
    standin.script.busy = 1
    code, out, err = run_cli(capsys, "generate", "--remote", standin.url, "--prompt", "Hi")
    assert code == 0 and out == "Hello, world!\n"
    assert "warning: the server is busy (503: Loading model); asking again in 0.2 s " \
        "(wait 1 of 3)" in err
    standin.script.cut_after = 3
    code, out, err = run_cli(capsys, "generate", "--remote", standin.url, "--prompt", "Hi")
    assert code == 1 and out == "Hello, world\n"
    assert "dropped mid-reply" in err and "[interrupted]" in err


def test_generate_failures_are_one_line(capsys) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    code, out, err = run_cli(capsys, "generate", "--remote", url, "--prompt", "Hi")
    assert (code, out) == (1, "")
    assert err.startswith(f"parley generate: error: Cannot reach {url}: connection refused")
    assert err.count("\n") == 1
    code, _, err = run_cli(capsys, "generate", "starter", "--remote", url, "--prompt", "Hi")
    assert code == 1 and "either a MODEL file or --remote URL" in err
    code, _, err = run_cli(capsys, "generate", "--prompt", "Hi")
    assert code == 1 and "no model: give a .gguf file, 'starter', or --remote URL" in err
    code, _, err = run_cli(capsys, "generate", "--remote", "ftp://x", "--prompt", "Hi")
    assert code == 1 and "must start with http:// or https://" in err


def test_models_lists_what_the_server_serves(capsys, standin: StandIn) -> None:
    code, out, err = run_cli(capsys, "models", "--remote", standin.url)
    assert code == 0, err
    assert MODEL in out and "2,048" in out and "(llama-server)" not in out
    assert "1 models at " + standin.url + " (llama.cpp server)" in out
    code, out, _ = run_cli(capsys, "models", "--remote", standin.url, "--json")
    data = json.loads(out)
    assert data["server"] == "llama-server" and data["ignored_sliders"] == []
    assert data["models"] == [{"id": MODEL, "owned_by": "llamacpp", "n_ctx": 2048}]
