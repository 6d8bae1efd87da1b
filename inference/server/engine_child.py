"""The server's engine process: one BatchEngine, many requests at once over one pipe.

`main` runs behind inference.host.bootstrap.child_entry (the set-up every child gets: its own log,
no core dumps, the watchdog that ends it when `parley serve` goes away). The main thread reads the
pipe; each request runs in a thread of its own, and every reply goes out through one lock, tagged
with its request id (wire.py). CANCEL sets that request's CancelToken.
"""

from __future__ import annotations

import dataclasses
import importlib
import logging
import os
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from inference.common.cancel import CancelToken
from inference.common.errors import InvalidSettingError, ParleyError
from inference.engine.requests import GenerationRequest
from inference.host import protocol as hp
from inference.server import wire
from inference.server.errors import ResponseFormatError

if TYPE_CHECKING:
    from multiprocessing.connection import Connection

log = logging.getLogger("parley.server.engine")
BATCH_ENGINE = "inference.batching.engine:BatchEngine"
PROGRESS_STEP = 0.05          # forward load progress in steps of at least 5 %


def engine_class(spec: str) -> Callable[..., Any]:
    """The class a 'module:Name' spec names (imported here, in the engine process)."""
    module, _, name = spec.partition(":")
    try:
        return getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError) as exc:
        raise ParleyError(f"cannot use the engine {spec!r}: {exc}") from None


class _Outbox:
    """The child's end of the pipe, shared by every request thread."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn
        self._lock = threading.Lock()
        self.gone = threading.Event()          # the parent went away

    def send(self, message: tuple[Any, ...]) -> None:
        with self._lock:
            try:
                self._conn.send(message)
            except OSError:
                self.gone.set()

    def answer(self, rid: int, work: Callable[[], Any]) -> None:
        """Run `work`; send (RESULT, rid, value) or (ERROR, rid, the error made portable)."""
        try:
            reply: tuple[Any, ...] = (wire.RESULT, rid, work())
        except Exception as exc:  # noqa: BLE001 - every failure becomes one ERROR reply
            if not isinstance(exc, hp.CARRIED):
                log.exception("engine error in request %d", rid)
            reply = (wire.ERROR, rid, hp.portable(exc, "engine"))
        try:
            self.send(reply)
        except Exception as exc:  # noqa: BLE001 - a result that does not pickle
            self.send((wire.ERROR, rid, ParleyError(f"engine error: cannot return the result: "
                                                     f"{exc}")))


class _Server:
    def __init__(self, conn: Connection, engine: Any) -> None:
        self._conn = conn
        self._out = _Outbox(conn)
        self._engine = engine
        self._cancels: dict[int, CancelToken] = {}
        self._lock = threading.Lock()
        self._handlers: dict[str, Callable[..., Any]] = {
            wire.LOAD: self._load, wire.SUBMIT: self._submit}

    def serve(self) -> None:
        while not self._out.gone.is_set():
            try:
                message = self._conn.recv()
            except (EOFError, OSError):
                return                                   # the parent went away
            tag = message[0]
            if tag == wire.CLOSE:
                self._cancel_all()
                return
            if tag == wire.CANCEL:
                with self._lock:
                    token = self._cancels.get(message[1])
                if token is not None:
                    token.cancel()
                continue
            self._start(tag, message[1], message[2:])

    def _start(self, tag: str, rid: int, args: tuple[Any, ...]) -> None:
        cancel = CancelToken()
        with self._lock:
            self._cancels[rid] = cancel

        def work() -> Any:
            handler = self._handlers.get(tag)
            if handler is None:
                raise ParleyError(f"The engine does not understand the request {tag!r}.")
            return handler(rid, cancel, *args)

        def run() -> None:
            try:
                self._out.answer(rid, work)
            finally:
                with self._lock:
                    self._cancels.pop(rid, None)

        threading.Thread(target=run, name=f"request-{rid}", daemon=True).start()

    def _cancel_all(self) -> None:
        with self._lock:
            tokens = list(self._cancels.values())
        for token in tokens:
            token.cancel()

    def _load(self, rid: int, cancel: CancelToken, config: dict[str, Any]) -> Any:
        from inference.engine.config import ModelConfig

        last = -1.0

        def progress(fraction: float) -> None:
            nonlocal last
            if fraction >= 1.0 or fraction - last >= PROGRESS_STEP:
                last = fraction
                self._out.send((wire.EVENT, rid, fraction))

        return self._engine.load(ModelConfig(**config), progress, cancel)

    def _submit(self, rid: int, cancel: CancelToken, request: dict[str, Any],
                options: dict[str, Any] | None = None) -> Any:
        """Tokens go out as compact TOKEN tuples, log-probabilities as LOGPROBS tuples, other
        events as they are; Finished is the result. Leaving the loop early (a cancel) closes
        the engine's iterator: its slot frees."""
        from inference.batching.logprobs import TokenLogprobs
        from inference.engine.events import Finished, TokenEvent

        options = options or {}
        generation = _with_format(request, options.get("response_format"))
        send, token = self._out.send, wire.TOKEN
        events = self._engine.submit(generation, cancel,
                                     top_logprobs=options.get("top_logprobs"))
        try:
            for event in events:
                if isinstance(event, TokenLogprobs):
                    send((wire.LOGPROBS, rid, event.token, event.logprob, event.top))
                elif isinstance(event, TokenEvent):
                    if event.stats is None and not event.reasoning:
                        send((token, rid, event.text, event.index))
                    else:
                        send((token, rid, event.text, event.index, event.stats,
                              event.reasoning))
                elif isinstance(event, Finished):
                    return event
                else:
                    send((wire.EVENT, rid, event))
                if self._out.gone.is_set():
                    cancel.cancel()
        finally:
            close = getattr(events, "close", None)
            if close is not None:
                close()
        raise ParleyError("The generation ended without a result.")


def _with_format(request: dict[str, Any],
                 response_format: dict[str, Any] | None) -> GenerationRequest:
    """The GenerationRequest, its sampler following the grammar of `response_format`."""
    from inference.batching.formats import format_grammar  # llama.cpp: the child only

    generation = GenerationRequest.from_dict(request)
    if response_format is None:
        return generation
    try:
        grammar = format_grammar(response_format["type"], response_format.get("schema"))
    except InvalidSettingError as exc:
        raise ResponseFormatError(str(exc)) from None
    sampling = dataclasses.replace(generation.sampling, grammar=grammar)
    return dataclasses.replace(generation, sampling=sampling)


def main(conn: Connection, engine_spec: str, n_slots: int) -> None:
    """The engine process's main (behind bootstrap.child_entry): the engine, then requests."""
    engine = engine_class(engine_spec)(n_slots=n_slots)
    log.info("server engine process %d ready (%s, %d slots)", os.getpid(), engine_spec, n_slots)
    try:
        _Server(conn, engine).serve()
    finally:
        engine.close()
        log.info("server engine process %d exiting", os.getpid())
