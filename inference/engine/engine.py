"""The in-process engine: load a GGUF, build prompts, stream tokens with llama.cpp's own sampler."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass

from inference.common.cancel import CancelToken
from inference.common.errors import (
    GenerationError,
    ModelLoadError,
    NoModelLoadedError,
    UnsupportedArchitectureError,
)
from inference.engine.api import LoadedModel, ProgressCallback, RenderedPrompt
from inference.engine.config import ModelConfig
from inference.engine.events import (
    Finished,
    FinishReason,
    GenerationEvent,
    PromptRendered,
    TokenEvent,
)
from inference.engine.load_checks import check_memory, explain_load_failure
from inference.engine.metrics import StatsClock
from inference.engine.prompts import BuiltPrompt, TemplateChoice, build_prompt
from inference.engine.reasoning import THINK, ReasoningFormat, detect_reasoning
from inference.engine.requests import GenerationRequest, Mode
from inference.engine.sampling import REPEAT_LAST_N
from inference.engine.streaming import ReplyStream
from inference.engine.template_check import template_for
from inference.engine.template_source import TemplateKind
from inference.gguf.file import GGUFInfo, read_gguf
from inference.llama.chunked_tokenize import tokenize_chunked
from inference.llama.native import NativeContext, NativeModel, build_info
from inference.llama.native_log import NATIVE_LOG
from inference.llama.sampler import SamplerChain
from inference.perplexity.measure import PerplexityResult, compute_perplexity
from inference.perplexity.measure import ProgressCallback as PerplexityProgress

LIVE_STATS_EVERY_S = 0.2


@dataclass
class _Session:
    """Everything that lives while one model is loaded."""

    config: ModelConfig
    info: GGUFInfo
    model: NativeModel
    ctx: NativeContext
    template: TemplateChoice
    loaded: LoadedModel
    kv_tokens: list[int]            # the tokens whose keys/values are in the cache, in order

    def close(self) -> None:
        self.ctx.close()
        self.model.close()


class Engine:
    """Implements `EngineAPI` in this process. Use from one thread at a time."""

    def __init__(self) -> None:
        self._session: _Session | None = None

    @property
    def loaded(self) -> LoadedModel | None:
        return self._session.loaded if self._session else None

    # -- loading ----------------------------------------------------------------------------
    def load(self, config: ModelConfig, progress: ProgressCallback | None = None,
             cancel: CancelToken | None = None) -> LoadedModel:
        self.unload()
        started = time.perf_counter()
        info = read_gguf(config.path)               # specific errors before native code runs
        warnings = [*config.warnings(), *check_memory(info, config)]
        mark = NATIVE_LOG.mark()
        try:
            model = NativeModel(config.path, n_gpu_layers=config.n_gpu_layers,
                                use_mmap=config.use_mmap, progress=progress, cancel=cancel)
        except UnsupportedArchitectureError:
            raise
        except ModelLoadError as exc:
            raise explain_load_failure(info, exc, NATIVE_LOG.lines(since=mark)) from exc
        try:
            ctx = NativeContext(model, n_ctx=config.n_ctx, n_batch=config.n_batch,
                                n_ubatch=config.n_ubatch, n_threads=config.threads,
                                flash_attn=config.flash_attn, type_k=config.cache_type_k,
                                type_v=config.cache_type_v)
        except ModelLoadError:
            model.close()
            raise
        template = template_for(info, model, config.template)
        if template.warning:
            warnings.append(template.warning)
        build = build_info()
        loaded = LoadedModel(
            config=config, info=info.to_dict(), n_ctx=ctx.n_ctx, n_ctx_train=model.n_ctx_train,
            template=template.label, gpu_offload=build.gpu_offload, backend=build.backend,
            load_seconds=time.perf_counter() - started, warnings=tuple(warnings))
        self._session = _Session(config, info, model, ctx, template, loaded, [])
        return loaded

    def unload(self) -> None:
        if self._session is not None:
            self._session.close()
            self._session = None

    def close(self) -> None:
        self.unload()

    # -- prompts ----------------------------------------------------------------------------
    def tokenize(self, text: str, add_bos: bool = True) -> list[int]:
        return tokenize_chunked(self._require().model, text, add_special=add_bos)

    def render(self, request: GenerationRequest) -> RenderedPrompt:
        return _rendered(self._build(request))

    def _build(self, request: GenerationRequest,
               cancel: CancelToken | None = None) -> BuiltPrompt:
        s = self._require()
        bos_text = s.model.token_text(s.model.bos) if s.model.add_bos else ""
        return build_prompt(
            request, s.template,
            lambda text, special: tokenize_chunked(s.model, text, add_special=True,
                                                   parse_special=special, cancel=cancel),
            s.ctx.n_ctx, bos_text)

    # -- long jobs --------------------------------------------------------------------------
    def perplexity(self, text: str, *, n_ctx: int = 512, n_batch: int = 2048,
                   mode: str = "auto", per_token: bool = False,
                   progress: PerplexityProgress | None = None,
                   cancel: CancelToken | None = None) -> PerplexityResult:
        """Perplexity of `text` under the loaded model (in a context of its own)."""
        s = self._require()
        return compute_perplexity(s.model, text, n_ctx=n_ctx, n_batch=n_batch, mode=mode,
                                  n_threads=s.config.threads, per_token=per_token,
                                  progress=progress, cancel=cancel)

    # -- generation -------------------------------------------------------------------------
    def generate(self, request: GenerationRequest,
                 cancel: CancelToken | None = None) -> Iterator[GenerationEvent]:
        s = self._require()
        cancel = cancel or CancelToken()
        # docs/ARCHITECTURE.md § Figures: TTFT counts rendering + tokenizing
        started = time.perf_counter()
        built = self._build(request, cancel)
        yield PromptRendered(_rendered(built))
        tokens = built.tokens
        reuse = self._reuse_prefix(s, tokens)
        clock = StatsClock(prompt_tokens=len(tokens), cached_tokens=reuse, n_ctx=s.ctx.n_ctx,
                           t0=started)
        thinking = self._reasoning_format(s, request, built)
        stream = ReplyStream(request.sampling.stop, thinking)
        shown = marker_tokens(s.model, thinking)
        sampler = SamplerChain(s.model, request.sampling, repeat_last_n=REPEAT_LAST_N)
        s.ctx.set_abort(cancel)
        try:
            sampler.accept_prompt(tokens)
            reason = self._prefill(s, tokens, reuse, cancel)
            if reason is None:
                reason = yield from self._decode_loop(s, sampler, stream, clock, cancel, built,
                                                      shown)
        finally:
            s.ctx.set_abort(None)
            sampler.close()
        tail = stream.flush()
        if stream.answer:
            clock.answer_began(stream.thought)
        for piece in tail:
            yield TokenEvent(piece.text, len(clock.token_times) - 1, reasoning=piece.reasoning)
        yield Finished(reason, stream.answer, clock.snapshot(len(s.kv_tokens)), built.text,
                       built.template, built.dropped_turns, built.warnings, stream.reasoning)

    def _reasoning_format(self, s: _Session, request: GenerationRequest,
                          built: BuiltPrompt) -> ReasoningFormat | None:
        """How this reply's thinking is marked; None in Text mode, where the reply continues
        the user's own text and is kept whole."""
        if request.mode is Mode.TEXT:
            return None
        source = s.config.template
        text = source.text if source.kind is TemplateKind.CUSTOM else s.model.chat_template()
        return detect_reasoning(text, built.text) or THINK

    def _reuse_prefix(self, s: _Session, tokens: list[int]) -> int:
        """Keep the longest cached prefix of `tokens` (at least one token is evaluated anew)."""
        cached = s.kv_tokens
        n = 0
        limit = min(len(cached), len(tokens) - 1)
        while n < limit and cached[n] == tokens[n]:
            n += 1
        window = s.model.n_swa
        usable = n > 0 and s.ctx.keep_prefix(n) and (
            window <= 0 or s.ctx.pos_min() <= max(0, n - window))
        if not usable:
            s.ctx.clear()
            n = 0
        del cached[n:]
        return n

    def _prefill(self, s: _Session, tokens: list[int], start: int,
                 cancel: CancelToken) -> FinishReason | None:
        step = s.ctx.n_batch
        for begin in range(start, len(tokens), step):
            chunk = tokens[begin:begin + step]
            last = begin + step >= len(tokens)
            code = s.ctx.decode(chunk, begin, logits="last" if last else "none")
            if code != 0:
                return self._decode_failed(s, code, cancel, begin)
            s.kv_tokens.extend(chunk)
        return None

    def _decode_loop(self, s: _Session, sampler: SamplerChain, stream: ReplyStream,
                     clock: StatsClock, cancel: CancelToken, built: BuiltPrompt,
                     shown: frozenset[int]) -> Iterator[GenerationEvent]:
        model, ctx = s.model, s.ctx
        max_tokens = built.max_tokens
        # The last token allowed fills the context when the cap came from n_ctx.
        at_cap = FinishReason.CONTEXT_FULL if built.context_capped else FinishReason.LENGTH
        next_live = 0.0
        for index in range(max_tokens):
            token = sampler.sample(ctx)
            if model.is_eog(token):
                return FinishReason.STOP
            pieces = stream.feed(model.piece(token, special=token in shown))
            now = clock.token()
            if stream.answer:
                clock.answer_began(stream.thought)
            live = None
            if pieces and now >= next_live:
                live, next_live = clock.snapshot(len(s.kv_tokens)), now + LIVE_STATS_EVERY_S
            for piece in pieces:
                yield TokenEvent(piece.text, index, live, piece.reasoning)
                live = None
            if stream.stopped:
                return FinishReason.STOP
            if cancel.cancelled:
                return FinishReason.CANCELLED
            if index == max_tokens - 1:
                return at_cap
            if len(s.kv_tokens) >= ctx.n_ctx:
                return FinishReason.CONTEXT_FULL
            code = ctx.decode([token], len(s.kv_tokens))
            if code != 0:
                return self._decode_failed(s, code, cancel, len(s.kv_tokens))
            s.kv_tokens.append(token)
        return FinishReason.LENGTH

    def _decode_failed(self, s: _Session, code: int, cancel: CancelToken,
                       position: int) -> FinishReason:
        # An aborted batch may leave part of itself in the cache: drop that part and keep the
        # prefix that was complete before it, so the next turn still reuses it.
        if code < 0 or not s.ctx.keep_prefix(len(s.kv_tokens)):
            s.ctx.clear()
            s.kv_tokens.clear()
        if code == 2 or cancel.cancelled:
            return FinishReason.CANCELLED
        if code == 1:
            return FinishReason.CONTEXT_FULL
        detail = NATIVE_LOG.last_error() or f"llama_decode returned {code}"
        raise GenerationError(f"The model failed to evaluate at position {position}: {detail}")

    def _require(self) -> _Session:
        if self._session is None:
            raise NoModelLoadedError()
        return self._session


def marker_tokens(model: NativeModel, fmt: ReasoningFormat | None) -> frozenset[int]:
    """The tokens `fmt`'s markers are made of: their text is rendered even where the vocabulary
    marks them as control tokens (which llama.cpp renders as nothing), as llama.cpp's server
    keeps a format's markers."""
    if fmt is None:
        return frozenset()
    return frozenset(t for m in fmt.markers
                     for t in model.tokenize(m, add_special=False, parse_special=True))


def _rendered(built: BuiltPrompt) -> RenderedPrompt:
    return RenderedPrompt(built.text, built.template, len(built.tokens), built.dropped_turns,
                          built.max_tokens, built.warnings)
