"""StreamPacer: how often streamed text goes to the screen, within a CPU budget for the GUI.

Every view update costs the GUI process CPU time (Markdown, layout, painting), and on a machine
whose cores all run the engine's threads that time is taken from generation. The pacer hands text
on at most every `min_interval_s` (~33 updates a second) and, when the GUI process spends more
than `cpu_budget` of one core while a reply streams, waits longer between updates: the interval
moves toward the one at which the measured CPU time per update fits the budget, up to
`max_interval_s`. A fast machine keeps the smooth rate; a slow or saturated one gets fewer,
larger updates instead of a slower model.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

Clock = Callable[[], float]


@dataclass(frozen=True)
class PacingSettings:
    min_interval_s: float = 0.030
    max_interval_s: float = 0.200
    cpu_budget: float = 0.04          # share of one core the GUI process may use while streaming
    smoothing: float = 0.5            # weight of the newest measurement in the interval

    def __post_init__(self) -> None:
        if not 0 < self.min_interval_s <= self.max_interval_s:
            raise ValueError("need 0 < min_interval_s <= max_interval_s")
        if not 0 < self.cpu_budget <= 1:
            raise ValueError("cpu_budget is a share of one core, in (0, 1]")
        if not 0 < self.smoothing <= 1:
            raise ValueError("smoothing is a weight in (0, 1]")


class StreamPacer:
    """Decides when the worker passes its pending text on; `cpu` is the GUI process's CPU
    clock (all its threads: the work an update sets off runs on the GUI thread)."""

    def __init__(self, settings: PacingSettings | None = None,
                 wall: Clock = time.perf_counter, cpu: Clock = time.process_time) -> None:
        self.settings = settings or PacingSettings()
        self._wall = wall
        self._cpu = cpu
        self.interval_s = self.settings.min_interval_s
        self._last_wall: float | None = None
        self._last_cpu = 0.0

    def start(self) -> None:
        """A new reply: the first text goes out at once, at the smooth rate."""
        self.interval_s = self.settings.min_interval_s
        self._last_wall = None

    def due(self) -> bool:
        """Whether pending text should go to the screen now."""
        last = self._last_wall
        return last is None or self._wall() - last >= self.interval_s

    def sent(self) -> None:
        """Text was just handed on: measure what the previous update cost, adjust the pace."""
        now, cpu = self._wall(), self._cpu()
        if self._last_wall is not None and now > self._last_wall:
            self._adjust(cpu - self._last_cpu)
        self._last_wall, self._last_cpu = now, cpu

    def _adjust(self, cpu_per_update_s: float) -> None:
        s = self.settings
        wanted = cpu_per_update_s / s.cpu_budget      # the interval at which it fits the budget
        blended = (1 - s.smoothing) * self.interval_s + s.smoothing * wanted
        self.interval_s = min(max(blended, s.min_interval_s), s.max_interval_s)
