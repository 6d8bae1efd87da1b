"""The in-process engine: load a GGUF, build prompts, stream tokens with llama.cpp's own sampler.

The pieces a reply needs besides the decode loop itself (opening the model and context, building
the prompt, keeping a cached prefix, one reply's token bookkeeping) are module functions and
`ReplyRun`, shared with `inference.batching`'s several-sequence engine.
"""

from __future__ import annotations

import time
from collections.abc import Generator, Iterator

from inference.common.cancel import CancelToken
from inference.common.errors import (
    GenerationError,
    NoModelLoadedError,
)
from inference.engine.api import LoadedModel, ProgressCallback, RenderedPrompt
from inference.engine.beam_reply import generate_beams
from inference.engine.config import ModelConfig
from inference.engine.events import (
    Finished,
    FinishReason,
    GenerationEvent,
    PrefillProgress,
    PromptRendered,
    TokenEvent,
)
from inference.engine.metrics import StatsClock
from inference.engine.prompts import BuiltPrompt, build_prompt
from inference.engine.reasoning import THINK, ReasoningFormat, detect_reasoning
from inference.engine.requests import GenerationRequest, Mode
from inference.engine.sampling import REPEAT_LAST_N
from inference.engine.session import Session, open_session
from inference.engine.speculation import speculative_decode
from inference.engine.streaming import ReplyStream
from inference.engine.template_source import TemplateKind
from inference.inspector.choice import Inspection
from inference.inspector.recorder import ChoiceRecorder
from inference.llama.chunked_tokenize import tokenize_chunked
from inference.llama.native import NativeContext, NativeModel
from inference.llama.native_log import NATIVE_LOG
from inference.llama.sampler import SamplerChain
from inference.perplexity.measure import PerplexityResult, compute_perplexity
from inference.perplexity.measure import ProgressCallback as PerplexityProgress
from inference.speculative.drafter import Drafter
from inference.speculative.factory import open_drafter

LIVE_STATS_EVERY_S = 0.2


def build_for(s: Session, request: GenerationRequest, n_ctx: int,
              cancel: CancelToken | None = None) -> BuiltPrompt:
    """The request's prompt with the session's template, fitted into `n_ctx` tokens."""
    bos_text = s.model.token_text(s.model.bos) if s.model.add_bos else ""
    return build_prompt(
        request, s.template,
        lambda text, special: tokenize_chunked(s.model, text, add_special=True,
                                               parse_special=special, cancel=cancel),
        n_ctx, bos_text)


def reasoning_format(s: Session, request: GenerationRequest,
                     built: BuiltPrompt) -> ReasoningFormat | None:
    """How this reply's thinking is marked; None in Text mode, where the reply continues
    the user's own text and is kept whole."""
    if request.mode is Mode.TEXT:
        return None
    source = s.config.template
    text = source.text if source.kind is TemplateKind.CUSTOM else s.model.chat_template()
    return detect_reasoning(text, built.text) or THINK


def reuse_prefix(ctx: NativeContext, n_swa: int, cached: list[int], tokens: list[int],
                 seq_id: int = 0) -> int:
    """Keep the longest prefix of `tokens` that sequence `seq_id` has cached (`cached`, trimmed
    to it in place); at least one token is evaluated anew. Returns the tokens kept."""
    n = 0
    limit = min(len(cached), len(tokens) - 1)
    while n < limit and cached[n] == tokens[n]:
        n += 1
    usable = n > 0 and ctx.keep_prefix(n, seq_id=seq_id) and (
        n_swa <= 0 or ctx.pos_min(seq_id) <= max(0, n - n_swa))
    if not usable:
        if ctx.n_seq_max == 1:
            ctx.clear()
        else:
            ctx.clear_seq(seq_id)
        n = 0
    del cached[n:]
    return n


class ReplyRun:
    """One reply's bookkeeping from its first sampled token to its `Finished`: the sampler chain,
    the text stream (UTF-8, thinking, stop strings), the clock and the reasons to stop."""

    def __init__(self, s: Session, request: GenerationRequest, built: BuiltPrompt,
                 cancel: CancelToken, *, started: float, cached: int, n_ctx: int,
                 logprobs_top: int | None = None) -> None:
        self.model = s.model
        self.built = built
        self.cancel = cancel
        self.n_ctx = n_ctx
        self.clock = StatsClock(prompt_tokens=len(built.tokens), cached_tokens=cached,
                                n_ctx=n_ctx, t0=started)
        thinking = reasoning_format(s, request, built)
        self.stream = ReplyStream(request.sampling.stop, thinking)
        self.shown = marker_tokens(s.model, thinking)
        self.sampler = SamplerChain(s.model, request.sampling, repeat_last_n=REPEAT_LAST_N)
        self.sampler.accept_prompt(built.tokens)
        # The inspector, and log-probabilities (`logprobs_top`: the server's), record each
        # token's choice; None costs nothing.
        wanted = [n for n in (request.inspect_top, logprobs_top) if n is not None]
        self.recorder = ChoiceRecorder(max(wanted)) if wanted else None
        self.inspection: Inspection | None = None
        if request.inspect_top is not None:
            self.inspection = Inspection(request.inspect_top, request.sampling.to_dict())
        # The last token allowed fills the context when the cap came from n_ctx.
        self.at_cap = FinishReason.CONTEXT_FULL if built.context_capped else FinishReason.LENGTH
        self._next_live = 0.0

    def sample(self, ctx: NativeContext, index: int = -1) -> int:
        """The next token from batch row `index`, recorded when the inspector is on."""
        recorder = self.recorder
        if recorder is None:
            return self.sampler.sample(ctx, index)
        token = self.sampler.sample_observed(ctx, recorder, index)
        if self.inspection is not None and not self.model.is_eog(token):
            assert recorder.last is not None
            self.inspection.add(recorder.last, self.token_bytes(token))
        return token

    def token_bytes(self, token: int) -> bytes:
        """A reply token's text as the reply shows it."""
        return self.model.piece(token, special=token in self.shown)

    def take(self, token: int, kv_len: int) -> tuple[list[TokenEvent], FinishReason | None]:
        """The events of one sampled token, and the reason to stop after it (None: go on and
        evaluate it); `kv_len` is the tokens now in the sequence's cache."""
        if self.model.is_eog(token):
            return [], FinishReason.STOP
        index = len(self.clock.token_times)
        pieces = self.stream.feed(self.model.piece(token, special=token in self.shown))
        now = self.clock.token()
        if self.stream.answer:
            self.clock.answer_began(self.stream.thought)
        live = None
        if pieces and now >= self._next_live:
            live, self._next_live = self.clock.snapshot(kv_len), now + LIVE_STATS_EVERY_S
        events = []
        for piece in pieces:
            events.append(TokenEvent(piece.text, index, live, piece.reasoning))
            live = None
        if self.stream.stopped:
            return events, FinishReason.STOP
        if self.cancel.cancelled:
            return events, FinishReason.CANCELLED
        if index == self.built.max_tokens - 1:
            return events, self.at_cap
        if kv_len >= self.n_ctx:
            return events, FinishReason.CONTEXT_FULL
        return events, None

    def finish(self, reason: FinishReason, kv_len: int) -> list[GenerationEvent]:
        """The held-back text, then the one `Finished`."""
        tail = self.stream.flush()
        if self.stream.answer:
            self.clock.answer_began(self.stream.thought)
        last = len(self.clock.token_times) - 1
        events: list[GenerationEvent] = [TokenEvent(p.text, last, reasoning=p.reasoning)
                                         for p in tail]
        built, stream = self.built, self.stream
        if self.inspection is not None:
            self.inspection.texts = {t: self.model.piece(t, special=True)
                                     for t in sorted(self.inspection.candidate_ids())}
        events.append(Finished(reason, stream.answer, self.clock.snapshot(kv_len), built.text,
                               built.template, built.dropped_turns, built.warnings,
                               stream.reasoning, inspection=self.inspection))
        return events

    def close(self) -> None:
        self.sampler.close()


class Engine:
    """Implements `EngineAPI` in this process. Use from one thread at a time."""

    def __init__(self) -> None:
        self._session: Session | None = None
        self._drafter: Drafter | None = None       # speculative decoding (ModelConfig)

    @property
    def loaded(self) -> LoadedModel | None:
        return self._session.loaded if self._session else None

    # -- loading ----------------------------------------------------------------------------
    def load(self, config: ModelConfig, progress: ProgressCallback | None = None,
             cancel: CancelToken | None = None) -> LoadedModel:
        self.unload()
        self._session = s = open_session(config, progress, cancel)
        try:
            self._drafter = open_drafter(config.speculative, config.draft_max,
                                         config.draft_model, s.model, s.ctx,
                                         n_threads=config.threads,
                                         n_gpu_layers=config.n_gpu_layers)
        except BaseException:
            self.unload()
            raise
        return s.loaded

    def unload(self) -> None:
        if self._drafter is not None:
            self._drafter.close()
            self._drafter = None
        if self._session is not None:
            self._session.close()
            self._session = None

    def close(self) -> None:
        self.unload()

    def clear_cache(self) -> None:
        """Forget the cached prompt: the next request is evaluated from its first token."""
        s = self._require()
        s.ctx.clear()
        s.kv_tokens.clear()

    # -- prompts ----------------------------------------------------------------------------
    def tokenize(self, text: str, add_bos: bool = True) -> list[int]:
        return tokenize_chunked(self._require().model, text, add_special=add_bos)

    def render(self, request: GenerationRequest) -> RenderedPrompt:
        s = self._require()
        return rendered(build_for(s, request, s.ctx.n_ctx))

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
        built = build_for(s, request, s.ctx.n_ctx, cancel)
        yield PromptRendered(rendered(built))
        if request.sampling.beam_search:
            fmt = reasoning_format(s, request, built)
            yield from generate_beams(s, request, built, cancel, started=started, fmt=fmt,
                                      shown=marker_tokens(s.model, fmt))
            return
        tokens = built.tokens
        reuse = reuse_prefix(s.ctx, s.model.n_swa, s.kv_tokens, tokens)
        run = ReplyRun(s, request, built, cancel, started=started, cached=reuse,
                       n_ctx=s.ctx.n_ctx)
        s.ctx.set_abort(cancel)
        try:
            reason = yield from self._prefill(s, tokens, reuse, cancel)
            if reason is None:
                reason = yield from self._decode_loop(s, run, cancel)
        finally:
            s.ctx.set_abort(None)
            run.close()
        yield from run.finish(reason, len(s.kv_tokens))

    def _prefill(self, s: Session, tokens: list[int], start: int,
                 cancel: CancelToken) -> Generator[PrefillProgress, None, FinishReason | None]:
        """Evaluate tokens[start:] in n_batch chunks, saying how far it got after each chunk
        but the last; returns a FinishReason when it could not finish, else None."""
        step = s.ctx.n_batch
        for begin in range(start, len(tokens), step):
            chunk = tokens[begin:begin + step]
            last = begin + step >= len(tokens)
            code = s.ctx.decode(chunk, begin, logits="last" if last else "none")
            if code != 0:
                return self._decode_failed(s, code, cancel, begin)
            s.kv_tokens.extend(chunk)
            if not last:
                yield PrefillProgress(begin + len(chunk) - start, len(tokens) - start)
        return None

    def _decode_loop(self, s: Session, run: ReplyRun,
                     cancel: CancelToken) -> Generator[GenerationEvent, None, FinishReason]:
        if self._drafter is not None:
            return (yield from speculative_decode(
                s.ctx, s.kv_tokens, run, self._drafter,
                lambda code, position: self._decode_failed(s, code, cancel, position)))
        for _ in range(run.built.max_tokens):
            token = run.sample(s.ctx)
            events, reason = run.take(token, len(s.kv_tokens))
            yield from events
            if reason is not None:
                return reason
            code = s.ctx.decode([token], len(s.kv_tokens))
            if code != 0:
                return self._decode_failed(s, code, cancel, len(s.kv_tokens))
            s.kv_tokens.append(token)
        return FinishReason.LENGTH

    def _decode_failed(self, s: Session, code: int, cancel: CancelToken,
                       position: int) -> FinishReason:
        # An aborted batch may leave part of itself in the cache: drop that part and keep the
        # prefix that was complete before it, so the next turn still reuses it.
        if code < 0 or not s.ctx.keep_prefix(len(s.kv_tokens)):
            s.ctx.clear()
            s.kv_tokens.clear()
        return decode_failure(code, cancel, position)

    def _require(self) -> Session:
        if self._session is None:
            raise NoModelLoadedError()
        return self._session


def decode_failure(code: int, cancel: CancelToken, position: int) -> FinishReason:
    """llama_decode's non-zero `code` as a reason to stop, or a GenerationError."""
    if code == 2 or cancel.cancelled:
        return FinishReason.CANCELLED
    if code == 1:
        return FinishReason.CONTEXT_FULL
    detail = NATIVE_LOG.last_error() or f"llama_decode returned {code}"
    raise GenerationError(f"The model failed to evaluate at position {position}: {detail}")


def marker_tokens(model: NativeModel, fmt: ReasoningFormat | None) -> frozenset[int]:
    """The tokens `fmt`'s markers are made of: their text is rendered even where the vocabulary
    marks them as control tokens (which llama.cpp renders as nothing), as llama.cpp's server
    keeps a format's markers."""
    if fmt is None:
        return frozenset()
    return frozenset(t for m in fmt.markers
                     for t in model.tokenize(m, add_special=False, parse_special=True))


def rendered(built: BuiltPrompt) -> RenderedPrompt:
    """What the caller is told of a built prompt (its first event)."""
    return RenderedPrompt(built.text, built.template, len(built.tokens), built.dropped_turns,
                          built.max_tokens, built.warnings)
