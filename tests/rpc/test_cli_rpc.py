"""`--rpc` on the command line: checked before anything loads, the split shown before loading
(`parley info`), where the layers went after (`parley generate`), one line for a refused server."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from inference.cli import main
from tests.support.rpc_servers import RpcServer, free_port, running_rpc_servers

pytestmark = pytest.mark.model


@pytest.fixture(scope="module")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[RpcServer]]:
    with running_rpc_servers(2, tmp_path_factory.mktemp("cli-rpc-logs")) as running:
        yield running


def run_cli(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize("command", ["generate", "bench", "serve", "perplexity", "info"])
def test_a_bad_address_is_refused_by_every_loading_command(capsys, command: str) -> None:
    extra = {"generate": ["--prompt", "hi"], "perplexity": ["notes.txt"]}.get(command, [])
    with pytest.raises(SystemExit) as exit_:
        main([command, "starter", *extra, "--rpc", "10.0.0.2:50052,gpu-box"])
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert "argument --rpc: RPC server must be host:port" in err and "'gpu-box'" in err


def test_info_shows_the_split_per_device_before_loading(
        capsys, starter_model_path: Path, servers: list[RpcServer]) -> None:
    endpoints = ",".join(s.endpoint for s in servers)
    code, out, _ = run_cli(capsys, "info", str(starter_model_path), "--gpu-layers", "10",
                           "--rpc", endpoints)
    assert code == 0
    lines = [line for line in out.splitlines() if "layers" in line and "~" in line]
    assert lines[0].startswith("Layers on") and "CPU (this computer): 9 layers" in lines[0]
    assert f"RPC0 ({servers[0].endpoint}): 5 layers" in lines[1]
    assert f"RPC1 ({servers[1].endpoint}): 4 layers + output" in lines[2]
    code, out, _ = run_cli(capsys, "info", str(starter_model_path), "--gpu-layers", "10",
                           "--rpc", endpoints, "--json")
    devices = json.loads(out)["devices"]
    assert [d["layers"] for d in devices] == [9, 5, 4] and devices[2]["has_output"]


def test_generate_says_where_the_layers_went(capsys, starter_model_path: Path,
                                             servers: list[RpcServer]) -> None:
    code, out, err = run_cli(capsys, "generate", str(starter_model_path), "--mode", "text",
                             "--prompt", "The sky is", "--temperature", "0", "--max-tokens", "4",
                             "--ctx", "512", "--threads", "1", "--gpu-layers", "-1",
                             "--rpc", ",".join(s.endpoint for s in servers))
    assert code == 0 and out.strip()
    assert "layers on CPU (this computer): 0 layers" in err
    assert f"layers on RPC1 ({servers[1].endpoint}):" in err and "+ output" in err


def test_a_refused_server_is_one_line(capsys, starter_model_path: Path) -> None:
    port = free_port()
    code, out, err = run_cli(capsys, "generate", str(starter_model_path), "--prompt", "hi",
                             "--gpu-layers", "4", "--rpc", f"127.0.0.1:{port}")
    assert code != 0 and not out
    lines = err.strip().splitlines()
    assert len(lines) == 1 and f"RPC server 127.0.0.1:{port} refused the connection" in lines[0]


def test_serve_answers_with_its_layers_on_the_rpc_servers(
        starter_model_path: Path, servers: list[RpcServer], tmp_path: Path) -> None:
    import httpx2

    from tests.server.serve_process import start

    served = start(starter_model_path, tmp_path / "serve.log", "--ctx", "512", "--parallel", "1",
                   "--gpu-layers", "10", "--rpc", ",".join(s.endpoint for s in servers))
    try:
        reply = httpx2.post(f"{served.v1}/completions", timeout=60, json={
            "prompt": "The sky is", "max_tokens": 4, "temperature": 0})
        assert reply.status_code == 200 and reply.json()["usage"]["completion_tokens"] == 4
    finally:
        assert served.stop() == 0


def test_the_server_page_serves_with_the_loaded_models_rpc_servers(tmp_path: Path) -> None:
    from inference.engine.config import ModelConfig
    from inference.server.command import serve_command
    from inference.server.config import ServerConfig

    model = ModelConfig(tmp_path / "m.gguf", n_gpu_layers=-1, rpc_servers=("a:1", "b:2"))
    args = serve_command(model, ServerConfig()).arguments
    assert args[args.index("--rpc") + 1] == "a:1,b:2"
    assert "--rpc" not in serve_command(model.with_changes(rpc_servers=()),
                                        ServerConfig()).arguments
