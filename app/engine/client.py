"""EngineClient: the GUI thread's handle on the EngineWorker (never blocks on it).

It owns the worker's QThread, connects every request and result explicitly queued, remembers
what is in flight, and routes one generation's results to the handlers of whoever started it.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import QCoreApplication, QObject, Qt, QThread, Signal

from app.engine.perplexity_job import PerplexityHandlers, PerplexityOptions
from app.engine.worker import EngineFactory, EngineWorker, LoadSpec, ModelResolver, default_resolver
from inference.common.cancel import CancelToken
from inference.engine.api import LoadedModel, RenderedPrompt
from inference.engine.events import Finished
from inference.engine.metrics import GenerationStats
from inference.engine.requests import GenerationRequest

Q = Qt.ConnectionType.QueuedConnection


def _ignore(*_: Any) -> None:
    return None


@dataclass
class GenerationHandlers:
    """Callbacks for one generation, all called on the GUI thread."""

    on_tokens: Callable[[str], None] = _ignore
    on_finished: Callable[[Finished], None] = _ignore
    on_failed: Callable[[str], None] = _ignore
    on_crashed: Callable[[str], None] = _ignore
    on_stats: Callable[[GenerationStats], None] = _ignore
    on_rendered: Callable[[RenderedPrompt], None] = _ignore


class EngineClient(QObject):
    stateChanged = Signal(str)  # idle | loading | generating | measuring | unloaded | crashed
    loadProgress = Signal(float)
    perplexityProgress = Signal(int, int, object)  # tokens done, total, ETA s (or None)
    modelLoaded = Signal(object)        # LoadedModel
    modelUnloaded = Signal()
    loadFailed = Signal(str)
    engineCrashed = Signal(str)
    liveStats = Signal(object)          # GenerationStats, while a reply streams
    generationStarted = Signal(object)  # RenderedPrompt
    generationFinished = Signal(object)  # Finished

    def __init__(self, factory: EngineFactory, resolver: ModelResolver = default_resolver,
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._thread = QThread()
        self._thread.setObjectName("EngineWorker")
        self._worker = EngineWorker(factory, resolver)
        self._worker.moveToThread(self._thread)
        self._state = "unloaded"
        self._loaded: LoadedModel | None = None
        self._spec: LoadSpec | None = None
        self._pid = 0
        self._cancel = CancelToken()
        self._handlers = GenerationHandlers()
        self._ppl = PerplexityHandlers()
        self._tags = itertools.count(1)
        self._render_callbacks: dict[int, Callable[[Any], None]] = {}   # render and count
        self._closed = False
        w = self._worker
        w.loadRequested.connect(w.on_load, Q)
        w.unloadRequested.connect(w.on_unload, Q)
        w.generateRequested.connect(w.on_generate, Q)
        w.renderRequested.connect(w.on_render, Q)
        w.perplexityRequested.connect(w.on_perplexity, Q)
        w.countRequested.connect(w.on_count, Q)
        w.shutdownRequested.connect(w.on_shutdown, Q)
        w.loadProgress.connect(self.loadProgress, Q)
        w.loaded.connect(self._on_loaded, Q)
        w.loadCancelled.connect(self._on_load_cancelled, Q)
        w.unloaded.connect(self._on_unloaded, Q)
        w.promptRendered.connect(self._on_prompt_rendered, Q)
        w.tokensReceived.connect(self._on_tokens, Q)
        w.statsUpdated.connect(self._on_stats, Q)
        w.finished.connect(self._on_finished, Q)
        w.failed.connect(self._on_failed, Q)
        w.crashed.connect(self._on_crashed, Q)
        w.rendered.connect(self._on_rendered, Q)
        w.renderFailed.connect(self._on_render_failed, Q)
        w.counted.connect(self._on_rendered, Q)
        w.countFailed.connect(self._on_render_failed, Q)
        w.perplexityProgress.connect(self.perplexityProgress, Q)
        w.perplexityFinished.connect(self._on_ppl_finished, Q)
        w.perplexityCancelled.connect(self._on_ppl_cancelled, Q)
        w.perplexityFailed.connect(self._on_ppl_failed, Q)
        self._thread.start()

    # -- state -------------------------------------------------------------------------------
    @property
    def state(self) -> str:
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
        return self._state in ("loading", "generating", "measuring")

    @property
    def generating(self) -> bool:
        return self._state == "generating"

    def _set_state(self, state: str) -> None:
        if state != self._state:
            self._state = state
            self.stateChanged.emit(state)

    # -- requests ----------------------------------------------------------------------------
    def load(self, spec: LoadSpec) -> bool:
        if self.busy or self._closed:
            return False
        self._spec = spec
        self._cancel = CancelToken()
        self._set_state("loading")
        self._worker.loadRequested.emit(spec, self._cancel)
        return True

    def unload(self) -> bool:
        if self.busy or self._closed:
            return False
        self._worker.unloadRequested.emit()
        return True

    def generate(self, request: GenerationRequest, handlers: GenerationHandlers) -> bool:
        if self._state != "idle" or self._closed:
            return False
        self._handlers = handlers
        self._cancel = CancelToken()
        self._set_state("generating")
        self._worker.generateRequested.emit(request, self._cancel)
        return True

    def perplexity(self, text: str, options: PerplexityOptions,
                   handlers: PerplexityHandlers) -> bool:
        """Measure perplexity of `text` with the loaded model; False when busy or unloaded."""
        if self._state != "idle" or self._closed:
            return False
        self._ppl = handlers
        self._cancel = CancelToken()
        self._set_state("measuring")
        self._worker.perplexityRequested.emit(text, options, self._cancel)
        return True

    def count_tokens(self, text: str, callback: Callable[[int | str], None]) -> None:
        """Tokenize `text` on the worker; `callback` gets the token count or an error message."""
        tag = next(self._tags)
        self._render_callbacks[tag] = callback
        self._worker.countRequested.emit(text, tag)

    def stop(self) -> None:
        """Stop the running load, generation or perplexity; thread-safe, takes effect soon."""
        self._cancel.cancel()

    def render(self, request: GenerationRequest,
               callback: Callable[[RenderedPrompt | str], None]) -> None:
        """Ask for the exact prompt; `callback` gets a RenderedPrompt or an error message."""
        tag = next(self._tags)
        self._render_callbacks[tag] = callback
        self._worker.renderRequested.emit(request, tag)

    def shutdown(self, timeout_ms: int = 10_000) -> None:
        """Stop what runs, close the engine on its thread and wait for the thread to end."""
        if self._closed:
            return
        self._closed = True
        self._cancel.cancel()
        self._worker.shutdownRequested.emit()
        if not self._thread.wait(timeout_ms):
            self._thread.quit()
            self._thread.wait(2000)
        # deliver (and so drop: we are closed) the worker's last queued results now, so none
        # is left in the event queue when the interpreter shuts down
        QCoreApplication.sendPostedEvents(self)

    # -- results (GUI thread) ----------------------------------------------------------------
    def _on_loaded(self, info: LoadedModel, pid: int) -> None:
        if self._closed:
            return
        self._loaded = info
        self._pid = pid
        self._set_state("idle")
        self.modelLoaded.emit(info)

    def _on_load_cancelled(self) -> None:
        if self._closed:
            return
        self._set_state("idle" if self._loaded else "unloaded")

    def _on_unloaded(self) -> None:
        if self._closed:
            return
        self._loaded = None
        self._set_state("unloaded")
        self.modelUnloaded.emit()

    def _on_prompt_rendered(self, rendered: RenderedPrompt) -> None:
        if self._closed:
            return
        self._handlers.on_rendered(rendered)
        self.generationStarted.emit(rendered)

    def _on_tokens(self, text: str) -> None:
        if self._closed:
            return
        self._handlers.on_tokens(text)

    def _on_stats(self, stats: GenerationStats) -> None:
        if self._closed:
            return
        self._handlers.on_stats(stats)
        self.liveStats.emit(stats)

    def _on_finished(self, finished: Finished) -> None:
        if self._closed:
            return
        handlers, self._handlers = self._handlers, GenerationHandlers()
        self._set_state("idle" if self._loaded else "unloaded")
        handlers.on_finished(finished)
        self.generationFinished.emit(finished)

    def _on_failed(self, message: str) -> None:
        if self._closed:
            return
        if self._state == "loading":
            self._loaded = None
            self._set_state("unloaded")
            self.loadFailed.emit(message)
            return
        handlers, self._handlers = self._handlers, GenerationHandlers()
        self._set_state("idle" if self._loaded else "unloaded")
        handlers.on_failed(message)

    def _on_ppl_finished(self, result: Any) -> None:
        self._ppl_ended().on_finished(result)

    def _on_ppl_cancelled(self) -> None:
        self._ppl_ended().on_cancelled()

    def _on_ppl_failed(self, message: str) -> None:
        self._ppl_ended().on_failed(message)

    def _ppl_ended(self) -> PerplexityHandlers:
        """The finished run's handlers (no-op ones once closed); the client is idle again."""
        handlers, self._ppl = self._ppl, PerplexityHandlers()
        if self._closed:
            return PerplexityHandlers()
        self._set_state("idle" if self._loaded else "unloaded")
        return handlers

    def _on_crashed(self, message: str) -> None:
        if self._closed:
            return
        handlers, self._handlers = self._handlers, GenerationHandlers()
        ppl = self._ppl if self._state == "measuring" else PerplexityHandlers()
        self._ppl = PerplexityHandlers()
        was_generating = self._state == "generating"
        self._loaded = None
        self._set_state("crashed")
        ppl.on_failed(message)                 # does nothing unless perplexity was running
        if was_generating:
            handlers.on_crashed(message)
        self.engineCrashed.emit(message)

    def _on_rendered(self, tag: int, rendered: RenderedPrompt) -> None:
        if self._closed:
            return
        callback = self._render_callbacks.pop(tag, None)
        if callback:
            callback(rendered)

    def _on_render_failed(self, tag: int, message: str) -> None:
        if self._closed:
            return
        callback = self._render_callbacks.pop(tag, None)
        if callback:
            callback(message)
