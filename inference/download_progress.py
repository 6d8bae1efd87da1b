"""Download progress: bytes done, speed over a sliding window, ETA; reports throttled."""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

PROGRESS_EVERY_S = 0.1
SPEED_WINDOW_S = 5.0


@dataclass(frozen=True)
class DownloadProgress:
    name: str                      # the model's (first) file name
    done: int                      # bytes on disk, every part together
    total: int | None
    speed: float                   # bytes per second over the last few seconds
    eta_s: float | None

    @property
    def fraction(self) -> float | None:
        return self.done / self.total if self.total else None


ProgressCallback = Callable[[DownloadProgress], None]


class Meter:
    """Bytes done over all parts, speed over a sliding window, throttled progress reports."""

    def __init__(self, name: str, total: int | None, callback: ProgressCallback | None) -> None:
        self.name, self.total, self.callback = name, total, callback
        self.base = 0                      # bytes of the parts already finished
        self.current = 0                   # bytes of the part in progress
        self._samples: deque[tuple[float, int]] = deque()
        self._last_report = 0.0

    def set_current(self, n: int, *, moving: bool = True) -> None:
        self.current = n
        now = time.monotonic()
        if not moving:
            self._samples.clear()
        self._samples.append((now, self.base + n))
        while self._samples and now - self._samples[0][0] > SPEED_WINDOW_S:
            self._samples.popleft()
        self.report()

    def part_done(self, size: int) -> None:
        self.base += size
        self.current = 0

    def report(self, force: bool = False) -> None:
        now = time.monotonic()
        if self.callback is None or (not force and now - self._last_report < PROGRESS_EVERY_S):
            return
        self._last_report = now
        done = self.base + self.current
        speed = 0.0
        if len(self._samples) >= 2:
            (t0, b0), (t1, b1) = self._samples[0], self._samples[-1]
            speed = (b1 - b0) / (t1 - t0) if t1 > t0 else 0.0
        eta = (self.total - done) / speed if speed > 0 and self.total else None
        self.callback(DownloadProgress(self.name, done, self.total, speed, eta))
