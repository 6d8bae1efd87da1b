"""Server-sent events as OpenAI-compatible servers stream them: `data: {json}` lines, events
split by a blank line, `data: [DONE]` at the end."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from typing import Any

from inference.remote.errors import RemoteResponseError

DONE = "[DONE]"


class StreamEnd:
    """The `data: [DONE]` event (a complete stream ends with it)."""


def sse_events(lines: Iterable[str]) -> Iterator[dict[str, Any] | StreamEnd]:
    """Each event's JSON object, then StreamEnd for `[DONE]`; comments and other fields
    (`event:`, `id:`, `retry:`) are skipped, as the SSE standard asks."""
    data: list[str] = []
    for line in lines:
        if line == "":
            if data:
                yield _decode("\n".join(data))
                data.clear()
            continue
        if line.startswith(":"):
            continue
        name, _, value = line.partition(":")
        if name == "data":
            data.append(value[1:] if value.startswith(" ") else value)
            if data[-1].strip() == DONE:         # some servers omit the blank line after it
                yield StreamEnd()
                return
    if data:
        yield _decode("\n".join(data))


def _decode(text: str) -> dict[str, Any] | StreamEnd:
    if text.strip() == DONE:
        return StreamEnd()
    try:
        value = json.loads(text)
    except ValueError:
        raise RemoteResponseError(f"the server streamed an event that is not JSON: "
                                  f"{text[:120]!r}") from None
    if not isinstance(value, dict):
        raise RemoteResponseError(f"the server streamed {type(value).__name__}, not an object")
    return value
