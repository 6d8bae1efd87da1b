"""EngineHost: the engine in its own child process, behind the same API as the in-process Engine.

llama.cpp can end the whole process from native code (a failed GGML_ASSERT, an invalid token id,
some GPU out-of-memory paths, the OOM killer). With the engine in a child, the app survives: the
call raises `EngineCrashedError` (exit signal + the last lines of the child's log), the tokens
already streamed are the partial reply, and the next `load` starts a fresh child.

The child is started, set up and watched like every child (inference/host/process.py, "spawn";
its main is inference/host/child.py). A frozen (PyInstaller) app must call
`multiprocessing.freeze_support()` first thing in its entry point, so the executable, started
again as the child, becomes the engine instead of a second app.

Wire format: inference/host/protocol.py. The child's log (llama.cpp's log plus its stderr, where
native aborts write) is `logs/engine-<pid>.log`; when the child ends it is appended to Parley's
main log file and removed.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from inference.common.cancel import CancelToken
from inference.common.errors import Cancelled, EngineCrashedError, NoModelLoadedError
from inference.engine.api import LoadedModel, ProgressCallback, RenderedPrompt
from inference.engine.config import ModelConfig
from inference.engine.events import GenerationEvent, TokenEvent
from inference.engine.requests import GenerationRequest
from inference.host import child as host_child
from inference.host import files
from inference.host import protocol as hp
from inference.host.bootstrap import ChildLogging
from inference.host.devices import rpc_trouble
from inference.host.process import (
    HANG_S,
    JOIN_S,
    TERM_S,
    ChildGone,
    ChildHung,
    ChildProcess,
    DeadlinePassed,
    spawn_context,
)

log = logging.getLogger(__name__)
# How long the engine has to act on a cancel before it is ended. llama.cpp checks the abort
# callback only between compute-graph nodes, and one node (the output matmul over a 512-token
# ubatch of a large model on a slow or busy CPU) can take seconds; ending the engine costs the
# user a model reload, so only an engine that is really stuck should reach this.
GRACE_S = 10.0
LOAD_ADVICE = "Parley is fine; try a smaller context, fewer GPU layers, or another model."
PLAIN_ADVICE = "Nothing else was affected; load the model again to continue."
CHAT_ADVICE = "Your conversation is safe; load the model again to continue."   # the GUI's


class _StuckAfterCancel(Exception):
    """The engine did not end its request within GRACE_S of the cancel."""


@dataclass
class _Child:
    proc: ChildProcess
    cancel: hp.SharedCancel
    busy: str = ""     # the request in flight ("" when the child waits for the next one)


class EngineHost:
    """Implements `EngineAPI` with the engine in a child process. Use from one thread at a time."""

    def __init__(self, verbose: bool | None = None, job_modules: Sequence[str] = (), *,
                 crash_advice: str = PLAIN_ADVICE, grace_s: float = GRACE_S,
                 hang_s: float = HANG_S) -> None:
        """`verbose`: also echo the engine's log to stderr; by default, when Parley's logger is
        at DEBUG (`parley -v`). `job_modules`: modules the engine process imports for more jobs
        (each defines `JOBS`, as inference/host/child.py does; tests/support/debug_jobs.py).
        `crash_advice`: the sentence after "The engine stopped unexpectedly …" (CHAT_ADVICE in
        the window). `grace_s`: how long after a cancel the engine is ended if it has not
        stopped; `hang_s`: how long it may show no sign of life before a wait gives up on it."""
        if verbose is None:
            verbose = logging.getLogger("parley").isEnabledFor(logging.DEBUG)
        self._verbose = verbose
        self._job_modules = tuple(job_modules)
        self._advice = crash_advice
        self._grace_s = grace_s
        self._hang_s = hang_s
        self._child: _Child | None = None
        self._loaded: LoadedModel | None = None
        self._rpc_servers: tuple[str, ...] = ()   # those of the model loaded or loading

    @property
    def loaded(self) -> LoadedModel | None:
        return self._loaded

    @property
    def pid(self) -> int | None:
        """The engine process's id while one runs."""
        child = self._child
        return child.proc.pid if child is not None else None

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
        self._rpc_servers = config.rpc_servers
        files.record_loading(config.path, child.proc.pid)
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
        """Engine.generate in the engine process: every event it yields, in order."""
        child = self._require()
        during = "generating"
        self._send(child, (hp.GENERATE, request.to_dict()), during)
        relay = _CancelWatch(cancel, child.cancel, self._grace_s)
        try:
            while True:
                reply = self._receive(child, during, relay)
                tag = reply[0]
                if tag == hp.TOKEN:
                    yield TokenEvent(*reply[1:])     # text, index[, stats, reasoning]
                    continue
                if tag == hp.EVENT:
                    yield reply[1]
                    continue
                child.busy = ""
                if tag == hp.ERROR:
                    raise reply[1]
                yield reply[1]     # the Finished
                return
        finally:
            if child.busy and self._child is child:
                self._abandon(child)

    def call(self, name: str, *args: Any, progress: Callable[[Any], None] | None = None,
             cancel: CancelToken | None = None) -> Any:
        """Run the job `name` (host_child.JOBS, or one from `job_modules`) in the engine
        process; `progress` gets what the job emits. Raises what the job raises (ParleyError
        subclasses, Cancelled)."""
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
        child.cancel.cancel()
        with contextlib.suppress(ChildGone):
            child.proc.send((hp.CLOSE,))
        child.proc.stop(JOIN_S)

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
        if child is not None and child.proc.alive and not child.busy:
            return child
        if child is not None:
            self.close()           # died while idle, or out of step after an interruption
        flag = hp.SharedCancel.new_flag(spawn_context())
        proc = ChildProcess.start(host_child.main, flag, self._job_modules, name="parley-engine",
                                  logs=ChildLogging.of_parent("engine", self._verbose),
                                  hang_s=self._hang_s)
        self._child = _Child(proc, hp.SharedCancel(flag))
        return self._child

    def _request(self, child: _Child, message: tuple[Any, ...], during: str,
                 cancel: CancelToken | None = None,
                 progress: Callable[[Any], None] | None = None) -> Any:
        self._send(child, message, during)
        relay = _CancelWatch(cancel, child.cancel, self._grace_s)
        try:
            while True:
                reply = self._receive(child, during, relay)
                if reply[0] == hp.EVENT:
                    _notify(progress, reply[1])
                    continue
                child.busy = ""
                if reply[0] == hp.ERROR:
                    raise reply[1]
                return reply[1]
        finally:
            if child.busy and self._child is child:   # interrupted here: out of step
                self.close()

    def _send(self, child: _Child, message: tuple[Any, ...], during: str) -> None:
        child.cancel.reset()
        child.busy = message[0]
        try:
            child.proc.send(message)
        except ChildGone:
            raise self._crashed(child, during) from None

    def _receive(self, child: _Child, during: str, on_wait: Callable[[], None] | None,
                 deadline: float | None = None) -> tuple[Any, ...]:
        try:
            return child.proc.receive(on_wait, deadline)
        except ChildHung:
            raise self._crashed(child, during, hung=True) from None
        except ChildGone:
            raise self._crashed(child, during) from None
        except _StuckAfterCancel:
            raise self._ended_after_cancel(child, during) from None

    def _abandon(self, child: _Child) -> None:
        """The caller stopped reading a generation: cancel it and read up to its end (ending
        the engine when it does not stop within the grace period)."""
        child.cancel.cancel()
        deadline = time.monotonic() + self._grace_s
        try:
            while child.busy:
                if self._receive(child, "stopping", None, deadline)[0] in (hp.RESULT, hp.ERROR):
                    child.busy = ""
        except EngineCrashedError as err:
            log.warning("%s", err)
        except DeadlinePassed:
            log.warning("the engine did not stop within %g s of a cancel", self._grace_s)
            self._ended_after_cancel(child, "stopping")
        finally:
            if child.busy and self._child is child:   # interrupted while draining
                self.close()

    def _crashed(self, child: _Child, during: str, hung: bool = False) -> EngineCrashedError:
        loading = child.busy == hp.LOAD
        if self._child is child:
            self._child, self._loaded = None, None
        if hung:
            log.error("engine process %s showed no sign of life for %g s while %s",
                      child.proc.pid, self._hang_s, during)
            return child.proc.crashed(
                lambda ended: f"The engine stopped responding (no sign of life for "
                              f"{self._hang_s:g} s) while {during} and was ended ({ended}). "
                              f"{LOAD_ADVICE if loading else self._advice}", patience_s=0)
        log.error("engine process %s stopped while %s", child.proc.pid, during)
        servers, self._rpc_servers = self._rpc_servers, ()
        return child.proc.crashed(
            lambda ended: f"The engine stopped unexpectedly ({ended}) while {during}. "
                          f"{rpc_trouble(servers)}{LOAD_ADVICE if loading else self._advice}")

    def _ended_after_cancel(self, child: _Child, during: str) -> BaseException:
        """End an engine that ignored a cancel: Cancelled where nothing was loaded (a load),
        EngineCrashedError where the loaded model went with it."""
        lost = self._loaded is not None and child.busy != hp.LOAD
        if self._child is child:
            self._child, self._loaded = None, None
        ended = child.proc.stop(0, TERM_S)
        log.warning("engine process %s did not stop within %g s of a cancel while %s; "
                    "ended (%s)", child.proc.pid, self._grace_s, during, ended)
        if not lost:
            return Cancelled(f"{during} cancelled (the engine did not stop in time and was "
                             f"ended)")
        return EngineCrashedError(
            f"The engine did not stop within {self._grace_s:g} s of the cancel while {during}, "
            f"so it was ended ({ended}). {self._advice}", exit_signal=ended.signal_name)


class _CancelWatch:
    """What a wait runs between polls: the caller's cancel reaches the child's shared flag, and
    `grace_s` after it, a request still running raises _StuckAfterCancel."""

    def __init__(self, cancel: CancelToken | None, flag: hp.SharedCancel,
                 grace_s: float) -> None:
        self._cancel = cancel
        self._flag = flag
        self._grace_s = grace_s
        self._since: float | None = None

    def __call__(self) -> None:
        if self._cancel is None or not self._cancel.cancelled:
            return
        now = time.monotonic()
        if self._since is None:
            self._since = now
            self._flag.cancel()
        elif now - self._since >= self._grace_s:
            raise _StuckAfterCancel()


def _notify(callback: Callable[[Any], None] | None, value: Any) -> None:
    if callback is None:
        return
    try:
        callback(value)
    except Exception:      # a failing observer must not break the engine's conversation
        log.exception("a progress callback failed")
