"""One slot (`--parallel 1`, a queue of one, a 3 s queue timeout): a closed stream frees its slot
at once, a full queue and a long wait answer 503 with Retry-After, and no CORS by default."""

from __future__ import annotations

import concurrent.futures
import time
from collections.abc import Iterator
from pathlib import Path

import httpx2
import openai
import pytest

from tests.server.serve_process import Served, start

LONG = dict(prompt="1, 2, 3, 4, 5, 6, 7, 8,", max_tokens=400, temperature=0, stream=True)
QUEUE_TIMEOUT_S = 3


@pytest.fixture(scope="module")
def served(starter_model_path: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    server = start(starter_model_path, tmp_path_factory.mktemp("serve") / "serve.log",
                   "--ctx", "1024", "--parallel", "1", "--max-queue", "1",
                   "--queue-timeout", str(QUEUE_TIMEOUT_S))
    yield server
    assert server.stop() == 0, server.log()[-2000:]


@pytest.fixture(scope="module")
def client(served: Served) -> openai.OpenAI:
    return openai.OpenAI(base_url=served.v1, api_key="unused", max_retries=0, timeout=120)


def _busy_slots(served: Served, want: int, deadline_s: float = 10.0) -> dict:
    end = time.monotonic() + deadline_s
    while True:
        health = served.health()
        if health["slots_busy"] == want or time.monotonic() > end:
            return health
        time.sleep(0.05)


def test_closing_a_stream_frees_its_slot_at_once(served: Served, client: openai.OpenAI) -> None:
    stream = client.completions.create(model="gemma-3-270m-q4_k_m", **LONG)
    chunks = iter(stream)
    assert "".join(next(chunks).choices[0].text for _ in range(2))
    assert _busy_slots(served, 1)["slots_busy"] == 1
    stream.close()                                   # the client goes away mid-reply
    assert _busy_slots(served, 0)["slots_busy"] == 0
    started = time.monotonic()
    after = client.completions.create(prompt="Hello", max_tokens=2, model="gemma-3-270m-q4_k_m")
    # the 400-token reply would hold the only slot for a minute or more on this machine
    assert after.usage.completion_tokens >= 1 and time.monotonic() - started < 30


def test_a_full_queue_and_a_long_wait_answer_503(served: Served, client: openai.OpenAI) -> None:
    holder = client.completions.create(model="gemma-3-270m-q4_k_m", **LONG)
    try:
        next(iter(holder))                           # it has the slot now
        with httpx2.Client(base_url=served.v1, timeout=60) as http:
            with concurrent.futures.ThreadPoolExecutor(1) as pool:
                queued = pool.submit(http.post, "/completions",
                                     json={"prompt": "Hi", "max_tokens": 1})
                deadline = time.monotonic() + 10
                while served.health()["queued"] < 1 and time.monotonic() < deadline:
                    time.sleep(0.05)
                full = http.post("/completions", json={"prompt": "Hi", "max_tokens": 1})
                timed_out = queued.result(timeout=60)
        assert full.status_code == 503 and full.headers["retry-after"] == "2"
        assert full.json()["error"]["code"] == "queue_full"
        assert timed_out.status_code == 503 and timed_out.headers["retry-after"] == "2"
        assert f"waited {QUEUE_TIMEOUT_S} s" in timed_out.json()["error"]["message"]
    finally:
        holder.close()


def test_no_cors_header_without_cors(served: Served) -> None:
    response = httpx2.get(f"{served.v1}/models", headers={"Origin": "http://any.example"})
    assert response.status_code == 200
    assert "access-control-allow-origin" not in response.headers
