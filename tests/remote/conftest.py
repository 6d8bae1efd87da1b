"""Servers the remote engine is tested against: the stand-in (tests/remote/standin.py), a real
`parley serve`, and a real llama.cpp `llama-server` built from the llama.cpp sources vendored in
the installed llama-cpp-python (tests/perf/build_llama_tools.sh, cached under tests/perf/_build)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.server.serve_process import Served, start
from tests.support.llama_server import LlamaServer, start_llama_server

KEY = "remote-test-key"


@pytest.fixture(scope="session")
def parley_served(starter_model_path: Path,
                  tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """`parley serve` on the starter model: one slot of 1024 tokens (the local engine's)."""
    server = start(starter_model_path, tmp_path_factory.mktemp("serve") / "serve.log",
                   "--ctx", "1024", "--parallel", "1", "--api-key", KEY)
    yield server
    assert server.stop() == 0, server.log()[-2000:]


@pytest.fixture(scope="session")
def llama_server(starter_model_path: Path,
                 tmp_path_factory: pytest.TempPathFactory) -> Iterator[LlamaServer]:
    """llama.cpp's own server on the starter model, 127.0.0.1 and a free port."""
    server = start_llama_server(starter_model_path,
                                tmp_path_factory.mktemp("llama-server") / "server.log",
                                # the local engine's template for the starter (it has none)
                                "--alias", "starter", "--no-jinja", "--chat-template", "gemma")
    yield server
    server.stop()
