"""The engine's child process: set up logging and safety nets, then serve EngineHost's requests.

`main` is the spawn target. It runs an in-process `Engine` and a registry of jobs (`JOBS`), so a
long task (perplexity, compare) runs next to the loaded model: a job is one function
`job(engine, ctx, *args) -> result` that reports progress with `ctx.emit(obj)` and stops when
`ctx.cancel.cancelled`; add it to `JOBS` and call it with `EngineHost.call(name, *args)`.
"""

from __future__ import annotations

import faulthandler
import logging
import os
import signal
import socket
import sys
import time
import traceback
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from inference.common.cancel import CancelToken
from inference.common.errors import Cancelled, NoModelLoadedError, ParleyError
from inference.common.logs import LOG_FORMAT
from inference.host import protocol as hp
from inference.host.files import child_log_path

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


def _debug_crash(engine: Engine, ctx: JobContext, how: str) -> None:
    """Test-only: end this process the way a native failure does.

    'invalid_token' is a real one: llama.cpp's `llama_token_to_piece` with a token id outside
    the vocabulary throws std::out_of_range through the C API, which aborts (SIGABRT).
    Anything else names a signal to send to ourselves ('SIGABRT', 'SIGSEGV', 'SIGKILL').
    """
    if how == "invalid_token":
        import ctypes

        import llama_cpp

        from inference.llama.native import NativeModel

        if engine.loaded is None:
            raise NoModelLoadedError()
        vocab = NativeModel(engine.loaded.config.path, vocab_only=True)
        buf = ctypes.create_string_buffer(64)
        llama_cpp.llama_token_to_piece(vocab.vocab, vocab.n_vocab + 1000, buf, 64, 0, False)
        raise ParleyError("llama.cpp did not abort on an invalid token id")
    os.kill(os.getpid(), signal.Signals[how])


def _network_attempts(engine: Engine, ctx: JobContext) -> list[str] | None:
    """Test-only: the network accesses the audit hook saw (None when it is not installed)."""
    return list(ctx.audit.attempts) if ctx.audit else None


def _debug_steps(engine: Engine, ctx: JobContext, steps: int, pause_s: float = 0.0) -> int:
    """Test-only: a job in miniature. It reports each step and stops when cancelled."""
    for step in range(steps):
        if ctx.cancel.cancelled:
            raise Cancelled("job cancelled")
        ctx.emit(step)
        time.sleep(pause_s)
    return steps


def _perplexity(engine: Engine, ctx: JobContext, text: str, options: dict[str, Any]) -> Any:
    """Perplexity of `text`; progress goes out as (tokens done, total, ETA) tuples."""
    return engine.perplexity(text, **options, cancel=ctx.cancel,
                             progress=lambda done, total, eta: ctx.emit((done, total, eta)))


JOBS: Mapping[str, Job] = MappingProxyType({
    "perplexity": _perplexity,
    "_debug_crash": _debug_crash,
    "_debug_steps": _debug_steps,
    "_network_attempts": _network_attempts,
})


class _ParentGone(Exception):
    pass


class _Child:
    def __init__(self, conn: Connection, cancel: CancelToken, engine: Engine,
                 audit: NetworkAudit | None) -> None:
        self._conn = conn
        self._cancel = cancel
        self._engine = engine
        self._audit = audit
        self._handlers: dict[str, Callable[..., Any]] = {
            hp.LOAD: self._load, hp.UNLOAD: engine.unload, hp.RENDER: self._render,
            hp.GENERATE: self._generate, hp.TOKENIZE: engine.tokenize, hp.JOB: self._job}

    def _send(self, message: tuple[Any, ...]) -> None:
        try:
            self._conn.send(message)
        except OSError as exc:
            raise _ParentGone() from exc

    def serve(self) -> None:
        while True:
            try:
                message = self._conn.recv()
            except (EOFError, OSError):
                return                           # the parent went away
            if message[0] == hp.CLOSE:
                return
            try:
                self._reply(message)
            except _ParentGone:
                return

    def _reply(self, message: tuple[Any, ...]) -> None:
        reply = self._handle(message)
        try:
            self._send(reply)
        except _ParentGone:
            raise
        except Exception as exc:                 # the result would not pickle
            log.error("cannot send the result of %r: %r", message[0], exc)
            self._send((hp.ERROR, (), f"engine error: cannot return the result: {exc}"))

    def _handle(self, message: tuple[Any, ...]) -> tuple[Any, ...]:
        handler = self._handlers.get(message[0])
        try:
            if handler is None:
                raise ParleyError(f"The engine does not understand the request {message[0]!r}.")
            return (hp.RESULT, handler(*message[1:]))
        except (ParleyError, Cancelled) as exc:
            return hp.encode_error(exc)
        except _ParentGone:
            raise
        except Exception as exc:
            log.error("engine error in %r:\n%s", message[0], traceback.format_exc())
            return (hp.ERROR, (), f"engine error: {type(exc).__name__}: {exc}")

    def _load(self, config: dict[str, Any]) -> Any:
        from inference.engine.config import ModelConfig

        last = -1.0

        def progress(fraction: float) -> None:
            nonlocal last
            if fraction >= 1.0 or fraction - last >= PROGRESS_STEP:
                last = fraction
                self._send((hp.PROGRESS, fraction))

        return self._engine.load(ModelConfig(**config), progress, self._cancel)

    def _render(self, request: dict[str, Any]) -> Any:
        from inference.engine.requests import GenerationRequest

        return self._engine.render(GenerationRequest.from_dict(request))

    def _generate(self, request: dict[str, Any]) -> Any:
        from inference.engine.events import TokenEvent
        from inference.engine.requests import GenerationRequest

        send, token = self._send, hp.TOKEN
        for event in self._engine.generate(GenerationRequest.from_dict(request), self._cancel):
            if not isinstance(event, TokenEvent):
                return event                     # the Finished: the request's result
            if event.stats is None:
                send((token, event.text, event.index))
            else:
                send((token, event.text, event.index, event.stats))
        raise ParleyError("The generation ended without a result.")

    def _job(self, name: str, args: tuple[Any, ...]) -> Any:
        job = JOBS.get(name)
        if job is None:
            raise ParleyError(f"The engine has no job called {name!r}.")
        ctx = JobContext(self._cancel, lambda obj: self._send((hp.EVENT, obj)), self._audit)
        return job(self._engine, ctx, *args)


def _route_logs(log_dir: Path, verbose: bool) -> None:
    """llama.cpp's log (via Python logging) and this process's stderr (where native aborts and
    faulthandler write) go to this child's own log file; when `verbose`, the log also goes to
    the terminal's stderr, as it does in the parent (`parley -v`)."""
    log_dir.mkdir(parents=True, exist_ok=True)
    path = child_log_path(log_dir, os.getpid())
    root = logging.getLogger()
    root.setLevel(logging.DEBUG if verbose else logging.INFO)
    if verbose:
        echo = logging.StreamHandler(os.fdopen(os.dup(2), "w", buffering=1, encoding="utf-8"))
        echo.setFormatter(logging.Formatter("%(name)s: %(message)s"))
        root.addHandler(echo)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    os.dup2(fd, 2)
    os.close(fd)
    handler = logging.FileHandler(path, encoding="utf-8")
    handler.setFormatter(logging.Formatter(LOG_FORMAT))
    root.addHandler(handler)
    faulthandler.enable(file=sys.stderr)     # a Python traceback of where a native crash hit


def _no_core_dumps() -> None:
    try:
        import resource
    except ImportError:                      # Windows
        return
    try:
        _soft, hard = resource.getrlimit(resource.RLIMIT_CORE)
        resource.setrlimit(resource.RLIMIT_CORE, (0, hard))
    except (ValueError, OSError):
        pass


def main(conn: Connection, cancel_flag: Any, log_dir: str, verbose: bool = False) -> None:
    """The child's entry point: safety first, then llama.cpp, then the request loop."""
    os.environ["GGML_NO_BACKTRACE"] = "1"    # an abort prints one line, not a gdb session
    signal.signal(signal.SIGINT, signal.SIG_IGN)   # Ctrl+C in a terminal is the parent's
    audit = NetworkAudit() if os.environ.get(AUDIT_ENV) == "1" else None
    if audit is not None:
        sys.addaudithook(audit)
    _route_logs(Path(log_dir), verbose)
    _no_core_dumps()
    from inference.llama.native_log import NATIVE_LOG

    NATIVE_LOG.install()
    from inference.engine.engine import Engine

    engine = Engine()
    log.info("engine process %d ready", os.getpid())
    try:
        _Child(conn, hp.SharedCancel(cancel_flag), engine, audit).serve()
    finally:
        engine.close()
        conn.close()
        log.info("engine process %d exiting", os.getpid())
