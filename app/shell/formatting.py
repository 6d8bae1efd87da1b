"""How figures are written for people: time left (downloads, comparisons, perplexity, prefill),
prefill speed, numbers that round to zero. No Qt here: every page uses the same words."""

from __future__ import annotations

from dataclasses import dataclass, field

from inference.engine.metrics import GenerationStats

ETA_MIN_FRACTION = 0.01      # no estimate before this much of the work is done
ETA_MIN_SECONDS = 1.0        # … nor before the work has run this long


def eta_text(seconds: float | None) -> str:
    """"1:05 left", "2 h 03 min left"; "" while unknown."""
    if seconds is None:
        return ""
    s = max(0, int(seconds))
    if s >= 3600:
        return f"{s // 3600} h {s // 60 % 60:02d} min left"
    return f"{s // 60}:{s % 60:02d} left"


@dataclass
class RateEta:
    """Time left from the rate so far (fraction done ÷ time taken), counting down between
    progress reports and never going up: a slower stretch holds the figure instead."""

    started: float
    _end: float | None = field(default=None, init=False)     # when the work should end
    _shown: float | None = field(default=None, init=False)

    def update(self, fraction: float, now: float) -> None:
        """Progress: `fraction` (0…1) of the work is done at `now` (monotonic seconds)."""
        elapsed = now - self.started
        if fraction >= 1.0:
            self._end = now
        elif fraction >= ETA_MIN_FRACTION and elapsed >= ETA_MIN_SECONDS:
            self._end = now + elapsed * (1.0 - fraction) / fraction

    def seconds(self, now: float) -> float | None:
        """Seconds left at `now`, or None while too early to say."""
        if self._end is None:
            return None
        left = max(0.0, self._end - now)
        if self._shown is not None:
            left = min(left, self._shown)
        self._shown = left
        return left

    def text(self, now: float) -> str:
        return eta_text(self.seconds(now))


def prefill_text(stats: GenerationStats) -> str:
    """Prefill speed as "812.4 tok/s", or "cached" when at most one token was evaluated (the
    rest of the prompt came from the KV cache, so a speed would mean nothing)."""
    if stats.prompt_tokens <= 0:
        return "—"
    evaluated = stats.prompt_tokens - (stats.cached_tokens or 0)
    if evaluated <= 1:
        return "cached"
    if stats.prefill_tps is None:
        return "—"
    return f"{stats.prefill_tps:.1f} tok/s"
