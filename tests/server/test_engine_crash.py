"""The engine child killed mid-request: each request in flight ends with a clean error (a 503
for a whole reply, an error event for a stream), the server starts a new engine with the same
model (its log says so) and answers again; /health names the engine's pid throughout."""

from __future__ import annotations

import concurrent.futures
import os
import signal
import time
from pathlib import Path

import httpx2
import openai
import pytest

from tests.server.serve_process import Served, start, wait_for_text

MODEL = "gemma-3-270m-q4_k_m"
LONG = dict(model=MODEL, prompt="1, 2, 3, 4, 5, 6, 7, 8,", max_tokens=400, temperature=0)


def test_a_killed_engine_ends_requests_cleanly_and_comes_back(
        starter_model_path: Path, tmp_path: Path) -> None:
    served = start(starter_model_path, tmp_path / "serve.log", "--ctx", "1024",
                   "--parallel", "2")
    try:
        client = openai.OpenAI(base_url=served.v1, api_key="x", max_retries=0, timeout=120)
        pid = served.health()["engine_pid"]
        with concurrent.futures.ThreadPoolExecutor(1) as pool:
            stream = client.completions.create(**LONG, stream=True)
            chunks = iter(stream)
            assert next(chunks).choices[0].text is not None      # streaming has begun
            whole = pool.submit(client.completions.create, **LONG)
            end = time.monotonic() + 30
            while served.health()["slots_busy"] < 2 and time.monotonic() < end:
                time.sleep(0.05)
            os.kill(pid, signal.SIGKILL)
            with pytest.raises(openai.APIError, match="engine stopped unexpectedly"):
                for _ in range(1000):
                    next(chunks)
            with pytest.raises(openai.InternalServerError) as refused:
                whole.result(timeout=60)
        assert refused.value.status_code == 503
        assert refused.value.code == "engine_crashed"

        seen = _statuses_until_back(served, pid)
        assert seen[0] == (503, "loading") and seen[-1] == (200, "ok"), seen
        back = served.wait_healthy(90, not_pid=pid)
        assert back["restarts"] == 1 and back["engine_pid"] != pid
        log = wait_for_text(served, "starting a new engine with gemma-3-270m-q4_k_m.gguf")
        assert "SIGKILL" in log
        again = client.completions.create(model=MODEL, prompt="Hello", max_tokens=2)
        assert again.usage.completion_tokens >= 1
    finally:
        assert served.stop() == 0, served.log()[-2000:]


def _statuses_until_back(served: Served, dead_pid: int, deadline_s: float = 90) -> list:
    """(HTTP status, /health status) as they change, until a new engine answers ok."""
    seen: list[tuple[int, str]] = []
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        response = httpx2.get(f"{served.base}/health", timeout=10)
        now = (response.status_code, response.json()["status"])
        if not seen or seen[-1] != now:
            seen.append(now)
        if now[1] == "ok" and response.json()["engine_pid"] != dead_pid:
            break
        time.sleep(0.02)
    return seen
