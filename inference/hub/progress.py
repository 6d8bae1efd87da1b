"""Download progress: bytes done, speed over a sliding window, ETA; reports throttled.

Speed is the bytes gained over about the last `SPEED_WINDOW_S` seconds (from the newest sample
at or before the window's start to the newest one) divided by the time between them; ETA is the
bytes still to come divided by that speed. Bytes that were not transferred (a kept .part hashed
on resume, a part already on disk) restart the window, so they never count as speed.
"""

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

    def __init__(self, name: str, total: int | None, callback: ProgressCallback | None, *,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.name, self.total, self.callback = name, total, callback
        self.base = 0                      # bytes of the parts already finished
        self.current = 0                   # bytes of the part in progress
        self._clock = clock
        self._samples: deque[tuple[float, int]] = deque()
        self._last_report: float | None = None

    def set_current(self, n: int, *, moving: bool = True) -> None:
        """The part in progress now holds `n` bytes; `moving=False`: not by a transfer."""
        self.current = n
        self._sample(moving)
        self.report()

    def part_done(self, size: int) -> None:
        """A part is complete with `size` bytes (streamed here, or found already on disk)."""
        moved = self.current == size
        self.base += size
        self.current = 0
        self._sample(moving=moved)

    def speed(self) -> float:
        """Bytes per second over the sliding window (0 until two samples are apart in time)."""
        if len(self._samples) < 2:
            return 0.0
        (t0, b0), (t1, b1) = self._samples[0], self._samples[-1]
        return (b1 - b0) / (t1 - t0) if t1 > t0 else 0.0

    def progress(self) -> DownloadProgress:
        done = self.base + self.current
        speed = self.speed()
        eta = max(0.0, (self.total - done) / speed) if speed > 0 and self.total else None
        return DownloadProgress(self.name, done, self.total, speed, eta)

    def report(self, force: bool = False) -> None:
        if self.callback is None:
            return
        now = self._clock()
        if not force and self._last_report is not None \
                and now - self._last_report < PROGRESS_EVERY_S:
            return
        self._last_report = now
        self.callback(self.progress())

    def _sample(self, moving: bool) -> None:
        now = self._clock()
        if not moving:
            self._samples.clear()
        self._samples.append((now, self.base + self.current))
        # keep one sample at or before the window's start, so a stall counts as slow
        while len(self._samples) > 2 and now - self._samples[1][0] >= SPEED_WINDOW_S:
            self._samples.popleft()
