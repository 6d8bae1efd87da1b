"""The engine's child process: serve EngineHost's requests with an in-process Engine.

`main` is the engine process's main, run behind bootstrap.child_entry (the set-up every child
gets). It runs an `Engine` and a table of jobs (`JOBS`), so a long task (perplexity, compare)
runs next to the loaded model: a job is one function `job(engine, ctx, *args) -> result` that
reports progress with `ctx.emit(obj)` and stops when `ctx.cancel.cancelled`; add it to `JOBS` and
call it with `EngineHost.call(name, *args)`. Tests add jobs of their own from a module of theirs
(`EngineHost(job_modules=[...])`, tests/support/debug_jobs.py), never to `JOBS`.
"""

from __future__ import annotations

import importlib
import logging
import os
import socket
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from inference.common.cancel import CancelToken
from inference.common.errors import ParleyError
from inference.host import protocol as hp
from inference.host.bootstrap import ChildPipe, ParentGone

if TYPE_CHECKING:
    from multiprocessing.connection import Connection

    from inference.engine.engine import Engine

log = logging.getLogger("parley.engine")
AUDIT_ENV = "PARLEY_AUDIT_NETWORK"   # "1": block and record any network access in the child
PROGRESS_STEP = 0.01                 # forward load progress in steps of at least 1 %


class NetworkAudit:
    """An audit hook (`sys.addaudithook`) that records network access and, if `block`, refuses
    it. Local sockets (AF_UNIX, which multiprocessing may use) are allowed."""

    EVENTS = frozenset({"socket.connect", "socket.getaddrinfo", "socket.gethostbyname",
                        "socket.gethostbyaddr", "socket.sendto", "socket.sendmsg",
                        "urllib.Request"})

    def __init__(self, block: bool = True) -> None:
        self.block = block
        self.enabled = True
        self.attempts: list[str] = []

    def __call__(self, event: str, args: tuple[Any, ...]) -> None:
        if not self.enabled or event not in self.EVENTS:
            return
        sock = args[0] if args else None
        if isinstance(sock, socket.socket) and sock.family == getattr(socket, "AF_UNIX", None):
            return
        self.attempts.append(f"{event} {args[1:]!r}"[:300])
        if self.block:
            raise PermissionError(f"Parley works offline: network access refused ({event})")


@dataclass(frozen=True)
class JobContext:
    cancel: CancelToken
    emit: Callable[[Any], None]          # a progress report for the caller (picklable)
    audit: NetworkAudit | None = None


Job = Callable[..., Any]                 # job(engine, ctx, *args) -> picklable result


def _perplexity(engine: Engine, ctx: JobContext, text: str, options: dict[str, Any]) -> Any:
    """Perplexity of `text`; progress goes out as (tokens done, total, ETA) tuples."""
    return engine.perplexity(text, **options, cancel=ctx.cancel,
                             progress=lambda done, total, eta: ctx.emit((done, total, eta)))


JOBS: Mapping[str, Job] = MappingProxyType({
    "perplexity": _perplexity,
})


def job_table(modules: Sequence[str] = ()) -> Mapping[str, Job]:
    """`JOBS` plus the `JOBS` of each module named (imported here, in the engine process; tests
    add their own jobs this way, `EngineHost(job_modules=...)`)."""
    table = dict(JOBS)
    for name in modules:
        table.update(importlib.import_module(name).JOBS)
    return MappingProxyType(table)


class _Child:
    def __init__(self, pipe: ChildPipe, cancel: CancelToken, engine: Engine,
                 audit: NetworkAudit | None, jobs: Mapping[str, Job]) -> None:
        self._pipe = pipe
        self._cancel = cancel
        self._engine = engine
        self._audit = audit
        self._jobs = jobs
        self._handlers: dict[str, Callable[..., Any]] = {
            hp.LOAD: self._load, hp.UNLOAD: engine.unload, hp.RENDER: self._render,
            hp.GENERATE: self._generate, hp.TOKENIZE: engine.tokenize, hp.JOB: self._job}

    def serve(self) -> None:
        conn = self._pipe.conn
        while True:
            try:
                message = conn.recv()
            except (EOFError, OSError):
                return                           # the parent went away
            if message[0] == hp.CLOSE:
                return
            try:
                self._pipe.answer(lambda message=message: self._handle(message))
            except ParentGone:
                return

    def _handle(self, message: tuple[Any, ...]) -> Any:
        handler = self._handlers.get(message[0])
        if handler is None:
            raise ParleyError(f"The engine does not understand the request {message[0]!r}.")
        return handler(*message[1:])

    def _load(self, config: dict[str, Any]) -> Any:
        from inference.engine.config import ModelConfig

        last = -1.0

        def progress(fraction: float) -> None:
            nonlocal last
            if fraction >= 1.0 or fraction - last >= PROGRESS_STEP:
                last = fraction
                self._pipe.emit(fraction)

        return self._engine.load(ModelConfig(**config), progress, self._cancel)

    def _render(self, request: dict[str, Any]) -> Any:
        from inference.engine.requests import GenerationRequest

        return self._engine.render(GenerationRequest.from_dict(request))

    def _generate(self, request: dict[str, Any]) -> Any:
        """Tokens go out as compact TOKEN tuples, any other event as it is; Finished is the
        result."""
        from inference.engine.events import Finished, TokenEvent
        from inference.engine.requests import GenerationRequest

        send, token = self._pipe.send, hp.TOKEN
        for event in self._engine.generate(GenerationRequest.from_dict(request), self._cancel):
            if isinstance(event, TokenEvent):
                if event.stats is None and not event.reasoning:   # the common case, smallest
                    send((token, event.text, event.index))
                else:
                    send((token, event.text, event.index, event.stats, event.reasoning))
            elif isinstance(event, Finished):
                return event
            else:
                send((hp.EVENT, event))
        raise ParleyError("The generation ended without a result.")

    def _job(self, name: str, args: tuple[Any, ...]) -> Any:
        job = self._jobs.get(name)
        if job is None:
            raise ParleyError(f"The engine has no job called {name!r}.")
        return job(self._engine, JobContext(self._cancel, self._pipe.emit, self._audit), *args)


def main(conn: Connection, cancel_flag: Any, job_modules: Sequence[str] = ()) -> None:
    """The engine process's main (behind bootstrap.child_entry): llama.cpp, then the requests."""
    audit = NetworkAudit() if os.environ.get(AUDIT_ENV) == "1" else None
    if audit is not None:
        sys.addaudithook(audit)
    jobs = job_table(job_modules)
    from inference.llama.native_log import NATIVE_LOG

    NATIVE_LOG.install()
    from inference.engine.engine import Engine

    engine = Engine()
    log.info("engine process %d ready", os.getpid())
    try:
        _Child(ChildPipe(conn, "engine"), hp.SharedCancel(cancel_flag), engine, audit,
               jobs).serve()
    finally:
        engine.close()
        log.info("engine process %d exiting", os.getpid())
