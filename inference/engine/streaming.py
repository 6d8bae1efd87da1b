"""Turns token bytes into whole characters and holds back text that may start a stop string."""

from __future__ import annotations

import codecs
from collections.abc import Sequence


class TextStream:
    """Feed token bytes, get text that is safe to show; `stopped` once a stop string appears."""

    def __init__(self, stop: Sequence[str] = ()) -> None:
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._stops = tuple(stop)
        self._held = ""          # decoded text not yet released (could begin a stop string)
        self.text = ""           # everything released so far
        self.stopped = False

    def feed(self, data: bytes) -> str:
        """Release the text that can no longer be part of a stop string."""
        self._held += self._decoder.decode(data)
        return self._release(final=False)

    def flush(self) -> str:
        """At the end: release what is held (except a stop string) and any partial character."""
        self._held += self._decoder.decode(b"", final=True)
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
