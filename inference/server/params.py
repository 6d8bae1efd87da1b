"""OpenAI request bodies → GenerationRequest: every parameter checked, each refusal a 400.

Chat uses Mode.CHAT (the model's chat template); completions Mode.TEXT. Sampling values are
checked by SamplingParams itself, so the API's ranges are the GUI's and the CLI's. Log-probabilities
and the response format travel beside the request (the engine child computes the one and turns
the other into a llama.cpp grammar). Parameters Parley does not implement yet are refused when
they ask for something (`_refuse_not_yet`); anything else unknown is ignored, as OpenAI does.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum
from typing import Any

from inference.common.errors import InvalidSettingError, PromptError
from inference.engine.requests import GenerationRequest, Message, Mode
from inference.engine.sampling import SAMPLING_RANGES, SamplingParams
from inference.server.config import MAX_STOP
from inference.server.errors import ApiError, bad_request, not_supported

COMPLETIONS_MAX_TOKENS = 16            # OpenAI's default for /v1/completions
# The API's repeat penalty when a request names none: off, as OpenAI (which has no such
# parameter) and llama-server do; the GUI's and the CLI's 1.1 would change replies unasked.
API_REPEAT_PENALTY = 1.0
CHAT_TOP_LOGPROBS = 20                 # OpenAI's limits: chat's top_logprobs …
COMPLETIONS_LOGPROBS = 5               # … and the legacy endpoint's logprobs
CHAT_MAX_TOKENS = int(SAMPLING_RANGES["max_tokens"].high)   # the engine caps it to the context
ROLE_NAMES = {"system": "system", "developer": "system", "user": "user",
              "assistant": "assistant"}


class Endpoint(str, Enum):
    CHAT = "chat.completion"
    COMPLETION = "text_completion"


class FormatKind(str, Enum):
    JSON_OBJECT = "json_object"        # any one JSON object
    JSON_SCHEMA = "json_schema"        # a JSON document valid against the schema


@dataclass(frozen=True)
class ResponseFormat:
    """OpenAI's response_format beyond plain text: the reply is constrained by a grammar."""

    kind: FormatKind
    schema: Mapping[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"type": self.kind.value, "schema": self.schema}


@dataclass(frozen=True)
class ParsedRequest:
    endpoint: Endpoint
    generation: GenerationRequest
    model: str | None          # what the client named (checked against the loaded model later)
    stream: bool = False
    include_usage: bool = False
    top_logprobs: int | None = None                 # None: no log-probabilities asked for
    response_format: ResponseFormat | None = None
    echo: bool = False                              # completions: the prompt opens the text

    def options(self) -> dict[str, Any]:
        """What the engine child needs beside the GenerationRequest."""
        fmt = self.response_format
        return {"top_logprobs": self.top_logprobs,
                "response_format": fmt.to_dict() if fmt is not None else None}


def parse(body: Any, endpoint: Endpoint, max_messages: int) -> ParsedRequest:
    """The request `body` (decoded JSON) as Parley runs it, or an ApiError 400."""
    if not isinstance(body, Mapping):
        raise bad_request("the request body must be a JSON object", code="invalid_body")
    _refuse_not_yet(body, endpoint)
    n = _optional(body, "n", int)
    if n is not None and n != 1:
        raise bad_request(f"n must be 1 (Parley returns one choice per request), got {n}", "n")
    model = _optional(body, "model", str)
    stream = bool(_optional(body, "stream", bool))
    options = _optional(body, "stream_options", Mapping) or {}
    include_usage = bool(_optional(options, "include_usage", bool, "stream_options."))
    sampling = _sampling(body, endpoint)
    top_logprobs = _logprobs(body, endpoint)
    response_format = _response_format(body.get("response_format"))
    echo = endpoint is Endpoint.COMPLETION and bool(_optional(body, "echo", bool))
    if echo and top_logprobs is not None:
        raise not_supported("echo", "echo together with logprobs (the prompt's own "
                                    "log-probabilities)")
    try:
        if endpoint is Endpoint.CHAT:
            system, messages = _messages(body, max_messages)
            prefix = ""
            if messages[-1].role == "assistant":   # a final assistant message is continued
                prefix, messages = messages[-1].content, messages[:-1]   # (as llama-server)
            generation = GenerationRequest(Mode.CHAT, messages, system=system, sampling=sampling,
                                           reply_prefix=prefix)
        else:
            generation = GenerationRequest(Mode.TEXT, text=_prompt(body), sampling=sampling)
    except PromptError as exc:
        raise bad_request(str(exc), "messages" if endpoint is Endpoint.CHAT else "prompt") \
            from None
    return ParsedRequest(endpoint, generation, model, stream, include_usage and stream,
                         top_logprobs, response_format, echo)


FLOATS = ("temperature", "top_p", "min_p", "repeat_penalty", "presence_penalty",
          "frequency_penalty")


def _sampling(body: Mapping[str, Any], endpoint: Endpoint) -> SamplingParams:
    values: dict[str, Any] = {"repeat_penalty": API_REPEAT_PENALTY}
    for name in (*FLOATS, "top_k", "seed"):
        value = _optional(body, name, float if name in FLOATS else int)
        if value is not None:
            values[name] = value
    max_tokens = _optional(body, "max_completion_tokens", int)
    if max_tokens is None:
        max_tokens = _optional(body, "max_tokens", int)
    values["max_tokens"] = (max_tokens if max_tokens is not None else
                            CHAT_MAX_TOKENS if endpoint is Endpoint.CHAT
                            else COMPLETIONS_MAX_TOKENS)
    values["stop"] = _stop(body.get("stop"))
    try:
        return SamplingParams(**values)
    except InvalidSettingError as exc:
        raise _sampling_error(str(exc), values) from None


def _sampling_error(message: str, values: Mapping[str, Any]) -> ApiError:
    """SamplingParams' message, spoken with the API's parameter names ("top_p", not "top-p")."""
    head = message.split(" ", 1)[0]
    name = head.replace("-", "_")
    if name in values:
        if name == "max_tokens" and "max_completion_tokens" in values:
            name = "max_completion_tokens"
        return bad_request(name + message[len(head):], name)
    return bad_request(message)


def _logprobs(body: Mapping[str, Any], endpoint: Endpoint) -> int | None:
    """The alternatives wanted per token, or None when no log-probabilities are asked for:
    chat's logprobs (true/false) with top_logprobs (0…20), the legacy endpoint's logprobs
    (0…5)."""
    if endpoint is Endpoint.COMPLETION:
        n = _optional(body, "logprobs", int)
        if n is not None and not 0 <= n <= COMPLETIONS_LOGPROBS:
            raise bad_request(f"logprobs must be between 0 and {COMPLETIONS_LOGPROBS}, got {n}",
                              "logprobs")
        return n
    wanted = bool(_optional(body, "logprobs", bool))
    top = _optional(body, "top_logprobs", int)
    if top is not None and not 0 <= top <= CHAT_TOP_LOGPROBS:
        raise bad_request(f"top_logprobs must be between 0 and {CHAT_TOP_LOGPROBS}, got {top}",
                          "top_logprobs")
    if top and not wanted:
        raise bad_request("top_logprobs needs logprobs set to true", "top_logprobs")
    return (top or 0) if wanted else None


def _response_format(value: Any) -> ResponseFormat | None:
    """OpenAI's response_format: text (no constraint), json_object or json_schema."""
    if value is None:
        return None
    if not isinstance(value, Mapping):
        raise bad_request("response_format must be an object", "response_format",
                          "invalid_type")
    kind = value.get("type")
    if kind == "text":
        return None
    if kind == FormatKind.JSON_OBJECT.value:
        return ResponseFormat(FormatKind.JSON_OBJECT)
    if kind != FormatKind.JSON_SCHEMA.value:
        raise bad_request(f"response_format.type must be text, json_object or json_schema, "
                          f"got {kind!r}", "response_format.type")
    spec = value.get("json_schema")
    if not isinstance(spec, Mapping):
        raise bad_request("response_format.json_schema must be an object with the schema in "
                          "'schema'", "response_format.json_schema", "invalid_type")
    schema = spec.get("schema", {})      # optional in OpenAI's shape: then any JSON value
    if not isinstance(schema, Mapping):
        raise bad_request("response_format.json_schema.schema must be a JSON Schema object",
                          "response_format.json_schema.schema", "invalid_type")
    return ResponseFormat(FormatKind.JSON_SCHEMA, schema)


def _stop(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    stops = [value] if isinstance(value, str) else value
    if not isinstance(stops, list) or not all(isinstance(s, str) for s in stops):
        raise bad_request("stop must be a string or a list of strings", "stop", "invalid_type")
    if len(stops) > MAX_STOP:
        raise bad_request(f"stop may hold at most {MAX_STOP} strings, got {len(stops)}", "stop")
    if any(not s for s in stops):
        raise bad_request("stop strings must not be empty", "stop")
    return tuple(stops)


def _messages(body: Mapping[str, Any], limit: int) -> tuple[str, tuple[Message, ...]]:
    """(the system prompt: every system / developer message joined, the other messages)."""
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise bad_request("messages must be a non-empty list", "messages",
                          "invalid_type" if messages is not None else "missing")
    if len(messages) > limit:
        raise bad_request(f"messages may hold at most {limit} entries, got {len(messages)}",
                          "messages")
    system: list[str] = []
    turns: list[Message] = []
    for i, message in enumerate(messages):
        where = f"messages[{i}]"
        if not isinstance(message, Mapping):
            raise bad_request(f"{where} must be an object", where, "invalid_type")
        role = message.get("role")
        if role not in ROLE_NAMES:
            if isinstance(role, str) and role in ("tool", "function"):
                raise not_supported(f"{where}.role", f"the role {role!r}")
            raise bad_request(f"{where}.role must be one of {', '.join(ROLE_NAMES)}, got "
                              f"{role!r}", f"{where}.role")
        content = _content(message.get("content"), f"{where}.content",
                           allow_none=role == "assistant")
        if ROLE_NAMES[role] == "system":
            system.append(content)
            continue
        reasoning = _optional(message, "reasoning_content", str, f"{where}.") or ""
        turns.append(Message(ROLE_NAMES[role], content, reasoning if role == "assistant" else ""))
    if not turns:
        raise bad_request("messages must hold at least one user message", "messages")
    return "\n\n".join(s for s in system if s), tuple(turns)


def _content(value: Any, where: str, allow_none: bool) -> str:
    """A message's text: a string, or a list of text parts joined."""
    if isinstance(value, str):
        return value
    if value is None and allow_none:
        return ""
    if not isinstance(value, list):
        raise bad_request(f"{where} must be a string or a list of content parts", where,
                          "invalid_type")
    texts = []
    for i, part in enumerate(value):
        kind = part.get("type") if isinstance(part, Mapping) else None
        if kind != "text":
            if isinstance(kind, str):
                raise not_supported(f"{where}[{i}]", f"content of type {kind!r}")
            raise bad_request(f"{where}[{i}] must be an object with a type", f"{where}[{i}]",
                              "invalid_type")
        text = part.get("text")
        if not isinstance(text, str):
            raise bad_request(f"{where}[{i}].text must be a string", f"{where}[{i}].text",
                              "invalid_type")
        texts.append(text)
    return "".join(texts)


def _prompt(body: Mapping[str, Any]) -> str:
    prompt = body.get("prompt")
    if isinstance(prompt, list) and len(prompt) == 1 and isinstance(prompt[0], str):
        prompt = prompt[0]
    if isinstance(prompt, list):
        raise not_supported("prompt", "a list of prompts or token ids as prompt")
    if not isinstance(prompt, str):
        raise bad_request("prompt must be a string", "prompt",
                          "invalid_type" if prompt is not None else "missing")
    return prompt


def _refuse_not_yet(body: Mapping[str, Any], endpoint: Endpoint) -> None:
    """A 400 for a parameter of OpenAI's that Parley does not implement yet, when it asks for
    something (a default value, such as an empty list of tools, is fine)."""
    if body.get("tools") not in (None, []):
        raise not_supported("tools")
    best_of = body.get("best_of") if endpoint is Endpoint.COMPLETION else None
    if best_of not in (None, 1):
        raise not_supported("best_of")


def _optional(body: Mapping[str, Any], name: str, kind: type, prefix: str = "") -> Any:
    """body[name] when present and not null, checked to be of `kind` (an int is a float)."""
    value = body.get(name)
    if value is None:
        return None
    numeric = kind in (int, float)
    ok = (isinstance(value, (int, float)) and not isinstance(value, bool)
          and (kind is float or float(value).is_integer())) if numeric \
        else isinstance(value, kind)
    if not ok:
        words = {int: "a whole number", float: "a number", bool: "true or false",
                 str: "a string"}.get(kind, "an object")
        raise bad_request(f"{prefix}{name} must be {words}, got {value!r}", prefix + name,
                          "invalid_type")
    return int(value) if kind is int else value
