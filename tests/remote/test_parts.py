"""The remote room's small parts on their own: URLs, sliders per server kind, SSE framing,
Retry-After, and the error bodies of the usual servers."""

from __future__ import annotations

import email.utils
import time

import pytest

from inference.common.errors import InvalidSettingError
from inference.engine.sampling import SamplingParams
from inference.remote.busy import Busy, next_wait, retry_after_seconds
from inference.remote.endpoint import RemoteEndpoint, RemoteTimeouts, ServerKind
from inference.remote.errors import RemoteBusyError, RemoteResponseError
from inference.remote.http import message_of
from inference.remote.sampling_map import ignored_sliders, sampling_fields
from inference.remote.sse import StreamEnd, sse_events


@pytest.mark.parametrize(("given", "base"), [
    ("127.0.0.1:8080", "http://127.0.0.1:8080"),
    ("http://box:8080/", "http://box:8080"),
    ("https://api.example.com/v1", "https://api.example.com"),
    ("https://proxy.example/llm/v1/", "https://proxy.example/llm"),
])
def test_base_urls_are_normalized(given: str, base: str) -> None:
    endpoint = RemoteEndpoint(given)
    assert endpoint.base_url == base and endpoint.url("/models") == base + "/v1/models"


@pytest.mark.parametrize(("given", "message"), [
    ("", "needs a URL"), ("ftp://x", "http:// or https://"), ("http://", "no host name"),
    ("http://box:port", "not a number"),
])
def test_bad_urls_are_one_clear_line(given: str, message: str) -> None:
    with pytest.raises(InvalidSettingError, match=message):
        RemoteEndpoint(given)


def test_the_key_is_not_in_the_repr() -> None:
    assert "sekret" not in repr(RemoteEndpoint("http://x", api_key="sekret"))


def test_each_kind_gets_only_the_sliders_it_reads() -> None:
    params = SamplingParams(temperature=0.3, top_k=7, min_p=0.2, repeat_penalty=1.3, seed=5,
                            stop=("END",), max_tokens=9)
    llama = sampling_fields(params, ServerKind.LLAMA_SERVER)
    assert (llama["top_k"], llama["min_p"], llama["repeat_penalty"], llama["repeat_last_n"]) \
        == (7, 0.2, 1.3, 64)
    vllm = sampling_fields(params, ServerKind.VLLM)
    assert vllm["repetition_penalty"] == 1.3 and "repeat_penalty" not in vllm
    ollama = sampling_fields(params, ServerKind.OLLAMA)
    assert not {"top_k", "min_p", "repeat_penalty", "repetition_penalty"} & set(ollama)
    assert (ollama["temperature"], ollama["seed"], ollama["stop"], ollama["max_tokens"]) == (
        0.3, 5, ["END"], 9)
    assert "seed" not in sampling_fields(SamplingParams(seed=-1), ServerKind.OPENAI)
    assert ignored_sliders(ServerKind.OPENAI) == ("top_k", "min_p", "repeat_penalty")
    assert ignored_sliders(ServerKind.PARLEY) == ignored_sliders(ServerKind.VLLM) == ()
    with pytest.raises(InvalidSettingError, match="does not take a GBNF grammar"):
        sampling_fields(SamplingParams(grammar='root ::= "a"'), ServerKind.VLLM)


def test_sse_framing() -> None:
    lines = [": a comment", "event: message", 'data: {"a": 1}', "", "data: {\"b\":", "data: 2}",
             "", "data: [DONE]", "", 'data: {"never": 1}']
    events = list(sse_events(lines))
    assert events[:2] == [{"a": 1}, {"b": 2}] and isinstance(events[2], StreamEnd)
    assert len(events) == 3
    with pytest.raises(RemoteResponseError, match="not JSON"):
        list(sse_events(["data: {oops", ""]))


def test_retry_after_in_seconds_or_as_a_date() -> None:
    assert retry_after_seconds("2") == 2.0 and retry_after_seconds(None) is None
    assert retry_after_seconds("soon") is None
    later = email.utils.formatdate(time.time() + 30, usegmt=True)
    assert 25 <= (retry_after_seconds(later) or 0) <= 31


def test_waits_are_bounded() -> None:
    timeouts = RemoteTimeouts(busy_retries=2, busy_wait_max_s=5)
    assert next_wait(Busy(503, None, "busy"), 0, timeouts, "x").wait_s == 1.0
    assert next_wait(Busy(429, 4, "slow down"), 1, timeouts, "x").attempt == 2
    with pytest.raises(RemoteBusyError, match="after 2 waits"):
        next_wait(Busy(503, 1, "busy"), 2, timeouts, "x")
    with pytest.raises(RemoteBusyError, match="asks to retry in 60 s"):
        next_wait(Busy(503, 60, "busy"), 0, timeouts, "x")


@pytest.mark.parametrize(("body", "message"), [
    ({"error": {"message": "Invalid API Key", "type": "auth"}}, "Invalid API Key"),   # OpenAI
    ({"object": "error", "message": "The model `x` does not exist."}, "does not exist"),  # vLLM
    ({"error": "model 'x' not found"}, "not found"),                                 # Ollama
    ({"detail": [{"msg": "field required"}]}, "field required"),                     # FastAPI
])
def test_error_bodies_of_the_usual_servers(body: dict, message: str) -> None:
    assert message in message_of(body)
