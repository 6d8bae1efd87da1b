"""EngineWorker: the engine's only client, living on its own QThread.

Requests arrive as queued signals; results leave as signals the GUI receives queued. A stop is a
`CancelToken` the GUI thread sets directly (a queued "stop" would wait behind the generation
loop). Token pieces are coalesced here and paced by a `StreamPacer`: at most one update every
~30 ms, fewer when the GUI's share of the CPU while streaming would slow the engine down.
Perplexity progress is throttled to at most 10 updates a second.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import QObject, QThread, Signal, Slot

from app.engine.pacing import PacingSettings, StreamPacer
from app.engine.perplexity_job import PerplexityOptions
from app.engine.throttle import Throttle
from inference.common.cancel import CancelToken
from inference.common.errors import Cancelled, EngineCrashedError, NoModelLoadedError, ParleyError
from inference.engine.api import EngineAPI
from inference.engine.config import ModelConfig
from inference.engine.events import Finished, FinishReason, TokenEvent
from inference.engine.metrics import GenerationStats
from inference.engine.requests import GenerationRequest

log = logging.getLogger(__name__)

EngineFactory = Callable[[], EngineAPI]
ModelResolver = Callable[[str], Path]
STARTER = "starter"
PROGRESS_EVERY_S = 0.1


@dataclass(frozen=True)
class LoadSpec:
    """What the GUI asks to load: a path (or "starter") and the context/offload settings."""

    model: str
    n_ctx: int = 4096
    n_gpu_layers: int = 0
    n_threads: int = 0


def default_resolver(choice: str) -> Path:
    """A model path as given, or the bundled starter model (assembled once into the models dir)."""
    from inference.library.starter import resolve_model

    return resolve_model(choice)


class EngineWorker(QObject):
    # requests (GUI → worker); connect only with Qt.QueuedConnection
    loadRequested = Signal(object, object)          # LoadSpec, CancelToken
    unloadRequested = Signal()
    generateRequested = Signal(object, object)      # GenerationRequest, CancelToken
    renderRequested = Signal(object, int)           # GenerationRequest, tag
    perplexityRequested = Signal(str, object, object)  # text, PerplexityOptions, CancelToken
    countRequested = Signal(str, int)               # text, tag: how many tokens is it?
    shutdownRequested = Signal()
    # results (worker → GUI)
    loadProgress = Signal(float)
    loaded = Signal(object, int)                    # LoadedModel, pid of the engine's process
    loadCancelled = Signal()
    unloaded = Signal()
    promptRendered = Signal(object)                 # RenderedPrompt of the running generation
    tokensReceived = Signal(str)
    statsUpdated = Signal(object)                   # GenerationStats, live snapshot
    finished = Signal(object)                       # Finished
    failed = Signal(str)                            # load or generate failed: the user message
    crashed = Signal(str)                           # the engine process died
    rendered = Signal(int, object)                  # tag, RenderedPrompt
    renderFailed = Signal(int, str)
    perplexityProgress = Signal(int, int, object)   # tokens done, total, ETA s (or None)
    perplexityFinished = Signal(object)             # PerplexityResult
    perplexityCancelled = Signal()
    perplexityFailed = Signal(str)                  # the user message
    counted = Signal(int, int)                      # tag, tokens (BOS included)
    countFailed = Signal(int, str)
    closed = Signal()

    def __init__(self, factory: EngineFactory, resolver: ModelResolver = default_resolver,
                 pacing: PacingSettings | None = None) -> None:
        super().__init__()
        self._factory = factory
        self._resolver = resolver
        self.pacer = StreamPacer(pacing)
        self._engine: EngineAPI | None = None

    # -- slots (worker thread) ---------------------------------------------------------------
    @Slot(object, object)
    def on_load(self, spec: LoadSpec, cancel: CancelToken) -> None:
        try:
            path = self._resolver(spec.model)
            config = ModelConfig(path=path, n_ctx=spec.n_ctx, n_gpu_layers=spec.n_gpu_layers,
                                 n_threads=spec.n_threads)
            engine = self._ensure_engine()
            info = engine.load(config, progress=self.loadProgress.emit, cancel=cancel)
            self.loaded.emit(info, int(getattr(engine, "pid", None) or os.getpid()))
        except Cancelled:
            self.loadCancelled.emit()
        except EngineCrashedError as err:
            self._lost_engine(str(err))
        except ParleyError as err:
            self.failed.emit(str(err))
        except FileNotFoundError as err:
            self.failed.emit(f"Model file not found: {err.filename or err}")
        except Exception as err:  # never a traceback in the window
            log.exception("load failed")
            self.failed.emit(f"Could not load the model: {err}")

    @Slot()
    def on_unload(self) -> None:
        try:
            if self._engine is not None:
                self._engine.unload()
        except EngineCrashedError as err:
            self._lost_engine(str(err))
            return
        except Exception:
            log.exception("unload failed")
        self.unloaded.emit()

    @Slot(object, object)
    def on_generate(self, request: GenerationRequest, cancel: CancelToken) -> None:
        engine = self._engine
        try:
            if engine is None or engine.loaded is None:
                raise NoModelLoadedError()
            self._stream(engine, request, cancel)
        except EngineCrashedError as err:
            self._lost_engine(str(err))
        except ParleyError as err:
            self.failed.emit(str(err))
        except Exception as err:
            log.exception("generation failed")
            self.failed.emit(f"Generation failed: {err}")

    @Slot(object, int)
    def on_render(self, request: GenerationRequest, tag: int) -> None:
        try:
            if self._engine is None or self._engine.loaded is None:
                raise NoModelLoadedError()
            self.rendered.emit(tag, self._engine.render(request))
        except EngineCrashedError as err:
            self._lost_engine(str(err))
            self.renderFailed.emit(tag, str(err))
        except Exception as err:
            self.renderFailed.emit(tag, str(err))

    @Slot(str, object, object)
    def on_perplexity(self, text: str, options: PerplexityOptions, cancel: CancelToken) -> None:
        engine = self._engine
        progress = Throttle(self.perplexityProgress.emit, PROGRESS_EVERY_S)
        try:
            if engine is None or engine.loaded is None:
                raise NoModelLoadedError()
            result = engine.perplexity(text, n_ctx=options.n_ctx, n_batch=options.n_batch,
                                       mode=options.mode, per_token=options.per_token,
                                       progress=progress, cancel=cancel)
        except Cancelled:
            self.perplexityCancelled.emit()
            return
        except EngineCrashedError as err:
            self._lost_engine(str(err))
            return
        except ParleyError as err:
            self.perplexityFailed.emit(str(err))
            return
        except Exception as err:
            log.exception("perplexity failed")
            self.perplexityFailed.emit(f"Perplexity failed: {err}")
            return
        progress.flush()
        self.perplexityFinished.emit(result)

    @Slot(str, int)
    def on_count(self, text: str, tag: int) -> None:
        try:
            if self._engine is None or self._engine.loaded is None:
                raise NoModelLoadedError()
            self.counted.emit(tag, len(self._engine.tokenize(text, True)))
        except EngineCrashedError as err:
            self._lost_engine(str(err))
            self.countFailed.emit(tag, str(err))
        except Exception as err:
            self.countFailed.emit(tag, str(err))

    @Slot()
    def on_shutdown(self) -> None:
        if self._engine is not None:
            try:
                self._engine.close()
            except Exception:
                log.exception("closing the engine failed")
            self._engine = None
        self.closed.emit()
        thread = QThread.currentThread()
        if thread is not None:
            thread.quit()

    # -- internals ---------------------------------------------------------------------------
    def _ensure_engine(self) -> EngineAPI:
        if self._engine is None:
            self._engine = self._factory()
        return self._engine

    def _lost_engine(self, message: str) -> None:
        engine, self._engine = self._engine, None
        if engine is not None:
            try:
                engine.close()
            except Exception:
                log.debug("closing a crashed engine failed", exc_info=True)
        self.crashed.emit(message)

    def _stream(self, engine: EngineAPI, request: GenerationRequest,
                cancel: CancelToken) -> None:
        loaded = engine.loaded
        n_ctx = loaded.n_ctx if loaded else 0
        t0 = time.perf_counter()
        rendered = engine.render(request)
        self.promptRendered.emit(rendered)
        pending: list[str] = []
        text: list[str] = []
        first: float | None = None
        last_token = t0
        count = 0
        pacer = self.pacer
        pacer.start()
        engine_stats: GenerationStats | None = None
        try:
            for event in engine.generate(request, cancel):
                if isinstance(event, Finished):
                    self._flush(pending)
                    self.finished.emit(event)
                    return
                if not isinstance(event, TokenEvent):
                    continue
                now = time.perf_counter()
                first = now if first is None else first
                last_token = now
                count = event.index + 1
                pending.append(event.text)
                text.append(event.text)
                engine_stats = getattr(event, "stats", None) or engine_stats
                if pacer.due():
                    self._flush(pending)
                    self.statsUpdated.emit(engine_stats or _live_stats(
                        rendered.prompt_tokens, count, t0, first, last_token, n_ctx))
                    pacer.sent()
        except Cancelled:
            pass
        # the engine ended without a Finished event (it raised Cancelled instead)
        self._flush(pending)
        stats = GenerationStats(prompt_tokens=rendered.prompt_tokens, output_tokens=count,
                                n_ctx=n_ctx, total_s=time.perf_counter() - t0)
        reason = FinishReason.CANCELLED if cancel.cancelled else FinishReason.STOP
        self.finished.emit(Finished(reason, "".join(text), stats, prompt=rendered.text,
                                    template=rendered.template))

    def _flush(self, pending: list[str]) -> None:
        if pending:
            self.tokensReceived.emit("".join(pending))
            pending.clear()


def _live_stats(prompt_tokens: int, count: int, t0: float, first: float, last: float,
                n_ctx: int) -> GenerationStats:
    """Live figures measured here when the engine attaches none to its token events."""
    ttft = first - t0
    tpot = (last - first) / (count - 1) if count > 1 else None
    return GenerationStats(
        prompt_tokens=prompt_tokens, output_tokens=count, ttft_s=ttft,
        prefill_tps=prompt_tokens / ttft if ttft > 0 and prompt_tokens else None,
        tpot_s=tpot, gen_tps=1.0 / tpot if tpot else None, total_s=last - t0, n_ctx=n_ctx,
        context_tokens=prompt_tokens + count)
