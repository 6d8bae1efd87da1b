"""The remote engine against a stand-in server that fails on purpose: each failure is a
specific error or a marked partial reply, within its deadline, never a hang."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest

from inference.common.cancel import CancelToken
from inference.engine.events import Finished, FinishReason, TokenEvent
from inference.engine.requests import GenerationRequest, Message, Mode
from inference.engine.sampling import SamplingParams
from inference.remote.busy import ServerBusy
from inference.remote.endpoint import RemoteEndpoint, RemoteTimeouts
from inference.remote.engine import RemoteEngine
from inference.remote.errors import (
    NoLogitsError,
    RemoteAuthError,
    RemoteBusyError,
    RemoteModelNotFoundError,
    RemoteTimeoutError,
    RemoteTLSError,
    RemoteUnreachableError,
)
from tests.remote.standin import MODEL, StandIn, free_port, start_standin

FAST = RemoteTimeouts(connect_s=2.0, read_s=1.0, busy_retries=3, busy_wait_max_s=2.0)
CHAT = GenerationRequest(Mode.CHAT, (Message("user", "Hi"),),
                         sampling=SamplingParams(max_tokens=16))


@pytest.fixture()
def standin() -> Iterator[StandIn]:
    server = start_standin()
    yield server
    server.stop()


def connect(url: str, *, key: str = "", model: str = MODEL) -> RemoteEngine:
    engine = RemoteEngine(RemoteEndpoint(url, model=model, api_key=key, timeouts=FAST))
    engine.load()
    return engine


def run(engine: RemoteEngine, request: GenerationRequest = CHAT,
        cancel: CancelToken | None = None) -> tuple[list[object], Finished]:
    events = list(engine.generate(request, cancel))
    finished = events[-1]
    assert isinstance(finished, Finished)
    assert sum(isinstance(e, Finished) for e in events) == 1
    return events, finished


def test_a_whole_reply_streams_with_client_side_figures(standin: StandIn) -> None:
    standin.script.chunk_gap_s = 0.02
    engine = connect(standin.url)
    assert engine.loaded is not None and engine.loaded.n_ctx == 2048   # from /props
    events, finished = run(engine)
    texts = [e.text for e in events if isinstance(e, TokenEvent)]
    assert "".join(texts) == "Hello, world!" == finished.text
    assert finished.reason is FinishReason.STOP
    stats = finished.stats
    assert (stats.prompt_tokens, stats.output_tokens) == (7, 4)      # the server's usage
    assert stats.ttft_s is not None and stats.tpot_s is not None and stats.tpot_s > 0.01
    assert stats.itl_p50_s is not None and stats.itl_p95_s is not None
    assert stats.gen_tps == pytest.approx(1 / stats.tpot_s)
    body = standin.script.seen[-1]
    assert body["stream"] is True and body["stream_options"] == {"include_usage": True}
    assert body["top_k"] == 40 and body["min_p"] == 0.05       # llama-server takes them
    engine.close()


def test_reasoning_content_is_thinking_and_think_tags_are_parted(standin: StandIn) -> None:
    standin.script.reasoning = ("Let me ", "see.")
    standin.script.pieces = ("Four.",)
    engine = connect(standin.url)
    events, finished = run(engine)
    assert finished.reasoning == "Let me see." and finished.text == "Four."
    assert [e.reasoning for e in events if isinstance(e, TokenEvent)] == [True, True, False]
    assert finished.stats.ttfa_s is not None and finished.stats.ttfa_s >= finished.stats.ttft_s
    standin.script.reasoning = ()
    standin.script.pieces = ("<think>", "hmm", "</think>", "Yes.")
    _, finished = run(engine)
    assert (finished.reasoning, finished.text) == ("hmm", "Yes.")
    engine.close()


def test_a_refused_connection_says_so() -> None:
    url = f"http://127.0.0.1:{free_port()}"
    started = time.monotonic()
    with pytest.raises(RemoteUnreachableError, match="Cannot reach .* refused"):
        connect(url)
    assert time.monotonic() - started < 5


def test_https_to_a_plain_http_server_is_a_tls_failure(standin: StandIn) -> None:
    with pytest.raises(RemoteTLSError, match="TLS failed with https://127.0.0.1:"):
        connect(standin.url.replace("http://", "https://"))


def test_a_missing_or_wrong_key_is_a_401(standin: StandIn) -> None:
    standin.script.key = "right"
    with pytest.raises(RemoteAuthError, match="401 \\(no API key was sent\\): Invalid API Key"):
        connect(standin.url)
    with pytest.raises(RemoteAuthError, match="the key was refused"):
        connect(standin.url, key="wrong")
    engine = connect(standin.url, key="right")
    assert run(engine)[1].text == "Hello, world!"
    engine.close()


def test_an_unknown_model_names_the_ones_served(standin: StandIn) -> None:
    with pytest.raises(RemoteModelNotFoundError, match="no model 'nope'; it serves: " + MODEL):
        connect(standin.url, model="nope")


def test_503_with_retry_after_is_waited_out_and_said(standin: StandIn) -> None:
    engine = connect(standin.url)
    standin.script.busy = 2
    events, finished = run(engine)
    waits = [e for e in events if isinstance(e, ServerBusy)]
    assert [(w.status, w.wait_s, w.attempt) for w in waits] == [(503, 0.2, 1), (503, 0.2, 2)]
    assert "Loading model" in waits[0].describe()
    assert finished.text == "Hello, world!"
    standin.script.busy = 10                         # more than Parley waits for
    with pytest.raises(RemoteBusyError, match="still busy \\(503\\) after 3 waits"):
        run(engine)
    standin.script.busy, standin.script.retry_after = 1, "600"
    with pytest.raises(RemoteBusyError, match="asks to retry in 600 s"):
        run(engine)
    engine.close()


def test_a_stream_cut_after_three_chunks_keeps_the_partial_reply_marked(
        standin: StandIn) -> None:
    standin.script.cut_after = 3
    engine = connect(standin.url)
    _, finished = run(engine)
    assert finished.reason is FinishReason.INTERRUPTED
    assert finished.text == "Hello, world"
    assert any("dropped mid-reply" in w and "incomplete" in w for w in finished.warnings)
    engine.close()


def test_a_server_that_never_answers_times_out(standin: StandIn) -> None:
    engine = connect(standin.url)
    standin.script.silent = True
    started = time.monotonic()
    with pytest.raises(RemoteTimeoutError, match="connection but sent nothing for 1 s"):
        run(engine)
    assert time.monotonic() - started < FAST.read_s + 3
    engine.close()


def test_cancel_closes_the_stream_at_once(standin: StandIn) -> None:
    standin.script.pieces = tuple(f"t{i} " for i in range(200))
    standin.script.chunk_gap_s = 0.05
    engine = connect(standin.url)
    cancel = CancelToken()
    seen: list[object] = []
    for event in engine.generate(CHAT, cancel):
        seen.append(event)
        if sum(isinstance(e, TokenEvent) for e in seen) == 3:
            cancel.cancel()
    finished = seen[-1]
    assert isinstance(finished, Finished) and finished.reason is FinishReason.CANCELLED
    assert finished.text.startswith("t0 t1 t2")
    deadline = time.monotonic() + 3
    while not standin.script.ended and time.monotonic() < deadline:
        time.sleep(0.02)
    assert standin.script.ended == ["client gone"]      # the server saw the stream close
    engine.close()


def test_cancel_during_a_silent_wait_ends_without_the_timeout(standin: StandIn) -> None:
    engine = RemoteEngine(RemoteEndpoint(standin.url, model=MODEL,
                                         timeouts=RemoteTimeouts(read_s=30)))
    engine.load()
    standin.script.silent = True
    cancel = CancelToken()
    threading.Timer(0.5, cancel.cancel).start()
    started = time.monotonic()
    _, finished = run(engine, cancel=cancel)
    assert finished.reason is FinishReason.CANCELLED and time.monotonic() - started < 3
    engine.close()


def test_text_mode_posts_a_completion_and_perplexity_says_no_logits(standin: StandIn) -> None:
    engine = connect(standin.url)
    request = GenerationRequest(Mode.TEXT, text="Once upon",
                                sampling=SamplingParams(max_tokens=8, seed=3))
    _, finished = run(engine, request)
    assert finished.text == "Hello, world!"
    body = standin.script.seen[-1]
    assert body["prompt"] == "Once upon" and body["seed"] == 3 and "messages" not in body
    with pytest.raises(NoLogitsError, match="no logits"):
        engine.perplexity("some text")
    engine.close()


def test_a_generic_openai_server_gets_no_extensions(standin: StandIn) -> None:
    standin.script.owned_by, standin.script.props = "someone", False
    engine = connect(standin.url)
    assert engine.loaded is not None and engine.loaded.n_ctx == 0      # unknown
    assert any("ignores these sliders: top_k, min_p, repeat_penalty" in w
               for w in engine.loaded.warnings)
    run(engine)
    body = standin.script.seen[-1]
    assert not {"top_k", "min_p", "repeat_penalty", "repeat_last_n"} & set(body)
    engine.close()


def test_render_falls_back_to_the_preview_where_the_server_cannot_render(
        standin: StandIn) -> None:
    engine = connect(standin.url)           # it says it is llama-server, but has no /tokenize
    rendered = engine.render(CHAT)
    assert (rendered.text, rendered.prompt_tokens) == ("[user]\nHi", 0)
    engine.close()
