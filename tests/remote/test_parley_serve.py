"""The remote engine against a real `parley serve` on the starter model: the three modes
stream with their figures, greedy text equals the local engine's, and a cancel frees the
server's slot at once."""

from __future__ import annotations

import time

import httpx2
import pytest

from inference.common.cancel import CancelToken
from inference.engine.engine import Engine
from inference.engine.events import Finished, FinishReason, TokenEvent
from inference.engine.requests import GenerationRequest, Message, Mode
from inference.engine.sampling import SamplingParams
from inference.remote.endpoint import RemoteEndpoint, ServerKind
from inference.remote.engine import RemoteEngine
from inference.remote.errors import RemoteAuthError
from tests.remote.conftest import KEY
from tests.server.serve_process import Served

GREEDY = SamplingParams(temperature=0.0, max_tokens=24, seed=1)
PROMPT = "The capital of France is"


@pytest.fixture(scope="module")
def remote(parley_served: Served) -> RemoteEngine:
    engine = RemoteEngine(RemoteEndpoint(parley_served.base, api_key=KEY))
    engine.load()
    yield engine
    engine.close()


def finished_of(events: list[object]) -> Finished:
    assert sum(isinstance(e, Finished) for e in events) == 1
    assert isinstance(events[-1], Finished)
    return events[-1]


def test_it_is_known_as_parley_with_its_context(remote: RemoteEngine) -> None:
    loaded = remote.loaded
    assert loaded is not None and remote.kind is ServerKind.PARLEY
    assert loaded.n_ctx == 1024 and loaded.warnings == ()      # every slider is taken


def test_text_mode_greedy_equals_the_local_engine(remote: RemoteEngine, engine: Engine) -> None:
    request = GenerationRequest(Mode.TEXT, text=PROMPT, sampling=GREEDY)
    local = finished_of(list(engine.generate(request)))
    events = list(remote.generate(request))
    there = finished_of(events)
    assert there.text == local.text and there.text.strip()
    assert "".join(e.text for e in events if isinstance(e, TokenEvent)) == there.text
    assert (there.stats.prompt_tokens, there.stats.output_tokens) == (
        local.stats.prompt_tokens, local.stats.output_tokens)
    assert there.reason is local.reason


def test_a_reply_begun_goes_on_as_the_local_engine_goes_on(remote: RemoteEngine,
                                                           engine: Engine) -> None:
    """`reply_prefix` (Continue from here) reaches parley serve as a final assistant message,
    which it continues: the same continuation and prompt size as the local engine's."""
    request = GenerationRequest(Mode.CHAT, (Message("user", "Name three colours."),),
                                sampling=GREEDY, reply_prefix="The first colour is")
    local = finished_of(list(engine.generate(request)))
    there = finished_of(list(remote.generate(request)))
    assert there.text == local.text and there.text.strip()
    assert there.stats.prompt_tokens == local.stats.prompt_tokens


@pytest.mark.parametrize("mode", [Mode.CHAT, Mode.INSTRUCT])
def test_chat_and_instruct_stream_with_figures(remote: RemoteEngine, mode: Mode) -> None:
    sampling = SamplingParams(temperature=0.0, max_tokens=12)
    request = (GenerationRequest(mode, (Message("user", "Say hello."),), sampling=sampling)
               if mode is Mode.CHAT else
               GenerationRequest(mode, text="Say hello.", system="Be brief.", sampling=sampling))
    events = list(remote.generate(request))
    done = finished_of(events)
    stats = done.stats
    assert [e for e in events if isinstance(e, TokenEvent)]
    assert stats.prompt_tokens > 5 and 0 < stats.output_tokens <= 12
    assert stats.ttft_s is not None and stats.ttft_s > 0 and stats.total_s >= stats.ttft_s
    if stats.output_tokens > 1:
        assert stats.tpot_s is not None and stats.itl_p50_s is not None
    assert stats.n_ctx == 1024 and stats.context_tokens == stats.prompt_tokens + \
        stats.output_tokens


def test_cancel_frees_the_slot(remote: RemoteEngine, parley_served: Served) -> None:
    cancel = CancelToken()
    request = GenerationRequest(Mode.TEXT, text="Once upon a time",
                                sampling=SamplingParams(temperature=0.0, max_tokens=400))
    seen = 0
    for event in remote.generate(request, cancel):
        if isinstance(event, TokenEvent):
            seen += 1
            if seen == 3:
                assert parley_served.health()["slots_busy"] == 1
                cancel.cancel()
        if isinstance(event, Finished):
            assert event.reason is FinishReason.CANCELLED
    deadline = time.monotonic() + 10
    while parley_served.health()["slots_busy"] and time.monotonic() < deadline:
        time.sleep(0.05)
    assert parley_served.health()["slots_busy"] == 0


def test_the_wrong_key_is_refused(parley_served: Served) -> None:
    engine = RemoteEngine(RemoteEndpoint(parley_served.base, api_key="nope"))
    with pytest.raises(RemoteAuthError, match="401 \\(the key was refused\\): Incorrect API"):
        engine.load()
    engine.close()
    assert httpx2.get(f"{parley_served.base}/health", timeout=5).status_code == 200
