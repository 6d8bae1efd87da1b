"""A GenerationRequest as an OpenAI request body: chat and instruct as chat completions (the
server applies its template), text as a plain completion of the user's text."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from inference.common.errors import InvalidSettingError
from inference.engine.requests import GenerationRequest, Mode
from inference.remote.endpoint import ServerKind
from inference.remote.sampling_map import sampling_fields

# Servers that continue a final assistant message: parley serve by itself, vLLM when asked
# (continue_final_message). This llama-server build closes the turn after it instead (its
# prefill did not apply with the starter model's template: tests/remote/test_llama_server.py).
CONTINUES = (ServerKind.PARLEY, ServerKind.VLLM)


@dataclass(frozen=True)
class RemoteCall:
    path: str                      # under /v1
    body: dict[str, Any]
    preview: str                   # what the prompt is, as far as the client can tell


def remote_call(request: GenerationRequest, kind: ServerKind, model: str) -> RemoteCall:
    body: dict[str, Any] = {"model": model, "stream": True,
                            "stream_options": {"include_usage": True},
                            **sampling_fields(request.sampling, kind)}
    if request.mode is Mode.TEXT:
        body["prompt"] = request.text
        return RemoteCall("/completions", body, request.text)
    messages = chat_messages(request)
    body["messages"] = messages
    if request.reply_prefix:             # the reply goes on from its last message's text
        if kind not in CONTINUES:
            raise InvalidSettingError(
                f"{kind.label} does not go on from a reply begun (Continue from here): use "
                "the local engine, or parley serve on the other machine")
        messages.append({"role": "assistant", "content": request.reply_prefix})
        if kind is ServerKind.VLLM:
            body.update(continue_final_message=True, add_generation_prompt=False)
    preview = "\n\n".join(f"[{m['role']}]\n{m['content']}" for m in messages)
    return RemoteCall("/chat/completions", body, preview)


def chat_messages(request: GenerationRequest) -> list[dict[str, str]]:
    """System prompt first, then the turns (instruct: the one instruction); earlier replies'
    thinking stays home, as the local engine's templates leave it out of the history."""
    messages = [{"role": "system", "content": request.system}] if request.system else []
    if request.mode is Mode.INSTRUCT:
        return [*messages, {"role": "user", "content": request.text}]
    return [*messages, *({"role": m.role, "content": m.content} for m in request.messages)]
