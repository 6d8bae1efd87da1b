"""A reply by beam search (`SamplingParams.beams` > 0): the search of `inference.beam` in a
context of its own, its beams turned into text, and the best one as the reply.

The search gets a context sized for it (the prompt plus width × max tokens cells, one unified
cache, 2 × width sequences), freed when it ends, so the chat's own context and its cached
prefix are left as they were. Its cells never exceed the chat context's n_ctx: max tokens is
cut to fit, with a warning.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import TYPE_CHECKING

from inference.beam.hypotheses import BeamEnd, BeamSettings, FinishedBeam
from inference.beam.search import BeamSearch, SearchEnd, SearchOutcome, open_beam_context
from inference.common.cancel import CancelToken
from inference.engine.events import BeamChoice, Finished, FinishReason, GenerationEvent, TokenEvent
from inference.engine.metrics import StatsClock
from inference.engine.prompts import BuiltPrompt
from inference.engine.reasoning import ReasoningFormat
from inference.engine.requests import GenerationRequest
from inference.engine.streaming import ReplyStream
from inference.llama.native import NativeModel

if TYPE_CHECKING:
    from inference.engine.engine import Session


class StreamText:
    """A beam's text as plain generation sees it (`ReplyStream`: whole characters, thinking
    apart, stop strings in the answer); the beam search's `BeamText`."""

    def __init__(self, model: NativeModel, stream: ReplyStream, shown: frozenset[int]) -> None:
        self._model = model
        self._shown = shown
        self.stream = stream

    def feed(self, token: int) -> bool:
        self.stream.feed(self._model.piece(token, special=token in self._shown))
        return self.stream.stopped

    def copy(self) -> StreamText:
        return StreamText(self._model, copy.deepcopy(self.stream), self._shown)


def beam_settings(request: GenerationRequest) -> BeamSettings:
    p = request.sampling
    return BeamSettings(int(p.beams), float(p.length_penalty), p.early_stopping)


def generate_beams(s: Session, request: GenerationRequest, built: BuiltPrompt,
                   cancel: CancelToken, *, started: float, fmt: ReasoningFormat | None,
                   shown: frozenset[int]) -> Iterator[GenerationEvent]:
    """The events of a beam-search reply: the best beam's text, then `Finished` with every
    finished beam (best first) in `beams`."""
    settings = beam_settings(request)
    width, prompt = settings.width, built.tokens
    max_new = built.max_tokens
    warnings = list(built.warnings)
    room = (s.ctx.n_ctx - len(prompt)) // width
    if max_new > room:
        max_new = max(1, room)
        warnings.append(f"beam search: max tokens cut to {max_new} so {width} beams fit the "
                        f"context of {s.ctx.n_ctx} tokens")
    c = s.config
    ctx = open_beam_context(s.model, width=width, cells=len(prompt) + width * max_new + 1,
                            n_batch=c.n_batch, n_ubatch=c.n_ubatch, n_threads=c.threads,
                            flash_attn=c.flash_attn, type_k=c.cache_type_k,
                            type_v=c.cache_type_v)
    clock = StatsClock(prompt_tokens=len(prompt), n_ctx=ctx.n_ctx, t0=started)
    stop = request.sampling.stop

    def new_text() -> StreamText:
        return StreamText(s.model, ReplyStream(stop, fmt), shown)

    try:
        outcome = BeamSearch(ctx, settings, max_new, new_text, cancel, clock.token).run(prompt)
    finally:
        ctx.close()
    choices = [_choice(s.model, beam, ReplyStream(stop, fmt), shown) for beam in outcome.beams]
    if choices:
        clock.answer_began(bool(choices[0].reasoning))
    stats = clock.snapshot(len(prompt) + outcome.steps)
    best = choices[0] if choices else None
    if best is not None and best.reasoning:
        yield TokenEvent(best.reasoning, max(0, outcome.steps - 1), reasoning=True)
    if best is not None and best.text:
        yield TokenEvent(best.text, max(0, outcome.steps - 1), stats)
    yield Finished(_reason(outcome, built), best.text if best else "", stats, built.text,
                   built.template, built.dropped_turns, tuple(warnings),
                   best.reasoning if best else "", beams=tuple(choices))


def _choice(model: NativeModel, beam: FinishedBeam, stream: ReplyStream,
            shown: frozenset[int]) -> BeamChoice:
    """A finished beam's text, replayed through a fresh stream as plain generation makes it."""
    for token in beam.tokens:
        stream.feed(model.piece(token, special=token in shown))
    stream.flush()
    reason = FinishReason.STOP if beam.end in (BeamEnd.EOG, BeamEnd.STOP) else (
        FinishReason.CANCELLED if beam.end is BeamEnd.CANCELLED else FinishReason.LENGTH)
    return BeamChoice(stream.answer, beam.score, beam.sum_logprob, len(beam.tokens), reason,
                      stream.reasoning)


def _reason(outcome: SearchOutcome, built: BuiltPrompt) -> FinishReason:
    if outcome.end is SearchEnd.CANCELLED:
        return FinishReason.CANCELLED
    if outcome.end is SearchEnd.CONTEXT_FULL:
        return FinishReason.CONTEXT_FULL
    if outcome.beams and outcome.beams[0].end is not BeamEnd.LENGTH:
        return FinishReason.STOP
    return FinishReason.CONTEXT_FULL if built.context_capped else FinishReason.LENGTH
