"""One real `parley serve` (starter model, 4 slots, a key, CORS for one origin) shared by the
modules that talk to it with the official `openai` client (each start costs seconds)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import openai
import pytest

from tests.server.serve_process import Served, start

KEY = "test-key-123"
ORIGIN = "http://allowed.example"


@pytest.fixture(scope="session")
def served(starter_model_path: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    server = start(starter_model_path, tmp_path_factory.mktemp("serve") / "serve.log",
                   "--ctx", "1024", "--parallel", "4", "--api-key", KEY, "--cors", ORIGIN)
    yield server
    assert server.stop() == 0, server.log()[-2000:]


@pytest.fixture(scope="session")
def client(served: Served) -> openai.OpenAI:
    return openai.OpenAI(base_url=served.v1, api_key=KEY, max_retries=0, timeout=120)


@pytest.fixture(scope="session")
def model_id(client: openai.OpenAI) -> str:
    return client.models.list().data[0].id
