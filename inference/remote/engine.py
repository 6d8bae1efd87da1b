"""RemoteEngine: `EngineAPI` over an OpenAI-compatible server, streaming with SSE.

"Loading" connects: the server must list the model; its kind and context size are read then.
A generation posts one streamed request and turns the chunks into the events the local engine
yields (`RemoteReply`); cancel shuts the socket, so the server stops and frees its slot.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx2

from inference.common.cancel import CancelToken
from inference.common.errors import Cancelled, NoModelLoadedError
from inference.engine.api import LoadedModel, ProgressCallback, RenderedPrompt
from inference.engine.config import ModelConfig
from inference.engine.events import Finished, FinishReason, PromptRendered, TokenEvent
from inference.engine.requests import GenerationRequest, Mode
from inference.remote.busy import Busy, ServerBusy, next_wait, sleep
from inference.remote.discovery import (
    RemoteModel,
    ServerSurvey,
    detect_kind,
    list_models,
    pick_model,
)
from inference.remote.endpoint import RemoteEndpoint, ServerKind
from inference.remote.errors import (
    NoLogitsError,
    NoTokenizerError,
    RemoteError,
    RemoteResponseError,
    RemoteTimeoutError,
)
from inference.remote.http import RemoteHTTP, transport_reason
from inference.remote.payload import RemoteCall, remote_call
from inference.remote.reply import RemoteReply
from inference.remote.sampling_map import ignored_sliders
from inference.remote.sse import StreamEnd, sse_events

RemoteEvent = PromptRendered | TokenEvent | Finished | ServerBusy


class RemoteEngine:
    """Implements `EngineAPI` against one endpoint. Use from one thread at a time."""

    def __init__(self, endpoint: RemoteEndpoint) -> None:
        self.endpoint = endpoint
        self._http = RemoteHTTP(endpoint)
        self._loaded: LoadedModel | None = None
        self._model: RemoteModel | None = None
        self._kind: ServerKind = endpoint.kind or ServerKind.OPENAI

    @property
    def loaded(self) -> LoadedModel | None:
        return self._loaded

    @property
    def kind(self) -> ServerKind:
        return self._kind

    def survey(self, cancel: CancelToken | None = None) -> ServerSurvey:
        """The server's kind and the models it lists (waiting, bounded, while it is busy)."""
        models = self._patiently(lambda: list_models(self._http), cancel)
        if not models:
            return ServerSurvey(self.endpoint.kind or ServerKind.OPENAI, (), {})
        first = next((m for m in models if m.id == self.endpoint.model), models[0])
        kind, props = self._patiently(lambda: detect_kind(self._http, first), cancel)
        return ServerSurvey(kind, tuple(models), props)

    # -- EngineAPI ----------------------------------------------------------------------------
    def load(self, config: ModelConfig | None = None, progress: ProgressCallback | None = None,
             cancel: CancelToken | None = None) -> LoadedModel:
        """Connect: the model must be listed; its server kind and context size are read.
        A local config's path, threads and GPU layers do not apply to a remote engine."""
        started = time.perf_counter()
        self._loaded = None
        survey = self.survey(cancel)
        model = pick_model(self.endpoint, list(survey.models))
        kind = survey.kind
        self._model, self._kind = model, kind
        n_ctx = survey.n_ctx(model)
        ignored = ignored_sliders(kind)
        warnings = [f"{kind.label} ignores these sliders: {', '.join(ignored)}"] if ignored \
            else []
        if progress is not None:
            progress(1.0)
        self._loaded = LoadedModel(
            config=config or remote_config(self.endpoint, model.id),
            info={"name": model.id, "file_name": model.id, "remote": True,
                  "server": kind.value, "base_url": self.endpoint.base_url,
                  "engine": self.endpoint.label,
                  "chat_template": "the server's"},
            n_ctx=n_ctx, n_ctx_train=0, template=f"the server's ({kind.label})",
            gpu_offload=False, backend=f"remote: {self.endpoint.label}",
            load_seconds=time.perf_counter() - started, warnings=tuple(warnings))
        return self._loaded

    def unload(self) -> None:
        self._loaded = None

    def close(self) -> None:
        self._loaded = None
        self._http.close()

    def render(self, request: GenerationRequest) -> RenderedPrompt:
        """The prompt as far as the client can tell; llama-server renders and counts it
        exactly (/apply-template, /tokenize), other servers keep that to themselves (0)."""
        call = self._call(request)
        text, count = call.preview, 0
        if self._kind is ServerKind.LLAMA_SERVER and self._loaded is not None:
            try:
                text, count = self._exact_prompt(call)
            except RemoteError:          # an older llama-server: the preview will do
                text, count = call.preview, 0
        return RenderedPrompt(text, self._template(request), count,
                              max_tokens=request.sampling.max_tokens)

    def _exact_prompt(self, call: RemoteCall) -> tuple[str, int]:
        text = call.preview
        if "messages" in call.body:
            body = self._patiently(lambda: self._http.post_json(
                self.endpoint.root_url("/apply-template"), {"messages": call.body["messages"]}),
                None)
            text = str(body.get("prompt", text)) if isinstance(body, dict) else text
        return text, len(self._tokens(text, add_special=True,
                                      parse_special="messages" in call.body))

    def tokenize(self, text: str, add_bos: bool = True) -> list[int]:
        """llama-server's /tokenize; other servers have no tokenizer endpoint."""
        self._require()
        if self._kind is not ServerKind.LLAMA_SERVER:
            raise NoTokenizerError(f"a {self._kind.label} server does not count tokens for "
                                   "Parley; the server's usage reports them after a reply")
        return self._tokens(text, add_special=add_bos, parse_special=False)

    def _tokens(self, text: str, *, add_special: bool, parse_special: bool) -> list[int]:
        body = self._patiently(lambda: self._http.post_json(
            self.endpoint.root_url("/tokenize"), {"content": text, "add_special": add_special,
                                                  "parse_special": parse_special}), None)
        tokens = body.get("tokens") if isinstance(body, dict) else None
        if not isinstance(tokens, list):
            raise RemoteResponseError("llama-server's /tokenize sent no token list")
        return [int(t) for t in tokens]

    def perplexity(self, text: str, **_options: Any) -> Any:
        raise NoLogitsError(self.endpoint.label)

    def generate(self, request: GenerationRequest,
                 cancel: CancelToken | None = None) -> Iterator[RemoteEvent]:
        """PromptRendered, any ServerBusy waits, TokenEvents, then exactly one Finished."""
        loaded = self._require()
        cancel = cancel or CancelToken()
        started = time.perf_counter()           # t0: the request is about to be built
        call = self._call(request)
        template = self._template(request)
        yield PromptRendered(RenderedPrompt(call.preview, template, 0,
                                            max_tokens=request.sampling.max_tokens))
        reply = RemoteReply(request, loaded.n_ctx, started)
        reason, warnings = yield from self._stream(call, reply, cancel)
        tail, finished = reply.finish(reason, call.preview, template, warnings)
        yield from tail
        yield finished

    # -- internals ----------------------------------------------------------------------------
    def _stream(self, call: RemoteCall, reply: RemoteReply, cancel: CancelToken
                ) -> Iterator[TokenEvent | ServerBusy]:
        """Run the request (waiting while the server is busy); returns (reason, warnings)."""
        where = self.endpoint.base_url
        attempt = 0
        while True:
            try:
                with self._http.stream(self.endpoint.url(call.path), call.body, cancel) as lines:
                    for event in sse_events(lines):
                        if isinstance(event, StreamEnd):
                            return reply.server_reason(), ()
                        yield from reply.take(event)
                        if cancel.cancelled:
                            return FinishReason.CANCELLED, ()
                        if reply.stopped:
                            return FinishReason.STOP, ()
                if cancel.cancelled:
                    return FinishReason.CANCELLED, ()
                if reply.finish_reason is not None:       # no [DONE], but it said it ended
                    return reply.server_reason(), ()
                return self._cut(reply, f"{where} ended the stream before the reply was "
                                 "complete")
            except Busy as busy:
                wait = next_wait(busy, attempt, self.endpoint.timeouts, where)
                attempt += 1
                yield wait
                if not sleep(wait.wait_s, cancel):
                    return FinishReason.CANCELLED, ()
            except Cancelled:                  # before the reply began
                return FinishReason.CANCELLED, ()
            except httpx2.ReadTimeout:
                if cancel.cancelled:
                    return FinishReason.CANCELLED, ()
                t = self.endpoint.timeouts.read_s
                if not reply.got_text:
                    raise RemoteTimeoutError(f"{where} sent no reply for {t:g} s (read "
                                             "timeout).") from None
                return self._cut(reply, f"{where} sent nothing for {t:g} s (read timeout)")
            except httpx2.TransportError as exc:
                if cancel.cancelled:
                    return FinishReason.CANCELLED, ()
                return self._cut(reply, f"the connection to {where} dropped mid-reply "
                                 f"({transport_reason(exc)})")
            except RemoteResponseError as exc:
                if cancel.cancelled or not reply.got_text:
                    raise
                return self._cut(reply, str(exc))

    @staticmethod
    def _cut(reply: RemoteReply, why: str) -> tuple[FinishReason, tuple[str, ...]]:
        """A stream that stopped mid-reply: the partial reply, marked; nothing yet: an error."""
        if not reply.got_text:
            raise RemoteResponseError(f"{why}; no text had come.")
        return FinishReason.INTERRUPTED, (f"{why}: the reply is incomplete.",)

    def _patiently(self, ask: Callable[[], Any], cancel: CancelToken | None) -> Any:
        """`ask()`, waiting as Retry-After says while the server is busy (bounded)."""
        attempt = 0
        while True:
            try:
                return ask()
            except Busy as busy:
                wait = next_wait(busy, attempt, self.endpoint.timeouts, self.endpoint.base_url)
                attempt += 1
                if not sleep(wait.wait_s, cancel):
                    raise Cancelled("connecting cancelled") from None

    def _call(self, request: GenerationRequest) -> RemoteCall:
        model = self._model.id if self._model else self.endpoint.model
        return remote_call(request, self._kind, model)

    def _template(self, request: GenerationRequest) -> str:
        return "none (text mode)" if request.mode is Mode.TEXT else \
            f"the server's ({self._kind.label})"

    def _require(self) -> LoadedModel:
        if self._loaded is None:
            raise NoModelLoadedError("No remote engine is connected. Connect to it first.")
        return self._loaded


def remote_config(endpoint: RemoteEndpoint, model: str = "") -> ModelConfig:
    """The ModelConfig a remote model is reported under: its name as the path (nothing of a
    local config applies to it)."""
    return ModelConfig(Path(model or endpoint.model or "remote"))


__all__ = ["RemoteEngine", "RemoteError", "remote_config"]
