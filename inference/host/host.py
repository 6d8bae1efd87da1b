"""EngineHost: the engine in its own child process, behind the same API as the in-process Engine.

llama.cpp can end the whole process from native code (a failed GGML_ASSERT, an invalid token id,
some GPU out-of-memory paths, the OOM killer). With the engine in a child, the app survives: the
call raises `EngineCrashedError` (exit signal + the last lines of the child's log), the tokens
already streamed are the partial reply, and the next `load` starts a fresh child.

The child is started with multiprocessing's "spawn" context (inference/host/child.py). A frozen
(PyInstaller) app must call `multiprocessing.freeze_support()` first thing in its entry point, so
the executable, started again as the child, becomes the engine instead of a second app.

Wire format: inference/host/protocol.py. The child's log (llama.cpp's log plus its stderr, where
native aborts write) is `logs/engine-<pid>.log`; when the child ends it is appended to Parley's
main log file and removed.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import select
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from pathlib import Path
from typing import Any

from inference.common.cancel import CancelToken
from inference.common.errors import EngineCrashedError, NoModelLoadedError
from inference.common.paths import parley_paths
from inference.engine.api import LoadedModel, ProgressCallback, RenderedPrompt
from inference.engine.config import ModelConfig
from inference.engine.events import GenerationEvent, TokenEvent
from inference.engine.requests import GenerationRequest
from inference.host import child as host_child
from inference.host import files
from inference.host import protocol as hp

log = logging.getLogger(__name__)
POLL_S = 0.05          # how often a waiting parent looks at the caller's CancelToken
JOIN_S = 5.0           # patience for a polite exit, then terminate, then kill


@dataclass
class _Child:
    process: BaseProcess
    conn: Connection
    cancel: hp.SharedCancel
    log_path: Path
    busy: str = ""     # the request in flight ("" when the child waits for the next one)
    _poller: Any = field(default=None, init=False, repr=False)   # select.poll, made on first use

    def readable(self, timeout_s: float) -> bool:
        """Whether a message is waiting (within `timeout_s`). On POSIX one `select.poll`
        object, kept for the child's life: `Connection.poll` builds a selector on every call,
        which is most of what receiving a streamed token costs this process."""
        if self._poller is None:
            if not hasattr(select, "poll"):             # Windows pipes: the Connection's own
                return self.conn.poll(timeout_s)
            self._poller = select.poll()
            self._poller.register(self.conn.fileno(), select.POLLIN)
        return bool(self._poller.poll(timeout_s * 1000))


class EngineHost:
    """Implements `EngineAPI` with the engine in a child process. Use from one thread at a time."""

    def __init__(self, verbose: bool | None = None) -> None:
        """`verbose`: also echo the engine's log to stderr; by default, when Parley's logger is
        at DEBUG (`parley -v`)."""
        if verbose is None:
            verbose = logging.getLogger("parley").isEnabledFor(logging.DEBUG)
        self._verbose = verbose
        self._mp = multiprocessing.get_context("spawn")
        self._child: _Child | None = None
        self._loaded: LoadedModel | None = None

    @property
    def loaded(self) -> LoadedModel | None:
        return self._loaded

    @property
    def pid(self) -> int | None:
        """The engine process's id while one runs."""
        child = self._child
        return child.process.pid if child is not None else None

    # -- the crash-loop guard ---------------------------------------------------------------
    @staticmethod
    def crashed_at_load() -> Path | None:
        """The model whose load took the engine down last time (don't auto-load it), or None."""
        return files.loading_record()

    @staticmethod
    def forget_crash() -> None:
        files.clear_loading()

    # -- EngineAPI --------------------------------------------------------------------------
    def load(self, config: ModelConfig, progress: ProgressCallback | None = None,
             cancel: CancelToken | None = None) -> LoadedModel:
        self._loaded = None
        child = self._ensure_child()
        files.record_loading(config.path, child.process.pid)
        try:
            loaded = self._request(child, (hp.LOAD, config.to_dict()),
                                   f"loading {config.path.name}", cancel, progress)
        except EngineCrashedError:
            raise                  # the state file stays: next start, don't auto-load this one
        except BaseException:
            self.forget_crash()
            raise
        self.forget_crash()
        self._loaded = loaded
        return loaded

    def unload(self) -> None:
        self._loaded = None
        if self._child is not None:
            self._request(self._child, (hp.UNLOAD,), "unloading the model")

    def render(self, request: GenerationRequest) -> RenderedPrompt:
        return self._request(self._require(), (hp.RENDER, request.to_dict()),
                             "preparing the prompt")

    def tokenize(self, text: str, add_bos: bool = True) -> list[int]:
        return self._request(self._require(), (hp.TOKENIZE, text, add_bos), "tokenizing")

    def generate(self, request: GenerationRequest,
                 cancel: CancelToken | None = None) -> Iterator[GenerationEvent]:
        child = self._require()
        during = "generating"
        self._send(child, (hp.GENERATE, request.to_dict()), during)
        try:
            while True:
                reply = self._receive(child, during, cancel)
                if reply[0] == hp.TOKEN:
                    yield TokenEvent(reply[1], reply[2], reply[3] if len(reply) > 3 else None)
                    continue
                child.busy = ""
                if reply[0] == hp.ERROR:
                    raise hp.decode_error(reply[1], reply[2])
                yield reply[1]     # the Finished
                return
        finally:
            if child.busy and self._child is child:
                self._abandon(child)

    def call(self, name: str, *args: Any, progress: Callable[[Any], None] | None = None,
             cancel: CancelToken | None = None) -> Any:
        """Run the job `name` (host_child.JOBS) in the engine process; `progress` gets what the
        job emits. Raises what the job raises (ParleyError subclasses, Cancelled)."""
        return self._request(self._ensure_child(), (hp.JOB, name, args), f"running {name}",
                             cancel, progress)

    def perplexity(self, text: str, *, progress: Callable[[int, int, float | None], None]
                   | None = None, cancel: CancelToken | None = None, **options: Any) -> Any:
        """Engine.perplexity, run in the engine process (same arguments and result)."""
        relay = (lambda step: progress(*step)) if progress else None
        return self.call("perplexity", text, options, progress=relay, cancel=cancel)

    def close(self) -> None:
        """Ask the child to exit; terminate it, then kill it, if it does not in time."""
        child, self._child, self._loaded = self._child, None, None
        if child is None:
            return
        proc = child.process
        child.cancel.cancel()
        with contextlib.suppress(OSError):
            child.conn.send((hp.CLOSE,))
        proc.join(JOIN_S)
        for stop in (proc.terminate, proc.kill):
            if proc.is_alive():
                stop()
                proc.join(JOIN_S)
        self._finish(child, hp.describe_exit(proc.exitcode))

    def __enter__(self) -> EngineHost:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    # -- talking to the child ---------------------------------------------------------------
    def _require(self) -> _Child:
        if self._loaded is None or self._child is None:
            raise NoModelLoadedError()
        return self._child

    def _ensure_child(self) -> _Child:
        child = self._child
        if child is not None and child.process.is_alive() and not child.busy:
            return child
        if child is not None:
            self.close()           # died while idle, or out of step after an interruption
        logs = parley_paths().logs
        files.merge_left_over_logs(logs)
        parent_conn, child_conn = self._mp.Pipe(duplex=True)
        flag = hp.SharedCancel.new_flag(self._mp)
        proc = self._mp.Process(target=host_child.main, name="parley-engine", daemon=True,
                                args=(child_conn, flag, str(logs), self._verbose))
        proc.start()
        child_conn.close()         # only the child holds its end: its death reads as EOF here
        assert proc.pid is not None
        self._child = _Child(proc, parent_conn, hp.SharedCancel(flag),
                             files.child_log_path(logs, proc.pid))
        log.info("engine process %d started", proc.pid)
        return self._child

    def _request(self, child: _Child, message: tuple[Any, ...], during: str,
                 cancel: CancelToken | None = None,
                 progress: Callable[[Any], None] | None = None) -> Any:
        self._send(child, message, during)
        try:
            while True:
                reply = self._receive(child, during, cancel)
                if reply[0] in (hp.PROGRESS, hp.EVENT):
                    _notify(progress, reply[1])
                    continue
                child.busy = ""
                if reply[0] == hp.ERROR:
                    raise hp.decode_error(reply[1], reply[2])
                return reply[1]
        finally:
            if child.busy and self._child is child:   # interrupted here: out of step
                self.close()

    def _send(self, child: _Child, message: tuple[Any, ...], during: str) -> None:
        child.cancel.reset()
        child.busy = message[0]
        try:
            child.conn.send(message)
        except OSError:
            raise self._crashed(child, during) from None

    def _receive(self, child: _Child, during: str, cancel: CancelToken | None) -> tuple[Any, ...]:
        conn = child.conn
        while True:
            if cancel is not None and cancel.cancelled and not child.cancel.cancelled:
                child.cancel.cancel()
            try:
                if child.readable(POLL_S):
                    return conn.recv()
            except (EOFError, OSError):
                raise self._crashed(child, during) from None
            if not child.process.is_alive() and not child.readable(0):
                raise self._crashed(child, during)

    def _abandon(self, child: _Child) -> None:
        """The caller stopped reading a generation: cancel it and read up to its end."""
        child.cancel.cancel()
        try:
            while child.busy:
                if self._receive(child, "stopping", None)[0] in (hp.RESULT, hp.ERROR):
                    child.busy = ""
        except EngineCrashedError as err:
            log.warning("%s", err)
        finally:
            if child.busy and self._child is child:   # interrupted while draining
                self.close()

    def _crashed(self, child: _Child, during: str) -> EngineCrashedError:
        proc = child.process
        proc.join(JOIN_S)
        if proc.is_alive():        # its pipe closed but it lives on: make sure it is gone
            proc.kill()
            proc.join(JOIN_S)
        code = proc.exitcode
        how = hp.describe_exit(code)
        tail = files.log_tail(child.log_path)
        loading = child.busy == hp.LOAD
        log.error("engine process %s stopped (%s) while %s", proc.pid, how, during)
        self._finish(child, how)
        return EngineCrashedError(hp.crash_message(how, during, loading),
                                  exit_signal=hp.exit_signal(code), log_tail=tail)

    def _finish(self, child: _Child, outcome: str) -> None:
        if self._child is child:
            self._child, self._loaded = None, None
        child.conn.close()
        files.merge_log(child.log_path, child.process.pid, outcome)
        with contextlib.suppress(ValueError):
            child.process.close()


def _notify(callback: Callable[[Any], None] | None, value: Any) -> None:
    if callback is None:
        return
    try:
        callback(value)
    except Exception:      # a failing observer must not break the engine's conversation
        log.exception("a progress callback failed")
