"""Chat formats: a Jinja chat template rendered as transformers renders it (sandboxed, with
limits), llama.cpp's own built-in formats, and a template that takes no system prompt."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any, Protocol

from inference.engine.requests import Message
from inference.engine.template_limits import (
    DEFAULT_LIMITS,
    SUBJECT,
    TemplateError,
    TemplateLimits,
)
from inference.engine.template_sandbox import LimitedSandbox
from inference.llama.chat_builtin import UNNAMED, apply_builtin, detect_builtin

__all__ = ["GEMMA", "BuiltinFormat", "ChatFormat", "JinjaFormat", "SystemMerged",
           "TemplateError", "builtin_format", "merge_system", "template_messages"]


class ChatFormat(Protocol):
    name: str

    def render(self, messages: Sequence[Message], add_generation_prompt: bool = True) -> str:
        """The prompt text for `messages`, without BOS (the tokenizer adds it)."""


def template_messages(messages: Sequence[Message]) -> list[dict[str, str]]:
    """The messages as transformers hands them to a template: role and content, and an
    assistant's reasoning as `reasoning_content` (with `thinking`, which gpt-oss reads, first)."""
    out: list[dict[str, str]] = []
    for m in messages:
        item = {"role": m.role, "content": m.content}
        if m.reasoning:
            item = {"thinking": m.reasoning, **item, "reasoning_content": m.reasoning}
        out.append(item)
    return out


class JinjaFormat:
    """A Jinja chat template in transformers' environment, in Jinja's sandbox with limits.

    `subject` names the template in its error messages ("the custom chat template").
    """

    def __init__(self, source: str, bos_token: str = "", eos_token: str = "",
                 limits: TemplateLimits = DEFAULT_LIMITS, name: str = "gguf",
                 subject: str = SUBJECT) -> None:
        self.name = name
        self.subject = subject
        self._env = LimitedSandbox(limits)
        try:
            self._template = self._env.compile_template(source)
        except TemplateError as exc:
            raise exc.about(subject) from None
        self._variables: dict[str, Any] = {
            "bos_token": bos_token, "eos_token": eos_token, "tools": None, "documents": None}

    def render(self, messages: Sequence[Message], add_generation_prompt: bool = True) -> str:
        size = sum(len(m.content) + len(m.reasoning) for m in messages)
        try:
            return self._env.render(self._template, size, messages=template_messages(messages),
                                    add_generation_prompt=add_generation_prompt,
                                    **self._variables)
        except TemplateError as exc:
            raise exc.about(self.subject) from None


def merge_system(messages: Sequence[Message]) -> list[Message]:
    """The system prompt put at the start of the first user message (system + blank line +
    user), as llama.cpp does for a template that takes no system role."""
    system = "\n\n".join(m.content for m in messages if m.role == "system")
    rest = [m for m in messages if m.role != "system"]
    if not system:
        return rest
    for i, m in enumerate(rest):
        if m.role == "user":
            rest[i] = dataclasses.replace(m, content=f"{system}\n\n{m.content}")
            break
    return rest


class SystemMerged:
    """A format whose template refuses the system role: the system prompt joins the first user
    message before the template sees the conversation."""

    def __init__(self, inner: ChatFormat) -> None:
        self.inner = inner
        self.name = inner.name

    def render(self, messages: Sequence[Message], add_generation_prompt: bool = True) -> str:
        return self.inner.render(merge_system(messages), add_generation_prompt)


@dataclasses.dataclass(frozen=True)
class BuiltinFormat:
    """One of llama.cpp's built-in formats, rendered by llama.cpp itself.

    `template`, when set, is what llama.cpp is handed instead of the name: the text it picks
    a format from that it lists under no name.
    """

    name: str
    template: str = ""

    def render(self, messages: Sequence[Message], add_generation_prompt: bool = True) -> str:
        text = apply_builtin(self.template or self.name, [(m.role, m.content) for m in messages],
                             add_generation_prompt)
        if text is None:
            raise TemplateError(f"llama.cpp has no built-in chat format {self.name!r}")
        return text


GEMMA = BuiltinFormat("gemma")      # the gemma family's format (llama.cpp's own text)

# A vocabulary's special tokens that name its chat format, in the marker strings llama.cpp's
# `llm_chat_detect_template` looks for in a template; pairs it looks for side by side are joined.
FORMAT_MARKERS: tuple[str, ...] = (
    "<|im_start|>", "<|im_sep|>", "<end_of_utterance>", "[INST]", "[SYSTEM_PROMPT]",
    "[AVAILABLE_TOOLS]", "<|assistant|>", "<|user|>", "<|end|>", "<|endoftext|>", "</s>",
    "[gMASK]", "<sop>", "<|tool_declare|>", "<|begin_of_image|>", "<start_of_turn>", "<|EOT|>",
    "<|START_OF_TURN_TOKEN|>", "<|USER_TOKEN|>", "<|start_header_id|>", "<|end_header_id|>",
    "<｜Assistant｜>", "<｜User｜>", "<｜end▁of▁sentence｜>", "[|system|]", "[|assistant|]",
    "[|endofturn|]", "[|tool|]", "<|start_of_role|>", "<tool_call>", "<|role_start|>",
    "<|header_start|>", "<|header_end|>", "<|endofuserprompt|>", "<|extra_0|>", "<|extra_4|>",
    "<|start|>", "<|channel|>", "<seed:bos>", "<|begin|>", "<|content|>",
)
_ADJACENT = (("[gMASK]", "<sop>"),)
# Where neither the template nor the vocabulary names a format: the architecture's.
_ARCH_FORMATS = {
    "gemma": "gemma", "gemma2": "gemma", "gemma3": "gemma", "gemma3n": "gemma",
    "gemma-embedding": "gemma", "llama": "llama2", "phi3": "phi3", "command-r": "command-r",
    "cohere2": "command-r", "llama4": "llama4", "gpt-oss": "gpt-oss", "rwkv6": "rwkv-world",
    "rwkv7": "rwkv-world", "exaone": "exaone3", "exaone4": "exaone4", "granite": "granite",
}
DEFAULT_BUILTIN = "chatml"          # llama.cpp's own default for a model without a template


def builtin_format(architecture: str, vocab_has: set[str] | None = None,
                   template: str | None = None) -> BuiltinFormat:
    """The llama.cpp built-in for a model: the one llama.cpp picks from its template's text
    (`llama_chat_apply_template`), else from the special tokens its vocabulary has (the same
    markers, by llama.cpp's own detection), else its architecture's, else chatml."""
    markers = [t for t in FORMAT_MARKERS if t in (vocab_has or ())]
    markers += ["".join(pair) for pair in _ADJACENT if set(pair) <= (vocab_has or set())]
    for text in (template or "", "\n".join(markers)):
        name = detect_builtin(text) if text.strip() else None
        if name is not None:
            return BuiltinFormat(name, text if name == UNNAMED else "")
    return BuiltinFormat(_ARCH_FORMATS.get(architecture, DEFAULT_BUILTIN))
