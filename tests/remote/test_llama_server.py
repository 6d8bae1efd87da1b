"""The remote engine against llama.cpp's own `llama-server` on the starter model: known as
llama-server with its context, every mode streams with its figures, greedy text equals the local
engine's for the same prompt and template, and a cancel stops the server's generation (its slot
is free again)."""

from __future__ import annotations

import time

import pytest

from inference.common.cancel import CancelToken
from inference.common.errors import InvalidSettingError
from inference.engine.engine import Engine
from inference.engine.events import Finished, FinishReason, TokenEvent
from inference.engine.requests import GenerationRequest, Message, Mode
from inference.engine.sampling import SamplingParams
from inference.remote.endpoint import RemoteEndpoint, ServerKind
from inference.remote.engine import RemoteEngine
from tests.support.llama_server import CTX, LlamaServer

# Greedy with no penalty: both sides take the most likely token, whatever their chain's order.
# Twelve tokens: the tools build is compiled for this CPU (GGML_NATIVE) and the venv's library
# is not, so their float sums differ a little, and over a longer reply greedy meets a near tie
# where they part (measured here: the same first 16 tokens, parted at the 17th; see
# tests/batching/test_concurrent.py for the same effect of another cause).
GREEDY = SamplingParams(temperature=0.0, repeat_penalty=1.0, max_tokens=12)


@pytest.fixture(scope="module")
def remote(llama_server: LlamaServer) -> RemoteEngine:
    engine = RemoteEngine(RemoteEndpoint(llama_server.base, model="starter"))
    engine.load()
    yield engine
    engine.close()


def finished_of(events: list[object]) -> Finished:
    assert sum(isinstance(e, Finished) for e in events) == 1
    assert isinstance(events[-1], Finished)
    return events[-1]


def test_it_is_known_as_llama_server_with_its_context(remote: RemoteEngine) -> None:
    assert remote.kind is ServerKind.LLAMA_SERVER
    assert remote.loaded is not None and remote.loaded.n_ctx == CTX
    assert remote.loaded.warnings == ()                       # it takes every slider


@pytest.mark.parametrize("mode", [Mode.TEXT, Mode.CHAT])
def test_greedy_text_equals_the_local_engine(remote: RemoteEngine, engine: Engine,
                                             mode: Mode) -> None:
    request = (GenerationRequest(Mode.TEXT, text="The capital of France is", sampling=GREEDY)
               if mode is Mode.TEXT else
               GenerationRequest(Mode.CHAT, (Message("user", "Name three colours."),),
                                 sampling=GREEDY))
    local = finished_of(list(engine.generate(request)))
    events = list(remote.generate(request))
    there = finished_of(events)
    assert there.text == local.text and there.text.strip()
    assert "".join(e.text for e in events if isinstance(e, TokenEvent)) == there.text
    assert there.stats.prompt_tokens == local.stats.prompt_tokens
    assert there.stats.output_tokens == local.stats.output_tokens


def test_a_reply_begun_is_refused_with_the_reason(remote: RemoteEngine) -> None:
    """`reply_prefix` (Continue from here) is not sent to llama-server: this build closes the
    assistant's turn after a final assistant message instead of going on from it (measured:
    the reply began a new line "The second colour is…"), so the refusal says what to use."""
    request = GenerationRequest(Mode.CHAT, (Message("user", "Name three colours."),),
                                sampling=GREEDY, reply_prefix="The first colour is")
    with pytest.raises(InvalidSettingError, match="llama.cpp server does not go on from a "
                       r"reply begun \(Continue from here\): use the local engine, or parley "
                       "serve on the other machine"):
        list(remote.generate(request))


def test_instruct_streams_with_the_figures(remote: RemoteEngine) -> None:
    request = GenerationRequest(Mode.INSTRUCT, text="Say hello.", system="Be brief.",
                                sampling=SamplingParams(temperature=0.0, max_tokens=16))
    events = list(remote.generate(request))
    stats = finished_of(events).stats
    assert [e for e in events if isinstance(e, TokenEvent) and e.stats is not None]  # live
    assert stats.prompt_tokens > 5 and 0 < stats.output_tokens <= 16
    assert stats.ttft_s is not None and stats.prefill_tps is not None
    if stats.output_tokens > 2:
        assert stats.tpot_s and stats.gen_tps and stats.itl_p50_s and stats.itl_p95_s


def test_the_second_turn_reuses_the_servers_cache(remote: RemoteEngine) -> None:
    request = GenerationRequest(Mode.TEXT, text="A long shared beginning of a text. " * 8,
                                sampling=SamplingParams(temperature=0.0, max_tokens=4))
    finished_of(list(remote.generate(request)))
    again = finished_of(list(remote.generate(request))).stats
    assert again.cached_tokens > 0 and again.prompt_tokens > again.cached_tokens


def test_cancel_stops_the_servers_generation(remote: RemoteEngine,
                                             llama_server: LlamaServer) -> None:
    cancel = CancelToken()
    request = GenerationRequest(Mode.TEXT, text="Once upon a time",
                                sampling=SamplingParams(temperature=0.0, max_tokens=600))
    reasons = []
    for event in remote.generate(request, cancel):
        if isinstance(event, TokenEvent) and event.index == 2:
            assert any(slot["is_processing"] for slot in llama_server.slots())
            cancel.cancel()
        if isinstance(event, Finished):
            reasons.append(event.reason)
    assert reasons == [FinishReason.CANCELLED]
    deadline = time.monotonic() + 10
    while any(s["is_processing"] for s in llama_server.slots()) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not any(slot["is_processing"] for slot in llama_server.slots())


def test_tokenize_is_llama_servers(remote: RemoteEngine, engine: Engine) -> None:
    assert remote.tokenize("Hello world") == engine.tokenize("Hello world")


def test_render_is_the_servers_exact_prompt(remote: RemoteEngine, engine: Engine) -> None:
    request = GenerationRequest(Mode.CHAT, (Message("user", "Name three colours."),))
    there, here = remote.render(request), engine.render(request)
    assert (there.text, there.prompt_tokens) == (here.text, here.prompt_tokens)
    text = GenerationRequest(Mode.TEXT, text="Once upon a time")
    assert remote.render(text).prompt_tokens == engine.render(text).prompt_tokens
