"""How a download answers failed requests: count them, back off, and give up with a reason.

A failed request is one that ended before the file was complete: a broken connection, a 5xx or
429 answer, or a response that stopped short (a server that answers each Range request with a
short 200 is one). The wait after each doubles, up to a cap; a request that brought the file
further than ever before starts the count again. After `retries` failures in a row, or
`max_failures` in all, the download stops with `DownloadInterruptedError`, naming what the
server did last; the bytes kept stay for a later resume.
"""

from __future__ import annotations

from dataclasses import dataclass

from inference.hub.search import HubError


class DownloadInterruptedError(HubError):
    pass


@dataclass(frozen=True)
class RetryPolicy:
    retries: int = 3               # failed requests in a row (without progress) allowed
    wait_s: float = 1.0            # the wait after the first failure …
    max_wait_s: float = 30.0       # … doubling after each one up to this
    max_failures: int = 50         # failed requests in all, progress or not

    def wait_after(self, in_a_row: int) -> float:
        """Seconds to wait after the `in_a_row`-th failure in a row."""
        return min(self.max_wait_s, self.wait_s * 2 ** max(0, in_a_row - 1))


class Failures:
    """One file's failed requests: each says how long to wait, or gives up."""

    def __init__(self, policy: RetryPolicy, name: str, have: int) -> None:
        self.policy, self.name = policy, name
        self.in_a_row = 0
        self.total = 0
        self.best = have                       # the most bytes the file has held

    def would_give_up(self, have: int) -> bool:
        """Whether one more failure, with the file at `have` bytes, ends the download."""
        in_a_row = 1 if have > self.best else self.in_a_row + 1
        return in_a_row > self.policy.retries or self.total + 1 >= self.policy.max_failures

    def failed(self, reason: str, have: int) -> float:
        """Count a failure (`reason`: what the server did); the wait before the next try."""
        give_up = self.would_give_up(have)
        self.total += 1
        self.in_a_row = 1 if have > self.best else self.in_a_row + 1
        self.best = max(self.best, have)
        if give_up:
            requests = "request" if self.total == 1 else f"{self.total} failed requests"
            raise DownloadInterruptedError(
                f"the download of {self.name} stopped after {requests}: {reason}; "
                f"{have:,} bytes are kept: download it again to resume")
        return self.policy.wait_after(self.in_a_row)
