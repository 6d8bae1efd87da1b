"""EngineWorker: the engine's only user. Its methods are the bodies of the jobs EngineClient runs,
one at a time, on the engine's one long-lived thread (a `JobThread`); it knows nothing of Qt.

A stop is the request's CancelToken, set directly by the GUI thread. A generation is a generator:
it yields the rendered prompt (the engine's first event), then the text pieces coalesced and
paced by a `StreamPacer` (at most one update every ~30 ms, fewer when the GUI's share of the CPU
while streaming would slow the engine down) each followed by live stats, and returns the
`Finished`; while the prompt is evaluated, before the first token, it yields how far that has
got (`PrefillUpdate`). The answer's text comes as `str`, a reasoning model's thinking as
`ReasoningPiece` (never both in one update, in the order the engine sent them). Perplexity
progress is throttled to at most 10 updates a second. An `EngineCrashedError` drops the dead
engine here, on its thread, and goes on up to the client.
"""

from __future__ import annotations

import contextlib
import logging
import os
import time
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from app.engine.pacing import PacingSettings, StreamPacer
from app.engine.perplexity_job import PerplexityOptions
from app.engine.throttle import Throttle
from inference.common.cancel import CancelToken
from inference.common.errors import (
    Cancelled,
    EngineCrashedError,
    ModelLoadError,
    NoModelLoadedError,
    ParleyError,
)
from inference.engine.api import EngineAPI, LoadedModel, RenderedPrompt
from inference.engine.config import ModelConfig
from inference.engine.events import (
    Finished,
    FinishReason,
    PrefillProgress,
    PromptRendered,
    TokenEvent,
)
from inference.engine.metrics import GenerationStats
from inference.engine.requests import GenerationRequest
from inference.engine.template_source import TemplateSource
from inference.remote.busy import ServerBusy
from inference.remote.endpoint import RemoteEndpoint
from inference.remote.engine import RemoteEngine, remote_config

if TYPE_CHECKING:
    from inference.perplexity.measure import PerplexityResult

log = logging.getLogger(__name__)

EngineFactory = Callable[[], EngineAPI]
ModelResolver = Callable[[str], Path]
Progress = Callable[[object], None]
STARTER = "starter"
PROGRESS_EVERY_S = 0.1


@dataclass(frozen=True)
class ReasoningPiece:
    """Thinking text as a generation yields it (the answer's text comes as plain `str`), with
    how far the thinking has got: output tokens up to the end of this piece, and seconds from
    the reply's first token to this piece's last token."""

    text: str
    tokens: int
    seconds: float


@dataclass(frozen=True)
class PrefillUpdate:
    """Prefill progress as a generation yields it to the GUI, before the first token."""

    done: int
    total: int


StreamUpdate = (RenderedPrompt | str | ReasoningPiece | GenerationStats | PrefillUpdate
                | ServerBusy)


@dataclass(frozen=True)
class LoadSpec:
    """What the GUI asks to load: a path (or "starter"), the context/offload settings and
    which chat template to use; or, with `remote`, the model of a remote engine (the local
    settings do not apply to it)."""

    model: str
    n_ctx: int = 4096
    n_gpu_layers: int = 0
    n_threads: int = 0
    template: TemplateSource = TemplateSource()
    rpc_servers: tuple[str, ...] = ()      # llama.cpp rpc-servers holding offloaded layers
    remote: RemoteEndpoint | None = None
    speculative: str = "off"               # speculative decoding (ModelConfig's three fields)
    draft_model: Path | None = None
    draft_max: int = ModelConfig.draft_max


def default_resolver(choice: str) -> Path:
    """A model path as given, or the bundled starter model (assembled once into the models dir)."""
    from inference.library.starter import resolve_model

    return resolve_model(choice)


class EngineWorker:
    """Owns the engine (made by `factory` on the first load); call it from one thread only."""

    def __init__(self, factory: EngineFactory, resolver: ModelResolver = default_resolver,
                 pacing: PacingSettings | None = None) -> None:
        self._factory = factory
        self._resolver = resolver
        self.pacer = StreamPacer(pacing)
        self._engine: EngineAPI | None = None

    def load(self, spec: LoadSpec, cancel: CancelToken,
             progress: Progress) -> tuple[LoadedModel, int]:
        """The loaded model and the pid of the engine's process (0 for a remote engine, whose
        process is not on this computer)."""
        if spec.remote is not None:
            engine = self._ensure_engine(spec.remote)
            with self._watch():
                info = engine.load(remote_config(spec.remote, spec.model), progress=progress,
                                   cancel=cancel)
            return info, 0
        try:
            path = self._resolver(spec.model)
            config = ModelConfig(path=path, n_ctx=spec.n_ctx, n_gpu_layers=spec.n_gpu_layers,
                                 n_threads=spec.n_threads, template=spec.template,
                                 rpc_servers=spec.rpc_servers,
                                 speculative=spec.speculative, draft_model=spec.draft_model,
                                 draft_max=spec.draft_max)
            engine = self._ensure_engine()
            with self._watch():
                info = engine.load(config, progress=progress, cancel=cancel)
        except FileNotFoundError as err:
            if isinstance(err, ParleyError):
                raise
            raise ModelLoadError(f"Model file not found: {err.filename or err}") from err
        return info, int(getattr(engine, "pid", None) or os.getpid())

    def unload(self) -> None:
        """Unload the model; only a crash is an error (anything else is logged)."""
        if self._engine is None:
            return
        try:
            with self._watch():
                self._engine.unload()
        except EngineCrashedError:
            raise
        except Exception:
            log.exception("unload failed")

    def generate(self, request: GenerationRequest,
                 cancel: CancelToken) -> Generator[StreamUpdate, None, Finished]:
        engine = self._require()
        with self._watch():
            return (yield from self._stream(engine, request, cancel))

    def render(self, request: GenerationRequest) -> RenderedPrompt:
        engine = self._require()
        with self._watch():
            return engine.render(request)

    def count(self, text: str) -> int:
        """How many tokens `text` is (BOS included)."""
        engine = self._require()
        with self._watch():
            return len(engine.tokenize(text, True))

    def perplexity(self, text: str, options: PerplexityOptions, cancel: CancelToken,
                   progress: Progress) -> PerplexityResult:
        """Progress goes out as (tokens done, total, ETA s or None) tuples."""
        engine = self._require()
        throttled = Throttle(lambda *step: progress(step), PROGRESS_EVERY_S)
        with self._watch():
            result = engine.perplexity(text, n_ctx=options.n_ctx, n_batch=options.n_batch,
                                       mode=options.mode, per_token=options.per_token,
                                       progress=throttled, cancel=cancel)
        throttled.flush()
        return result

    def close(self) -> None:
        """Close the engine (its process, when it has one)."""
        engine, self._engine = self._engine, None
        if engine is not None:
            try:
                engine.close()
            except Exception:
                log.exception("closing the engine failed")

    # -- internals ---------------------------------------------------------------------------
    def _ensure_engine(self, remote: RemoteEndpoint | None = None) -> EngineAPI:
        """The engine for this load: the local one (made by the factory), or a RemoteEngine
        for `remote`. Switching between them closes the other (a local model's memory is
        freed while a remote engine answers)."""
        current = self._engine
        is_remote = isinstance(current, RemoteEngine)
        if current is not None and (is_remote != (remote is not None) or (
                remote is not None and isinstance(current, RemoteEngine)
                and current.endpoint != remote)):
            self.close()
        if self._engine is None:
            self._engine = RemoteEngine(remote) if remote is not None else self._factory()
        return self._engine

    def _require(self) -> EngineAPI:
        if self._engine is None or self._engine.loaded is None:
            raise NoModelLoadedError()
        return self._engine

    @contextlib.contextmanager
    def _watch(self) -> Iterator[None]:
        """A crashed engine is closed and dropped (the next load makes a new one)."""
        try:
            yield
        except EngineCrashedError:
            engine, self._engine = self._engine, None
            if engine is not None:
                try:
                    engine.close()
                except Exception:
                    log.debug("closing a crashed engine failed", exc_info=True)
            raise

    def _stream(self, engine: EngineAPI, request: GenerationRequest,
                cancel: CancelToken) -> Generator[StreamUpdate, None, Finished]:
        loaded = engine.loaded
        n_ctx = loaded.n_ctx if loaded else 0
        t0 = time.perf_counter()
        rendered = RenderedPrompt("", "", 0)
        pending = _Pending()
        first: float | None = None
        last_token = t0
        count = 0
        pacer = self.pacer
        pacer.start()
        engine_stats: GenerationStats | None = None
        try:
            for event in engine.generate(request, cancel):
                if isinstance(event, PromptRendered):
                    rendered = event.prompt
                    yield rendered
                    continue
                if isinstance(event, Finished):
                    yield from pending.flush()
                    return event
                if not isinstance(event, TokenEvent):
                    if isinstance(event, PrefillProgress) and first is None:
                        yield PrefillUpdate(int(event.done), int(event.total))
                    elif isinstance(event, ServerBusy):    # a remote engine waits, and says so
                        yield event
                    continue
                now = time.perf_counter()
                first = now if first is None else first
                last_token = now
                count = event.index + 1
                yield from pending.add(event, now - first)
                engine_stats = event.stats or engine_stats
                if pacer.due():
                    yield from pending.flush()
                    yield engine_stats or _live_stats(
                        rendered.prompt_tokens, count, t0, first, last_token, n_ctx)
                    pacer.sent()
        except Cancelled:
            pass
        # the engine ended without a Finished event (it raised Cancelled instead)
        yield from pending.flush()
        stats = GenerationStats(prompt_tokens=rendered.prompt_tokens, output_tokens=count,
                                n_ctx=n_ctx, total_s=time.perf_counter() - t0)
        reason = FinishReason.CANCELLED if cancel.cancelled else FinishReason.STOP
        return Finished(reason, "".join(pending.answer), stats, prompt=rendered.text,
                        template=rendered.template, reasoning="".join(pending.reasoning))


class _Pending:
    """Token text not sent yet, coalesced into one update per kind (answer or thinking): a
    change of kind sends what is pending first, so the GUI gets the pieces in order."""

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.thinking = False          # the kind of the pending parts
        self.tokens = 0                # of the last thinking token so far
        self.seconds = 0.0
        self.answer: list[str] = []    # everything, kept for a reply that ends without Finished
        self.reasoning: list[str] = []

    def add(self, event: TokenEvent, since_first: float) -> Iterator[StreamUpdate]:
        """Take one token event; yields what was pending when its kind differs."""
        if event.reasoning != self.thinking:
            yield from self.flush()
            self.thinking = event.reasoning
        self.parts.append(event.text)
        if event.reasoning:
            self.reasoning.append(event.text)
            self.tokens, self.seconds = event.index + 1, since_first
        else:
            self.answer.append(event.text)

    def flush(self) -> Iterator[StreamUpdate]:
        """The pending parts as one update (none when there are none)."""
        if self.parts:
            text = "".join(self.parts)
            self.parts.clear()
            yield ReasoningPiece(text, self.tokens, self.seconds) if self.thinking else text


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
