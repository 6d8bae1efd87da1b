"""EngineCall: one generation in the engine child, seen from the server's event loop.

The mux's reader thread hands each reply to the loop (`call_soon_threadsafe`); the request's
slot in the SlotGate is given back the moment its last reply (RESULT or ERROR) arrives, read or
not. `events` yields the generation's events and raises its error as an ApiError.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

from inference.common.errors import (
    EngineCrashedError,
    InvalidSettingError,
    ParleyError,
    PromptError,
    PromptTooLongError,
)
from inference.engine.events import GenerationEvent, TokenEvent
from inference.engine.requests import GenerationRequest, Mode
from inference.server import wire
from inference.server.admission import SlotGate
from inference.server.errors import ApiError, ResponseFormatError, bad_request, unavailable
from inference.server.logprobs import LogprobEntry
from inference.server.supervisor import EngineSupervisor, EngineUnavailable


class EngineCall:
    """Start with `await EngineCall.start(...)` once the gate gave a slot; end with `cancel`."""

    def __init__(self, gate: SlotGate, loop: asyncio.AbstractEventLoop) -> None:
        self._gate = gate
        self._loop = loop
        self._replies: asyncio.Queue[tuple[Any, ...]] = asyncio.Queue()
        self._ended = False
        self._cancel: Any = None

    @classmethod
    def start(cls, supervisor: EngineSupervisor, gate: SlotGate, request: GenerationRequest,
              options: dict[str, Any] | None = None) -> EngineCall:
        """Submit `request` with its `options` (log-probabilities, response format) — its slot
        already taken from `gate`; given back here on failure."""
        call = cls(gate, asyncio.get_running_loop())
        try:
            mux, rid = supervisor.submit(request.to_dict(), call._sink, options)
        except EngineUnavailable as exc:
            call._end()
            raise unavailable(str(exc), "loading") from None
        call._cancel = lambda: mux.cancel(rid)
        return call

    def _sink(self, reply: tuple[Any, ...]) -> None:
        """On the mux's reader thread."""
        with contextlib.suppress(RuntimeError):          # the loop closed: shutting down
            self._loop.call_soon_threadsafe(self._deliver, reply)

    def _deliver(self, reply: tuple[Any, ...]) -> None:
        if reply[0] in wire.ENDS:
            self._end()
        self._replies.put_nowait(reply)

    def _end(self) -> None:
        if not self._ended:
            self._ended = True
            self._gate.release()

    def cancel(self) -> None:
        """Stop the generation (nothing when it has ended); its slot comes back at its end."""
        if not self._ended and self._cancel is not None:
            self._cancel()

    async def events(self, mode: Mode) -> AsyncIterator[GenerationEvent | LogprobEntry]:
        """Every event (a token's LogprobEntry before its text, when asked for), the Finished
        last; the engine's error raised as an ApiError."""
        while True:
            reply = await self._replies.get()
            tag = reply[0]
            if tag == wire.TOKEN:
                yield TokenEvent(*reply[1:])
            elif tag == wire.LOGPROBS:
                yield LogprobEntry(*reply[1:])
            elif tag == wire.EVENT:
                yield reply[1]
            elif tag == wire.RESULT:
                yield reply[1]
                return
            else:
                raise api_error(reply[1], mode)


def api_error(exc: BaseException, mode: Mode) -> ApiError:
    """The HTTP answer to an error from the engine."""
    param = "messages" if mode is Mode.CHAT else "prompt"
    if isinstance(exc, ResponseFormatError):
        return bad_request(str(exc), "response_format")
    if isinstance(exc, PromptTooLongError):
        return bad_request(str(exc), param, "context_length_exceeded")
    if isinstance(exc, (PromptError, InvalidSettingError)):
        return bad_request(str(exc), param)
    if isinstance(exc, EngineCrashedError):
        return unavailable(str(exc), "engine_crashed")
    if isinstance(exc, ParleyError):
        return ApiError(500, str(exc), None, "engine_error")
    return ApiError(500, f"engine error: {type(exc).__name__}: {exc}", None, "engine_error")
