"""Turns token bytes into whole characters, tells thinking from answer, and holds back answer
text that may start a stop string."""

from __future__ import annotations

import codecs
from collections.abc import Sequence
from dataclasses import dataclass

from inference.engine.reasoning import Part, ReasoningFormat, ReasoningSplitter, Segment


class StopFilter:
    """Feed text, get text that is safe to show; `stopped` once a stop string appears."""

    def __init__(self, stop: Sequence[str] = ()) -> None:
        self._stops = tuple(stop)
        self._held = ""          # text not yet released (could begin a stop string)
        self.text = ""           # everything released so far
        self.stopped = False

    def feed(self, text: str) -> str:
        """Release the text that can no longer be part of a stop string."""
        self._held += text
        return self._release(final=False)

    def flush(self) -> str:
        """At the end: release what is held, except a stop string."""
        return self._release(final=True)

    def _release(self, final: bool) -> str:
        if self.stopped:
            return ""
        cut = self._find_stop()
        if cut is not None:
            out, self._held, self.stopped = self._held[:cut], "", True
        elif final or not self._stops:
            out, self._held = self._held, ""
        else:
            keep = self._partial_stop_length()
            out = self._held[: len(self._held) - keep]
            self._held = self._held[len(self._held) - keep:]
        self.text += out
        return out

    def _find_stop(self) -> int | None:
        hits = [i for i in (self._held.find(s) for s in self._stops) if i >= 0]
        return min(hits) if hits else None

    def _partial_stop_length(self) -> int:
        """Longest suffix of the held text that is a proper prefix of some stop string."""
        best = 0
        for stop in self._stops:
            for n in range(min(len(stop) - 1, len(self._held)), best, -1):
                if self._held.endswith(stop[:n]):
                    best = n
                    break
        return best


@dataclass(frozen=True)
class Piece:
    text: str
    reasoning: bool               # part of the model's thinking, not its answer


class ReplyStream:
    """A reply's token bytes → whole characters → thinking and answer (`ReasoningSplitter`);
    stop strings apply to the answer alone. `fmt` None: the whole reply is answer."""

    def __init__(self, stop: Sequence[str] = (), fmt: ReasoningFormat | None = None) -> None:
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._splitter = ReasoningSplitter(fmt)
        self._answer = StopFilter(stop)
        self.reasoning = ""       # the thinking released so far

    @property
    def answer(self) -> str:
        """The answer released so far."""
        return self._answer.text

    @property
    def stopped(self) -> bool:
        return self._answer.stopped

    @property
    def thought(self) -> bool:
        """Whether the reply has begun with thinking."""
        return self._splitter.thought

    def feed(self, data: bytes) -> list[Piece]:
        if self.stopped:
            return []
        return self._route(self._splitter.feed(self._decoder.decode(data)), final=False)

    def flush(self) -> list[Piece]:
        """At the end: release what is held (except a stop string) and any partial character."""
        if self.stopped:
            return []
        tail = self._splitter.feed(self._decoder.decode(b"", final=True))
        return self._route(tail + self._splitter.flush(), final=True)

    def _route(self, segments: list[Segment], final: bool) -> list[Piece]:
        pieces: list[Piece] = []
        for seg in segments:
            if seg.part is Part.REASONING:
                self.reasoning += seg.text
                pieces.append(Piece(seg.text, True))
            elif seg.part is Part.ANSWER:
                pieces.append(Piece(self._answer.feed(seg.text), False))
                if self.stopped:
                    break
        if final:
            pieces.append(Piece(self._answer.flush(), False))
        merged: list[Piece] = []
        for piece in pieces:
            if merged and merged[-1].reasoning == piece.reasoning:
                merged[-1] = Piece(merged[-1].text + piece.text, piece.reasoning)
            elif piece.text:
                merged.append(piece)
        return merged
