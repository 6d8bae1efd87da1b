"""`parley serve` as a command: safe defaults refused or warned about before any model loads, and
the front's process free of native code (imported and, in the running server, mapped)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import openai
import pytest

from inference.common.errors import InvalidSettingError
from inference.server.config import ServerConfig
from tests.server.serve_process import Served, launch, serve_command, wait_for_text


def test_another_host_needs_a_key_or_no_auth(tmp_path: Path) -> None:
    model = tmp_path / "any.gguf"
    model.write_bytes(b"GGUF")
    done = subprocess.run(serve_command(model, "--host", "0.0.0.0"), capture_output=True,
                          text=True, timeout=60, stdin=subprocess.DEVNULL)
    assert done.returncode == 1
    assert done.stderr.strip().splitlines()[-1] == (
        "parley serve: error: binding to 0.0.0.0 makes the server reachable from other "
        "machines: give it an --api-key KEY (or --no-auth to serve without one)")
    assert "Traceback" not in done.stderr
    assert ServerConfig(host="0.0.0.0", api_key="k").local is False
    assert ServerConfig(host="::1").local and ServerConfig(host="localhost").local
    with pytest.raises(InvalidSettingError, match="parallel slots must be between 1 and 256"):
        ServerConfig(parallel=0)


def test_no_auth_is_warned_about_on_start(starter_model_path: Path, tmp_path: Path) -> None:
    served = launch(starter_model_path, tmp_path / "serve.log", "--host", "0.0.0.0",
                    "--no-auth", "--port", "0", "--ctx", "256", "--threads", "2")
    try:
        log = wait_for_text(served, "parley serve: warning: serving on 0.0.0.0 with no API "
                            "key (--no-auth): anyone who can reach this machine can use the "
                            "model")
        assert "Traceback" not in log
    finally:
        served.stop()


def test_the_http_front_imports_no_native_code() -> None:
    """Everything the front runs (the command line with the serve command, routes, supervisor,
    mux, the child's entry, the logprobs it unpickles) imports neither llama.cpp nor the
    engine; only the engine child does."""
    code = ("import sys\nfrom inference.cli import build_parser, chosen_command, command\n"
            "build_parser(chosen_command(['serve', 'm.gguf'])); command('serve')\n"
            "import inference.server.app, inference.server.supervisor, "
            "inference.server.engine_child, inference.server.config, inference.server.logprobs\n"
            "bad = [m for m in sys.modules if m.startswith(('llama_cpp', 'inference.llama', "
            "'inference.batching', 'inference.engine.engine'))]; print(bad)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=60, cwd=Path(__file__).resolve().parents[2])
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


def _native_libraries(pid: int) -> set[str]:
    """The llama.cpp / ggml shared libraries mapped into process `pid` (Linux /proc)."""
    maps = Path(f"/proc/{pid}/maps").read_text(encoding="utf-8", errors="replace")
    return {Path(line.split()[-1]).name for line in maps.splitlines()
            if "/" in line and any(n in line.split()[-1] for n in ("libllama", "libggml"))}


@pytest.mark.skipif(not Path("/proc/self/maps").is_file(), reason="needs Linux /proc")
def test_the_running_front_has_no_llama_cpp_loaded(served: Served, client: openai.OpenAI,
                                                   model_id: str) -> None:
    """The real `parley serve` process, after serving logprobs and a JSON reply, has no
    llama.cpp library mapped (importing llama_cpp maps libllama); its engine child has."""
    client.chat.completions.create(model=model_id, max_tokens=3, logprobs=True, top_logprobs=2,
                                   response_format={"type": "json_object"},
                                   messages=[{"role": "user", "content": "hi"}])
    engine = _native_libraries(served.health()["engine_pid"])
    assert any(name.startswith("libllama") for name in engine), engine   # the check sees it
    assert _native_libraries(served.process.pid) == set()
