"""The sampling sliders as each server kind takes them in a request body, and which it ignores.

OpenAI's own parameters (temperature, top_p, presence / frequency penalty, seed, stop, max
tokens) go to every server. llama.cpp's extensions (top_k, min_p, repeat_penalty) go only where
the server reads them: llama-server and parley serve by these names, vLLM as its own
`repetition_penalty`; Ollama's and other OpenAI-compatible endpoints drop unknown fields, so they
are not sent and the sliders are reported as ignored.
"""

from __future__ import annotations

from typing import Any

from inference.common.errors import InvalidSettingError
from inference.engine.sampling import REPEAT_LAST_N, SamplingParams
from inference.remote.endpoint import ServerKind

SLIDERS = ("temperature", "top_k", "top_p", "min_p", "repeat_penalty", "presence_penalty",
           "frequency_penalty", "seed")
OPENAI_FIELDS = ("temperature", "top_p", "presence_penalty", "frequency_penalty")
EXTENSIONS = ("top_k", "min_p", "repeat_penalty")

# slider → the field name the server reads it by (a slider not listed is ignored there)
_EXTENSION_NAMES: dict[ServerKind, dict[str, str]] = {
    ServerKind.LLAMA_SERVER: {"top_k": "top_k", "min_p": "min_p",
                              "repeat_penalty": "repeat_penalty"},
    ServerKind.PARLEY: {"top_k": "top_k", "min_p": "min_p", "repeat_penalty": "repeat_penalty"},
    ServerKind.VLLM: {"top_k": "top_k", "min_p": "min_p", "repeat_penalty": "repetition_penalty"},
    ServerKind.OLLAMA: {},
    ServerKind.OPENAI: {},
}


def ignored_sliders(kind: ServerKind) -> tuple[str, ...]:
    """The sampling sliders a server of this kind does not take (they have no effect there)."""
    return tuple(name for name in EXTENSIONS if name not in _EXTENSION_NAMES[kind])


def sampling_fields(params: SamplingParams, kind: ServerKind) -> dict[str, Any]:
    """The request-body fields for `params` on a server of `kind`; a GBNF grammar only where
    the server takes one (llama-server), else a clear error rather than a silent drop."""
    body: dict[str, Any] = {name: getattr(params, name) for name in OPENAI_FIELDS}
    body["max_tokens"] = params.max_tokens
    if params.seed >= 0:
        body["seed"] = params.seed
    if params.stop:
        body["stop"] = list(params.stop)
    for slider, field_name in _EXTENSION_NAMES[kind].items():
        body[field_name] = getattr(params, slider)
    if kind is ServerKind.LLAMA_SERVER:
        body["repeat_last_n"] = REPEAT_LAST_N      # the local engine's penalty window
    if params.grammar:
        if kind is not ServerKind.LLAMA_SERVER:
            raise InvalidSettingError(f"a {kind.label} server does not take a GBNF grammar; "
                                      "only llama.cpp's server (and the local engine) do")
        body["grammar"] = params.grammar
    return body
