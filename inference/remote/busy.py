"""429 / 503 with Retry-After: how long the server asks us to wait, and a bounded wait for it."""

from __future__ import annotations

import email.utils
import time
from dataclasses import dataclass

from inference.common.cancel import CancelToken
from inference.remote.endpoint import RemoteTimeouts
from inference.remote.errors import RemoteBusyError

DEFAULT_WAIT_S = 1.0              # a busy answer without Retry-After
WAIT_STEP_S = 0.05                # how often a wait looks at its cancel


class Busy(Exception):
    """The server answered 429 or 503 (raised inside the remote room, never shown as is)."""

    def __init__(self, status: int, retry_after_s: float | None, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.retry_after_s = retry_after_s
        self.message = message


@dataclass(frozen=True)
class ServerBusy:
    """A generation's event: the server is busy and Parley waits `wait_s` before asking again
    (attempt `attempt` of `retries`)."""

    status: int
    wait_s: float
    attempt: int
    retries: int
    message: str

    def describe(self) -> str:
        return (f"the server is busy ({self.status}: {self.message}); asking again in "
                f"{self.wait_s:g} s (wait {self.attempt} of {self.retries})")


def retry_after_seconds(value: str | None) -> float | None:
    """Retry-After as seconds from now: a number of seconds or an HTTP date; None if absent
    or unreadable."""
    if not value:
        return None
    text = value.strip()
    try:
        return max(0.0, float(text))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def next_wait(busy: Busy, attempt: int, timeouts: RemoteTimeouts, where: str) -> ServerBusy:
    """The wait before try `attempt + 1`, or RemoteBusyError when Parley will not wait (too
    many tries, or the server asks for longer than `busy_wait_max_s`)."""
    asked = busy.retry_after_s
    if attempt >= timeouts.busy_retries:
        raise RemoteBusyError(f"{where} is still busy ({busy.status}) after {attempt} waits: "
                              f"{busy.message}. Try again later.")
    if asked is not None and asked > timeouts.busy_wait_max_s:
        raise RemoteBusyError(f"{where} is busy ({busy.status}) and asks to retry in "
                              f"{asked:g} s, longer than Parley waits "
                              f"({timeouts.busy_wait_max_s:g} s): {busy.message}")
    wait = DEFAULT_WAIT_S if asked is None else asked
    return ServerBusy(busy.status, wait, attempt + 1, timeouts.busy_retries, busy.message)


def sleep(seconds: float, cancel: CancelToken | None) -> bool:
    """Wait `seconds`; False as soon as `cancel` fires."""
    end = time.monotonic() + seconds
    while (left := end - time.monotonic()) > 0:
        if cancel is not None and cancel.cancelled:
            return False
        time.sleep(min(WAIT_STEP_S, left))
    return not (cancel is not None and cancel.cancelled)
