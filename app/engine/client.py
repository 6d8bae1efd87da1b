"""EngineClient: the GUI thread's handle on the engine (never blocks on it).

Every request is a job (app.engine.jobs) whose body is an EngineWorker method, run on the
engine's one long-lived thread; the client remembers what is in flight, keeps the `ClientState`,
and routes one generation's results to the handlers of whoever started it. A job that hits an
EngineCrashedError ends the same way whatever it was: the state becomes CRASHED.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from typing import Any

from PySide6.QtCore import QObject, Signal

from app.engine.jobs import Job, JobThread, Work, failure_message
from app.engine.perplexity_job import PerplexityHandlers, PerplexityOptions
from app.engine.worker import (
    EngineFactory,
    EngineWorker,
    LoadSpec,
    ModelResolver,
    PrefillUpdate,
    ReasoningPiece,
    default_resolver,
)
from inference.common.cancel import CancelToken
from inference.common.errors import EngineCrashedError
from inference.engine.api import LoadedModel, RenderedPrompt
from inference.engine.events import Finished
from inference.engine.metrics import GenerationStats
from inference.engine.requests import GenerationRequest
from inference.remote.busy import ServerBusy


def _ignore(*_: Any) -> None:
    return None


class ClientState(str, Enum):
    """What the engine is doing, as the GUI sees it."""

    IDLE = "idle"                  # a model is loaded, nothing runs
    LOADING = "loading"
    GENERATING = "generating"
    MEASURING = "measuring"        # perplexity
    UNLOADED = "unloaded"
    CRASHED = "crashed"            # the engine process died; a load starts a new one

    @property
    def busy(self) -> bool:
        return self in (ClientState.LOADING, ClientState.GENERATING, ClientState.MEASURING)


@dataclass
class GenerationHandlers:
    """Callbacks for one generation, all called on the GUI thread."""

    on_tokens: Callable[[str], None] = _ignore                  # the answer's text
    on_reasoning: Callable[[ReasoningPiece], None] = _ignore    # the thinking's
    on_finished: Callable[[Finished], None] = _ignore
    on_failed: Callable[[str], None] = _ignore
    on_crashed: Callable[[str], None] = _ignore
    on_stats: Callable[[GenerationStats], None] = _ignore
    on_rendered: Callable[[RenderedPrompt], None] = _ignore


class EngineClient(QObject):
    stateChanged = Signal(object)       # ClientState
    loadProgress = Signal(float)
    perplexityProgress = Signal(int, int, object)  # tokens done, total, ETA s (or None)
    modelLoaded = Signal(object)        # LoadedModel
    modelUnloaded = Signal()
    loadFailed = Signal(str)
    engineCrashed = Signal(str)
    liveStats = Signal(object)          # GenerationStats, while a reply streams
    prefillProgress = Signal(int, int)  # prompt tokens evaluated, of those to evaluate
    generationStarted = Signal(object)  # RenderedPrompt
    generationFinished = Signal(object)  # Finished
    serverBusy = Signal(str)            # a remote engine's server is busy: what Parley waits

    def __init__(self, factory: EngineFactory, resolver: ModelResolver = default_resolver,
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._jobs = JobThread("EngineWorker", self)
        self._worker = EngineWorker(factory, resolver)
        self._state = ClientState.UNLOADED
        self._loaded: LoadedModel | None = None
        self._spec: LoadSpec | None = None
        self._pid = 0
        self._cancel = CancelToken()
        self._handlers = GenerationHandlers()
        self._ppl = PerplexityHandlers()
        self._closed = False

    # -- state -------------------------------------------------------------------------------
    @property
    def state(self) -> ClientState:
        return self._state

    @property
    def loaded(self) -> LoadedModel | None:
        return self._loaded

    @property
    def last_spec(self) -> LoadSpec | None:
        return self._spec

    @property
    def pid(self) -> int:
        return self._pid

    @property
    def busy(self) -> bool:
        return self._state.busy

    @property
    def generating(self) -> bool:
        return self._state == ClientState.GENERATING

    def _set_state(self, state: ClientState) -> None:
        if state != self._state:
            self._state = ClientState(state)
            self.stateChanged.emit(self._state)

    def _at_rest(self) -> None:
        self._set_state(ClientState.IDLE if self._loaded else ClientState.UNLOADED)

    # -- requests ----------------------------------------------------------------------------
    def load(self, spec: LoadSpec) -> bool:
        if self.busy or self._closed:
            return False
        self._spec = spec
        self._set_state(ClientState.LOADING)
        w = self._worker                        # the jobs hold the worker, never the client
        self._start(lambda ctx: w.load(spec, ctx.token, ctx.report),
                    returned=self._on_loaded, errored=self._on_load_failed,
                    yielded=self.loadProgress.emit, aborted=self._on_load_cancelled)
        return True

    def unload(self) -> bool:
        if self.busy or self._closed:
            return False
        w = self._worker
        self._start(lambda _ctx: w.unload(), returned=self._on_unloaded,
                    errored=self._on_crashed)
        return True

    def generate(self, request: GenerationRequest, handlers: GenerationHandlers) -> bool:
        if self._state != ClientState.IDLE or self._closed:
            return False
        self._handlers = handlers
        self._set_state(ClientState.GENERATING)
        w = self._worker
        self._start(lambda ctx: w.generate(request, ctx.token),
                    yielded=self._on_update, returned=self._on_finished,
                    errored=self._on_generation_failed)
        return True

    def perplexity(self, text: str, options: PerplexityOptions,
                   handlers: PerplexityHandlers) -> bool:
        """Measure perplexity of `text` with the loaded model; False when busy or unloaded."""
        if self._state != ClientState.IDLE or self._closed:
            return False
        self._ppl = handlers
        self._set_state(ClientState.MEASURING)
        w = self._worker
        self._start(lambda ctx: w.perplexity(text, options, ctx.token, ctx.report),
                    yielded=lambda step: self.perplexityProgress.emit(*step),
                    returned=lambda result: self._ppl_ended().on_finished(result),
                    aborted=lambda: self._ppl_ended().on_cancelled(),
                    errored=self._on_ppl_failed)
        return True

    def count_tokens(self, text: str, callback: Callable[[int | str], None]) -> None:
        """Tokenize `text` on the worker; `callback` gets the token count or an error message."""
        w = self._worker
        self._ask(lambda _ctx: w.count(text), callback)

    def render(self, request: GenerationRequest,
               callback: Callable[[RenderedPrompt | str], None]) -> None:
        """Ask for the exact prompt; `callback` gets a RenderedPrompt or an error message."""
        w = self._worker
        self._ask(lambda _ctx: w.render(request), callback)

    def stop(self) -> None:
        """Stop the running load, generation or perplexity; thread-safe, takes effect soon."""
        self._cancel.cancel()

    def shutdown(self, timeout_ms: int = 10_000) -> None:
        """Stop what runs, close the engine on its thread and wait for the thread to end."""
        if self._closed:
            return
        self._closed = True
        self._cancel.cancel()
        w = self._worker
        self._jobs.start(lambda _ctx: w.close())
        self._jobs.shutdown(timeout_ms)       # what the jobs report from now on is dropped

    # -- internals (GUI thread) --------------------------------------------------------------
    def _start(self, work: Work, **callbacks: Any) -> None:
        """Run a job that may be stopped (a load, a generation, a measurement)."""
        job: Job = self._jobs.start(work, **callbacks)
        self._cancel = job.token

    def _ask(self, work: Work, callback: Callable[[Any], None]) -> None:
        """A quick question (render, count): `callback` gets the answer or the error's text."""
        if self._closed:
            return

        def failed(error: BaseException) -> None:
            if isinstance(error, EngineCrashedError):
                self._on_crashed(error)
            callback(str(error))

        self._jobs.start(work, returned=callback, errored=failed)

    def _on_loaded(self, result: tuple[LoadedModel, int]) -> None:
        self._loaded, self._pid = result
        self._set_state(ClientState.IDLE)
        self.modelLoaded.emit(self._loaded)

    def _on_load_failed(self, error: BaseException) -> None:
        if isinstance(error, EngineCrashedError):
            self._on_crashed(error)
            return
        self._loaded = None
        self._set_state(ClientState.UNLOADED)
        self.loadFailed.emit(failure_message(error, "Could not load the model"))

    def _on_load_cancelled(self) -> None:
        """A load that was stopped: `EngineAPI.load` replaces the model first, so none is
        loaded now (the panels must not go on showing the one before)."""
        had = self._loaded is not None
        self._loaded = None
        self._set_state(ClientState.UNLOADED)
        if had:
            self.modelUnloaded.emit()

    def _on_unloaded(self, _result: None) -> None:
        self._loaded = None
        self._set_state(ClientState.UNLOADED)
        self.modelUnloaded.emit()

    def _on_update(self, update: RenderedPrompt | str | ReasoningPiece | GenerationStats
                   | PrefillUpdate) -> None:
        if isinstance(update, RenderedPrompt):
            self._handlers.on_rendered(update)
            self.generationStarted.emit(update)
        elif isinstance(update, GenerationStats):
            self._handlers.on_stats(update)
            self.liveStats.emit(update)
        elif isinstance(update, PrefillUpdate):
            self.prefillProgress.emit(update.done, update.total)
        elif isinstance(update, ServerBusy):
            self.serverBusy.emit(update.describe())
        elif isinstance(update, ReasoningPiece):
            self._handlers.on_reasoning(update)
        else:
            self._handlers.on_tokens(update)

    def _on_finished(self, finished: Finished) -> None:
        handlers, self._handlers = self._handlers, GenerationHandlers()
        self._at_rest()
        handlers.on_finished(finished)
        self.generationFinished.emit(finished)

    def _on_generation_failed(self, error: BaseException) -> None:
        if isinstance(error, EngineCrashedError):
            self._on_crashed(error)
            return
        handlers, self._handlers = self._handlers, GenerationHandlers()
        self._at_rest()
        handlers.on_failed(failure_message(error, "Generation failed"))

    def _on_ppl_failed(self, error: BaseException) -> None:
        if isinstance(error, EngineCrashedError):
            self._on_crashed(error)            # tells the measurement's handlers too
            return
        self._ppl_ended().on_failed(failure_message(error, "Perplexity failed"))

    def _ppl_ended(self) -> PerplexityHandlers:
        """The finished run's handlers; the client is idle again."""
        handlers, self._ppl = self._ppl, PerplexityHandlers()
        self._at_rest()
        return handlers

    def _on_crashed(self, error: BaseException) -> None:
        message = str(error)
        handlers, self._handlers = self._handlers, GenerationHandlers()
        ppl = self._ppl if self._state == ClientState.MEASURING else PerplexityHandlers()
        self._ppl = PerplexityHandlers()
        was_generating = self._state == ClientState.GENERATING
        self._loaded = None
        self._set_state(ClientState.CRASHED)
        ppl.on_failed(message)                 # does nothing unless perplexity was running
        if was_generating:
            handlers.on_crashed(message)
        self.engineCrashed.emit(message)
