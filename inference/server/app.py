"""The HTTP front of `parley serve`: Starlette routes in OpenAI's shape, no native code here.

GET /health, GET /v1/models[/{id}], POST /v1/chat/completions, POST /v1/completions (both with
`stream: true` as server-sent events ending in `data: [DONE]`). Every route but /health needs the
API key when one is set; bodies are bounded (413), requests wait for a slot in a bounded queue
(503 with Retry-After), and every error is OpenAI's {"error": {...}} with its status.
"""

from __future__ import annotations

import hmac
import json
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from inference.engine.events import Finished, TokenEvent
from inference.server.admission import SlotGate
from inference.server.calls import EngineCall
from inference.server.config import ServerConfig
from inference.server.errors import ApiError
from inference.server.logprobs import LogprobEntry, ReplyLogprobs
from inference.server.params import Endpoint, ParsedRequest, parse
from inference.server.request_log import RequestRecord, log_request
from inference.server.responses import Reply, sse
from inference.server.supervisor import EngineState, EngineSupervisor

log = logging.getLogger("parley.server")
Handler = Callable[[Request], Awaitable[Response]]


@dataclass
class ServedModel:
    """The model as /v1/models names it; a request may name it by id or by file name."""

    id: str
    file_name: str
    created: int

    def matches(self, name: str) -> bool:
        return name in (self.id, self.file_name)


class Front:
    """The routes, over one supervisor and one slot gate."""

    def __init__(self, config: ServerConfig, supervisor: EngineSupervisor,
                 model: ServedModel) -> None:
        self.config = config
        self.supervisor = supervisor
        self.model = model
        self.gate = SlotGate(config.parallel, config.max_queue, config.queue_timeout_s)

    def routes(self) -> list[Route]:
        return [
            Route("/health", self.health, methods=["GET"]),
            Route("/v1/models", self._guard(self.models), methods=["GET"]),
            Route("/v1/models/{model:path}", self._guard(self.one_model), methods=["GET"]),
            Route("/v1/chat/completions", self._guard(self.chat), methods=["POST"]),
            Route("/v1/completions", self._guard(self.completions), methods=["POST"]),
        ]

    # -- routes ----------------------------------------------------------------------------
    async def health(self, _request: Request) -> Response:
        state = self.supervisor.state
        status = {EngineState.READY: "ok", EngineState.LOADING: "loading"}.get(state, "error")
        body = {"status": status, "model": self.model.id, "engine_pid": self.supervisor.pid,
                "slots_total": self.config.parallel, "slots_busy": self.gate.busy,
                "queued": self.gate.queued, "restarts": self.supervisor.restarts}
        ready = state is EngineState.READY
        return JSONResponse(body, 200 if ready else 503,
                            None if ready else {"Retry-After": "2"})

    async def models(self, _request: Request) -> Response:
        return JSONResponse({"object": "list", "data": [self._model_card()]})

    async def one_model(self, request: Request) -> Response:
        self._check_model(request.path_params["model"])
        return JSONResponse(self._model_card())

    async def chat(self, request: Request) -> Response:
        return await self._generate(request, Endpoint.CHAT)

    async def completions(self, request: Request) -> Response:
        return await self._generate(request, Endpoint.COMPLETION)

    # -- generation ------------------------------------------------------------------------
    async def _generate(self, request: Request, endpoint: Endpoint) -> Response:
        started = time.monotonic()
        parsed = parse(await self._read_json(request), endpoint, self.config.max_messages)
        if parsed.model is not None:
            self._check_model(parsed.model)
        await self.gate.acquire()
        call = EngineCall.start(self.supervisor, self.gate, parsed.generation, parsed.options())
        mode = parsed.generation.mode
        events = call.events(mode).__aiter__()
        try:
            first = await events.__anext__()         # PromptRendered, or the error as a 400
        except BaseException:
            call.cancel()
            raise
        reply = Reply(endpoint, self.model.id, parsed.include_usage, _logprobs(parsed),
                      echo=parsed.generation.text if parsed.echo else "")
        if not parsed.stream:
            try:
                finished = await _finish(reply, first, events)
            finally:
                call.cancel()
            _log_done(request, 200, finished, started)
            return JSONResponse(reply.whole(finished))
        return StreamingResponse(self._stream(request, reply, first, events, call, started),
                                 media_type="text/event-stream",
                                 headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})

    async def _stream(self, request: Request, reply: Reply, first: Any,
                      events: AsyncIterator[Any], call: EngineCall,
                      started: float) -> AsyncIterator[bytes]:
        ended = False
        try:
            opening = reply.first_chunk()
            if opening is not None:
                yield opening
            event = first
            while True:
                if isinstance(event, LogprobEntry):
                    reply.add_logprobs(event)
                elif isinstance(event, TokenEvent) and event.text:
                    yield reply.piece(event.text, event.reasoning)
                elif isinstance(event, Finished):
                    for chunk in reply.last_chunks(event):
                        yield chunk
                    ended = True
                    _log_done(request, 200, event, started)
                    return
                event = await events.__anext__()
        except Exception as exc:  # noqa: BLE001 - the engine died or failed mid-stream
            error = exc if isinstance(exc, ApiError) else ApiError(
                500, f"server error: {type(exc).__name__}: {exc}", None, "server_error")
            log.warning("%s %s %d (while streaming): %s", request.method, request.url.path,
                        error.status, error)
            ended = True
            log_request(RequestRecord(time.time(), request.method, request.url.path,
                                      error.status, duration_s=time.monotonic() - started,
                                      finish=str(error)))
            yield sse(error.body())
        finally:
            call.cancel()                            # the client left, or an error: free it
            if not ended:
                log_request(RequestRecord(time.time(), request.method, request.url.path, 200,
                                          duration_s=time.monotonic() - started,
                                          finish="cancelled (the client closed the stream)"))

    # -- helpers -----------------------------------------------------------------------------
    def _guard(self, handler: Handler) -> Handler:
        key = self.config.api_key

        async def guarded(request: Request) -> Response:
            if key is not None:
                given = request.headers.get("authorization", "")
                scheme, _, token = given.partition(" ")
                if not given:
                    raise ApiError(401, "Missing API key: send it as 'Authorization: Bearer "
                                   "KEY'.", None, "invalid_api_key")
                if scheme.lower() != "bearer" or not hmac.compare_digest(
                        token.strip().encode(), key.encode()):
                    raise ApiError(401, "Incorrect API key.", None, "invalid_api_key")
            return await handler(request)

        return guarded

    async def _read_json(self, request: Request) -> Any:
        limit = self.config.max_body
        length = request.headers.get("content-length", "")
        if length.isdigit() and int(length) > limit:
            raise _too_large(int(length), limit)
        data = bytearray()
        async for chunk in request.stream():
            data += chunk
            if len(data) > limit:
                raise _too_large(len(data), limit)
        try:
            return json.loads(data)
        except (ValueError, UnicodeDecodeError) as exc:
            raise ApiError(400, f"The request body is not valid JSON: {exc}", None,
                           "invalid_json") from None

    def _check_model(self, name: str) -> None:
        if not self.model.matches(name):
            raise ApiError(404, f"The model {name!r} does not exist; this server serves "
                           f"{self.model.id!r}.", "model", "model_not_found")

    def _model_card(self) -> dict[str, Any]:
        loaded = self.supervisor.loaded
        meta = {"n_ctx": loaded.n_ctx, "template": loaded.template} if loaded else {}
        return {"id": self.model.id, "object": "model", "created": self.model.created,
                "owned_by": "parley", "meta": meta}


async def _finish(reply: Reply, first: Any, events: AsyncIterator[Any]) -> Finished:
    """The Finished, the log-probabilities on the way given to `reply` as streaming would."""
    event = first
    while not isinstance(event, Finished):
        if isinstance(event, LogprobEntry):
            reply.add_logprobs(event)
        elif isinstance(event, TokenEvent) and event.text:
            reply.shown(event.reasoning)
        event = await events.__anext__()
    return event


def _logprobs(parsed: ParsedRequest) -> ReplyLogprobs | None:
    if parsed.top_logprobs is None:
        return None
    chat = parsed.endpoint is Endpoint.CHAT
    return ReplyLogprobs(chat, 0 if chat else len(parsed.generation.text))


def _too_large(size: int, limit: int) -> ApiError:
    return ApiError(413, f"The request body is {size:,} bytes; the server takes at most "
                    f"{limit:,}.", None, "request_too_large")


def _log_done(request: Request, status: int, finished: Finished, started: float) -> None:
    stats = finished.stats
    speed = f"{stats.gen_tps:.1f} tok/s" if stats.gen_tps else "-"
    ttft = f"{stats.ttft_s:.2f} s" if stats.ttft_s is not None else "-"
    log.info("%s %s %d prompt %d tok (%d cached), output %d tok, TTFT %s, %s, %.2f s, %s",
             request.method, request.url.path, status, stats.prompt_tokens,
             stats.cached_tokens, stats.output_tokens, ttft, speed,
             time.monotonic() - started, finished.reason.value)
    log_request(RequestRecord(time.time(), request.method, request.url.path, status,
                              stats.prompt_tokens, stats.cached_tokens, stats.output_tokens,
                              stats.ttft_s, stats.gen_tps or None, time.monotonic() - started,
                              finished.reason.value))


async def _api_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ApiError)
    log.log(logging.WARNING if exc.status >= 500 else logging.INFO, "%s %s %d: %s",
            request.method, request.url.path, exc.status, exc)
    log_request(RequestRecord(time.time(), request.method, request.url.path, exc.status,
                              finish=str(exc)))
    return JSONResponse(exc.body(), exc.status, exc.headers())


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    text = {404: f"Unknown route {request.method} {request.url.path}.",
            405: f"{request.method} is not allowed on {request.url.path}."}.get(
        exc.status_code, str(exc.detail))
    code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code)
    return JSONResponse(ApiError(exc.status_code, text, None, code).body(), exc.status_code)


def build_app(config: ServerConfig, supervisor: EngineSupervisor,
              model: ServedModel) -> Starlette:
    """The ASGI app: routes, OpenAI-shaped errors, and CORS only for the origins given."""
    front = Front(config, supervisor, model)
    middleware = [Middleware(CORSMiddleware, allow_origins=list(config.cors),
                             allow_methods=["GET", "POST", "OPTIONS"],
                             allow_headers=["Authorization", "Content-Type"])] \
        if config.cors else []
    app = Starlette(routes=front.routes(), middleware=middleware,
                    exception_handlers={ApiError: _api_error, HTTPException: _http_error})
    app.state.front = front
    return app
