"""llama.cpp RPC with real `rpc-server` processes on 127.0.0.1 and the real starter model.

Two rpc-servers hold part of the model's layers (n_gpu_layers > 0 offloads them there, as
llama.cpp's `-ngl` with `--rpc` does); the engine runs in its child process (EngineHost), as in
the app, so a native abort when a server goes away ends the child, not the test.

Both runs of the equality test load with `cpu_repack=False` (llama.cpp's `--no-repack`): an
rpc-server keeps the weights in the plain CPU layout, while this computer's CPU backend would
otherwise repack them for its own Q4_K kernels, which round differently — enough to flip a
near-tie of the base model's greedy choice within a few tokens. With the same kernels on both
sides the output is the same, token for token.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from inference.common.errors import EngineCrashedError
from inference.common.rpc_endpoints import RpcServerError
from inference.engine.config import ModelConfig
from inference.engine.events import Finished, TokenEvent
from inference.engine.requests import GenerationRequest, Mode
from inference.engine.sampling import SamplingParams
from inference.host.devices import query_devices
from inference.host.host import EngineHost
from tests.support.rpc_servers import RpcServer, free_port, running_rpc_servers

pytestmark = pytest.mark.model
GPU_LAYERS = 12               # of 18 + output: 7 layers stay here, the rest go to the servers
STORY = GenerationRequest(Mode.TEXT, text="Once upon a time, in a small village,",
                          sampling=SamplingParams(temperature=0, max_tokens=24))


@pytest.fixture(scope="module")
def module_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    home = tmp_path_factory.mktemp("rpc-home")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("PARLEY_HOME", str(home))
        yield home


@pytest.fixture(scope="module")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[RpcServer]]:
    with running_rpc_servers(2, tmp_path_factory.mktemp("rpc-logs")) as running:
        yield running


@pytest.fixture(scope="module")
def local_config(starter_model_path: Path) -> ModelConfig:
    return ModelConfig(starter_model_path, n_ctx=512, n_threads=1, cpu_repack=False)


@pytest.fixture(scope="module")
def host(module_home: Path) -> Iterator[EngineHost]:
    engine_host = EngineHost()
    yield engine_host
    engine_host.close()


def pieces(host: EngineHost, request: GenerationRequest) -> tuple[list[str], Finished]:
    texts, finished = [], None
    for event in host.generate(request):
        if isinstance(event, TokenEvent):
            texts.append(event.text)
        elif isinstance(event, Finished):
            finished = event
    assert finished is not None
    return texts, finished


def test_the_split_is_known_before_loading(servers: list[RpcServer]) -> None:
    endpoints = [s.endpoint for s in servers]
    devices = query_devices(endpoints)      # in a child, as the window asks (before any load:
    #                                         an rpc-server serves one client at a time)
    assert [d.endpoint for d in devices] == endpoints
    assert all(d.total_bytes >= d.free_bytes > 0 for d in devices)


def test_greedy_output_over_two_rpc_servers_equals_all_local(
        host: EngineHost, local_config: ModelConfig, servers: list[RpcServer]) -> None:
    host.load(local_config)
    local, local_end = pieces(host, STORY)
    endpoints = tuple(s.endpoint for s in servers)
    loaded = host.load(local_config.with_changes(n_gpu_layers=GPU_LAYERS,
                                                 rpc_servers=endpoints))
    remote, remote_end = pieces(host, STORY)
    assert remote == local                                   # token for token
    assert remote_end.stats.output_tokens == local_end.stats.output_tokens == 24
    cpu, *devices = loaded.devices                           # this computer, then each device
    assert [d.where for d in devices] == list(endpoints)
    assert cpu.layers == 18 + 1 - GPU_LAYERS and not cpu.has_output
    assert all(d.layers > 0 and d.bytes > 0 for d in devices)  # both servers hold layers
    assert sum(d.layers for d in devices) + 1 == GPU_LAYERS and devices[-1].has_output
    assert all(d.free_bytes and d.fits for d in devices)     # their free memory, via the device API


def test_a_refused_server_is_one_line_at_load(host: EngineHost,
                                              local_config: ModelConfig) -> None:
    port = free_port()                                       # nobody listens there
    started = time.monotonic()
    with pytest.raises(RpcServerError) as err:
        host.load(local_config.with_changes(n_gpu_layers=4, rpc_servers=(f"127.0.0.1:{port}",)))
    assert time.monotonic() - started < 15
    message = str(err.value)
    assert f"127.0.0.1:{port}" in message and "refused" in message and "\n" not in message
    assert host.pid is not None                             # the engine process is still there
    host.load(local_config)                                  # and loads the next model


def test_killing_an_rpc_server_mid_reply_is_reported_and_the_host_reloads(
        local_config: ModelConfig, module_home: Path, tmp_path: Path) -> None:
    long_story = GenerationRequest(Mode.TEXT, text="Once upon a time,",
                                   sampling=SamplingParams(temperature=0, max_tokens=400))
    with running_rpc_servers(2, tmp_path) as doomed, EngineHost() as engine_host:
        endpoints = tuple(s.endpoint for s in doomed)
        engine_host.load(local_config.with_changes(n_gpu_layers=GPU_LAYERS,
                                                   rpc_servers=endpoints))
        seen = 0
        with pytest.raises(EngineCrashedError) as err:
            for event in engine_host.generate(long_story):
                if isinstance(event, TokenEvent):
                    seen += 1
                    if seen == 3:
                        doomed[1].kill()
        assert 3 <= seen < 400
        message = str(err.value)
        assert "while generating" in message or "stopped" in message
        assert f"RPC server {endpoints[1]} refused the connection" in message
        assert engine_host.loaded is None                    # it says the model is gone …
        with pytest.raises(RpcServerError, match=endpoints[1]):   # … the server is still down
            engine_host.load(local_config.with_changes(n_gpu_layers=GPU_LAYERS,
                                                       rpc_servers=endpoints))
        engine_host.load(local_config)                       # … and it reloads all-local
        texts, finished = pieces(engine_host, STORY)
        assert finished.stats.output_tokens == 24 and texts
