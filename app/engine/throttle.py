"""Throttle: pass on at most one call per interval (progress updates that would flood the GUI)."""

from __future__ import annotations

import time
from collections.abc import Callable


class Throttle:
    """Calls `emit(*args)` at most once every `every_s` seconds; `flush` sends the last call
    that was held back (so the final progress always arrives)."""

    def __init__(self, emit: Callable[..., None], every_s: float) -> None:
        self._emit = emit
        self._every = every_s
        self._last = -every_s
        self._held: tuple | None = None

    def __call__(self, *args: object) -> None:
        now = time.monotonic()
        if now - self._last >= self._every:
            self._last = now
            self._held = None
            self._emit(*args)
        else:
            self._held = args

    def flush(self) -> None:
        held, self._held = self._held, None
        if held is not None:
            self._emit(*held)
