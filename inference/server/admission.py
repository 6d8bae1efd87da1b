"""SlotGate: at most N generations in the engine at once, a bounded FIFO queue before it.

Lives on the server's event loop. `acquire` takes a slot at once, or waits in line for one (503
when the line is full, 503 when the wait passes `timeout_s`); a slot is given back with `release`
when the engine says the request ended, so a new request never waits on a slot that is only
finishing.
"""

from __future__ import annotations

import asyncio
import collections

from inference.server.errors import ApiError, unavailable


class SlotGate:
    def __init__(self, n_slots: int, max_queue: int, timeout_s: float) -> None:
        self._free = n_slots
        self._max_queue = max_queue
        self._timeout_s = timeout_s
        self._waiters: collections.deque[asyncio.Future[None]] = collections.deque()
        self.busy = 0

    @property
    def queued(self) -> int:
        return len(self._waiters)

    async def acquire(self) -> None:
        """A slot, or ApiError 503 (queue full, or waited too long)."""
        if self._free > 0 and not self._waiters:
            self._free -= 1
            self.busy += 1
            return
        if len(self._waiters) >= self._max_queue:
            raise _busy(f"All {self.busy} slots are busy and the queue is full "
                        f"({self._max_queue} waiting); try again shortly.", "queue_full")
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        try:
            await asyncio.wait_for(asyncio.shield(waiter), self._timeout_s)
        except BaseException as exc:
            if waiter.done() and not waiter.cancelled():    # the slot came just now: pass it on
                self.release()
            else:
                waiter.cancel()
                self._waiters.remove(waiter)
            if isinstance(exc, asyncio.TimeoutError):
                raise _busy(f"The request waited {self._timeout_s:g} s for a free slot; "
                            f"try again shortly.", "queue_timeout") from None
            raise

    def release(self) -> None:
        """Give a slot back: to the first request waiting, else to the pool."""
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                return
        self.busy -= 1
        self._free += 1


def _busy(message: str, code: str) -> ApiError:
    return unavailable(message, code)
