"""The OpenAI-shaped bodies the server sends: whole responses, stream chunks and usage."""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from inference.engine.events import Finished, FinishReason
from inference.engine.metrics import GenerationStats
from inference.server.logprobs import LogprobEntry, ReplyLogprobs
from inference.server.params import Endpoint

DONE = b"data: [DONE]\n\n"
FINISH_REASONS = {FinishReason.STOP: "stop", FinishReason.LENGTH: "length",
                  FinishReason.CONTEXT_FULL: "length", FinishReason.CANCELLED: "stop"}


def usage(stats: GenerationStats) -> dict[str, Any]:
    return {"prompt_tokens": stats.prompt_tokens, "completion_tokens": stats.output_tokens,
            "total_tokens": stats.prompt_tokens + stats.output_tokens,
            "prompt_tokens_details": {"cached_tokens": stats.cached_tokens}}


def sse(data: dict[str, Any]) -> bytes:
    """One server-sent event carrying `data` as JSON."""
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    return b"data: " + text.encode() + b"\n\n"


@dataclass
class Reply:
    """One request's response, whole or as stream chunks, with the same id and time."""

    endpoint: Endpoint
    model: str
    include_usage: bool = False
    logprobs: ReplyLogprobs | None = None        # None: the request did not ask for them
    echo: str = ""                               # completions' echo: the prompt, shown first
    id: str = ""
    created: int = field(default_factory=lambda: int(time.time()))

    def __post_init__(self) -> None:
        if not self.id:
            prefix = "chatcmpl-" if self.endpoint is Endpoint.CHAT else "cmpl-"
            self.id = prefix + uuid.uuid4().hex[:24]

    def add_logprobs(self, entry: LogprobEntry) -> None:
        """A token's log-probabilities (they go out with the next text shown)."""
        if self.logprobs is not None:
            self.logprobs.add(entry)

    def shown(self, reasoning: bool) -> None:
        """Text was shown without a chunk of its own (the whole response is being built)."""
        if self.logprobs is not None:
            self.logprobs.release(reasoning)

    def whole(self, finished: Finished) -> dict[str, Any]:
        """The non-streaming response."""
        reason = FINISH_REASONS[finished.reason]
        logprobs = self.logprobs.shape(self.logprobs.shown) if self.logprobs else None
        if self.endpoint is Endpoint.CHAT:
            message: dict[str, Any] = {"role": "assistant", "content": finished.text}
            if finished.reasoning:
                message["reasoning_content"] = finished.reasoning
            choice: dict[str, Any] = {"index": 0, "message": message, "logprobs": logprobs,
                                      "finish_reason": reason}
        else:
            choice = {"index": 0, "text": self.echo + finished.text, "logprobs": logprobs,
                      "finish_reason": reason}
            if finished.reasoning:
                choice["reasoning_content"] = finished.reasoning
        return {**self._head(self.endpoint.value), "choices": [choice],
                "usage": usage(finished.stats)}

    def first_chunk(self) -> bytes | None:
        """Chat streams open with the assistant's role; completions with the echoed prompt,
        when asked for (else they have no such chunk)."""
        if self.endpoint is not Endpoint.CHAT:
            if not self.echo:
                return None
            return self._send({"index": 0, "text": self.echo, "logprobs": None,
                               "finish_reason": None})
        return self._chunk({"role": "assistant", "content": ""}, None)

    def piece(self, text: str, reasoning: bool) -> bytes:
        """A chunk of text, with the log-probabilities of the tokens it is first to show."""
        logprobs = (self.logprobs.shape(self.logprobs.release(reasoning))
                    if self.logprobs is not None else None)
        if self.endpoint is Endpoint.CHAT:
            return self._chunk({"reasoning_content" if reasoning else "content": text}, None,
                               logprobs)
        choice: dict[str, Any] = {"index": 0, "text": "" if reasoning else text,
                                  "logprobs": logprobs, "finish_reason": None}
        if reasoning:
            choice["reasoning_content"] = text
        return self._send(choice)

    def last_chunks(self, finished: Finished) -> list[bytes]:
        """The chunk with the finish reason, the usage chunk when asked for, and [DONE]."""
        reason = FINISH_REASONS[finished.reason]
        if self.endpoint is Endpoint.CHAT:
            chunks = [self._chunk({}, reason)]
        else:
            chunks = [self._send({"index": 0, "text": "", "logprobs": None,
                                  "finish_reason": reason})]
        if self.include_usage:
            chunks.append(sse({**self._head(self._chunk_object), "choices": [],
                               "usage": usage(finished.stats)}))
        return [*chunks, DONE]

    @property
    def _chunk_object(self) -> str:
        return "chat.completion.chunk" if self.endpoint is Endpoint.CHAT else "text_completion"

    def _chunk(self, delta: dict[str, Any], reason: str | None,
               logprobs: dict[str, Any] | None = None) -> bytes:
        return self._send({"index": 0, "delta": delta, "logprobs": logprobs,
                           "finish_reason": reason})

    def _send(self, choice: dict[str, Any]) -> bytes:
        data: dict[str, Any] = {**self._head(self._chunk_object), "choices": [choice]}
        if self.include_usage:
            data["usage"] = None
        return sse(data)

    def _head(self, obj: str) -> dict[str, Any]:
        return {"id": self.id, "object": obj, "created": self.created, "model": self.model,
                "system_fingerprint": "parley"}
