"""One streamed reply on the client: chunks → token events (thinking apart from the answer, as
the local engine parts them) and the figures of docs/ARCHITECTURE.md § Figures, measured here.

Each chunk that carries text is stamped when it arrives; the server's `usage` gives the prompt
and output token counts at the end (the chunks counted when it sends none).
"""

from __future__ import annotations

import time
from dataclasses import replace
from typing import Any

from inference.engine.events import Finished, FinishReason, TokenEvent
from inference.engine.metrics import GenerationStats, StatsClock
from inference.engine.reasoning import THINK
from inference.engine.requests import GenerationRequest, Mode
from inference.engine.streaming import ReplyStream
from inference.remote.errors import RemoteResponseError
from inference.remote.http import message_of

LIVE_STATS_EVERY_S = 0.2
REASONS = {"stop": FinishReason.STOP, "length": FinishReason.LENGTH,
           "eos": FinishReason.STOP}


class RemoteReply:
    """Feed it each streamed event; it yields the TokenEvents and keeps what `finish` needs."""

    def __init__(self, request: GenerationRequest, n_ctx: int, started: float) -> None:
        thinking = None if request.mode is Mode.TEXT else THINK
        self._stream = ReplyStream(request.sampling.stop, thinking)
        self._clock = StatsClock(n_ctx=n_ctx, t0=started)
        self._n_ctx = n_ctx
        self._reasoning: list[str] = []          # sent apart by the server (reasoning_content)
        self._next_live = 0.0
        self.usage: dict[str, Any] = {}
        self.timings: dict[str, Any] = {}
        self.finish_reason: str | None = None    # the server's, once it said one
        self.warnings: list[str] = []

    @property
    def got_text(self) -> bool:
        return bool(self._clock.token_times)

    @property
    def stopped(self) -> bool:
        """A stop string came (the server should have stopped too)."""
        return self._stream.stopped

    def take(self, event: dict[str, Any]) -> list[TokenEvent]:
        if "error" in event:
            raise RemoteResponseError(f"the server stopped the reply: {message_of(event)}")
        if isinstance(event.get("usage"), dict):
            self.usage = event["usage"]
        if isinstance(event.get("timings"), dict):
            self.timings = event["timings"]
        choices = event.get("choices")
        if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
            return []
        choice = choices[0]
        if choice.get("finish_reason"):
            self.finish_reason = str(choice["finish_reason"])
        delta = choice.get("delta") if isinstance(choice.get("delta"), dict) else {}
        thought = delta.get("reasoning_content") or delta.get("reasoning") or ""
        text = delta.get("content") if "delta" in choice else choice.get("text")
        thought = thought if isinstance(thought, str) else ""
        text = text if isinstance(text, str) else ""
        if not (thought or text):
            return []
        now = self._clock.token()
        index = len(self._clock.token_times) - 1
        pieces: list[tuple[str, bool]] = []
        if thought:
            self._reasoning.append(thought)
            pieces.append((thought, True))
        if text and not self._stream.stopped:
            pieces += [(p.text, p.reasoning) for p in self._stream.feed(text.encode())]
        self._mark_answer()
        live = None
        if now >= self._next_live:
            live, self._next_live = self.stats(), now + LIVE_STATS_EVERY_S
        events = []
        for piece, reasoning in pieces:
            if piece:
                events.append(TokenEvent(piece, index, live, reasoning))
                live = None
        return events

    def finish(self, reason: FinishReason, prompt: str, template: str,
               warnings: tuple[str, ...] = ()) -> tuple[list[TokenEvent], Finished]:
        """The text still held back, and the one Finished."""
        last = max(len(self._clock.token_times) - 1, 0)
        tail = [TokenEvent(p.text, last, reasoning=p.reasoning) for p in self._stream.flush()]
        self._mark_answer()
        stats = self.stats()
        if reason is FinishReason.LENGTH and self._n_ctx and stats.context_tokens >= self._n_ctx:
            reason = FinishReason.CONTEXT_FULL
        reasoning = "".join(self._reasoning) + self._stream.reasoning
        return tail, Finished(reason, self._stream.answer, stats, prompt, template,
                              warnings=(*warnings, *self.warnings), reasoning=reasoning)

    def server_reason(self) -> FinishReason:
        """How the server said the reply ended."""
        if self.finish_reason not in REASONS and self.finish_reason is not None:
            self.warnings.append(f"the server ended the reply with {self.finish_reason!r}")
        return REASONS.get(self.finish_reason or "stop", FinishReason.STOP)

    def stats(self) -> GenerationStats:
        """The figures so far: times from the chunks' arrival, counts from `usage`."""
        clock = self._clock
        chunks = len(clock.token_times)
        prompt = _count(self.usage.get("prompt_tokens")) or _count(self.timings.get("prompt_n"))
        details = self.usage.get("prompt_tokens_details")
        cached = (_count(details.get("cached_tokens")) if isinstance(details, dict) else 0) \
            or _count(self.timings.get("cache_n"))
        if self.timings and "cache_n" in self.timings and "prompt_tokens" not in self.usage:
            prompt += cached                     # llama-server's prompt_n leaves the cache out
        output = _count(self.usage.get("completion_tokens")) or chunks
        clock.prompt_tokens, clock.cached_tokens = prompt, min(cached, prompt)
        snap = clock.snapshot(prompt + output)
        if output != chunks and chunks > 1 and output > 1:   # chunks carried several tokens
            tpot = (clock.token_times[-1] - clock.token_times[0]) / (output - 1)
            snap = replace(snap, tpot_s=tpot, gen_tps=1.0 / tpot if tpot else None)
        return replace(snap, output_tokens=output,
                       total_s=(clock.token_times[-1] if chunks else time.perf_counter())
                       - clock.t0)

    def _mark_answer(self) -> None:
        if self._stream.answer:
            self._clock.answer_began(bool(self._reasoning) or self._stream.thought)


def _count(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else 0
