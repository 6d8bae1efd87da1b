"""One record per answered request, as `parley serve --request-log` prints it (a JSON line on
stdout) and the GUI's Server page reads it back; and the throughput those records add up to."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterable
from dataclasses import asdict, dataclass, fields

THROUGHPUT_WINDOW_S = 10.0      # "throughput now": generated tokens over the last this many seconds
# The records go to this logger as bare JSON; `parley serve --request-log` prints it on stdout
# (and nothing else does: it does not propagate into the server's human-readable log).
REQUEST_LOGGER = "parley.server.requests"
_requests = logging.getLogger(REQUEST_LOGGER)
_requests.propagate = False


@dataclass(frozen=True)
class RequestRecord:
    """What one request asked and got: its route and status, tokens, TTFT and speed."""

    finished_at: float          # time.time() when the answer ended
    method: str
    path: str
    status: int
    prompt_tokens: int = 0
    cached_tokens: int = 0
    output_tokens: int = 0
    ttft_s: float | None = None
    gen_tps: float | None = None
    duration_s: float = 0.0
    finish: str = ""            # stop | length | cancelled | error, or the error's one line

    def to_json(self) -> str:
        return json.dumps(asdict(self), separators=(",", ":"))

    @classmethod
    def from_json(cls, line: str) -> RequestRecord | None:
        """The record on this line, or None for a line that is not one (anything else printed)."""
        try:
            data = json.loads(line)
        except ValueError:
            return None
        if not isinstance(data, dict):
            return None
        known = {f.name for f in fields(cls)}
        try:
            return cls(**{k: v for k, v in data.items() if k in known})
        except TypeError:
            return None

    @property
    def generating_s(self) -> float:
        """How long its tokens were being generated (after the first one), at least 0."""
        if self.output_tokens <= 1 or not self.gen_tps:
            return 0.0
        return (self.output_tokens - 1) / self.gen_tps


def log_request(record: RequestRecord) -> None:
    """Hand one answered request to whoever listens (`--request-log`); cheap when nobody does."""
    if _requests.isEnabledFor(logging.INFO) and _requests.handlers:
        _requests.info(record.to_json())


def print_requests_to(stream: object) -> None:
    """Print every record as one JSON line on `stream` (a text stream such as sys.stdout)."""
    handler = logging.StreamHandler(stream)  # type: ignore[arg-type]
    handler.setFormatter(logging.Formatter("%(message)s"))
    _requests.addHandler(handler)
    _requests.setLevel(logging.INFO)


def throughput_now(records: Iterable[RequestRecord], now: float | None = None,
                   window_s: float = THROUGHPUT_WINDOW_S) -> float:
    """Generated tokens per second over the last `window_s` seconds, all requests together.

    Each record's tokens are spread evenly over the time it spent generating them, and only the
    part of that span inside the window counts, so a long reply that ended just now does not
    count as if all its tokens came in the last seconds."""
    now = time.time() if now is None else now
    start = now - window_s
    total = 0.0
    for rec in records:
        span = rec.generating_s
        if span <= 0.0:
            if start <= rec.finished_at <= now:
                total += rec.output_tokens
            continue
        begin = rec.finished_at - span
        inside = min(now, rec.finished_at) - max(start, begin)
        if inside > 0:
            total += rec.output_tokens * inside / span
    return total / window_s

