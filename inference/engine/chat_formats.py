"""Chat formats: the GGUF's own Jinja template (sandboxed) or a built-in format per architecture."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from inference.engine.requests import Message
from inference.engine.template_limits import DEFAULT_LIMITS, TemplateError, TemplateLimits
from inference.engine.template_sandbox import LimitedSandbox

__all__ = ["BUILTIN_FORMATS", "ChatFormat", "JinjaFormat", "TemplateError", "TurnFormat",
           "builtin_format"]


class ChatFormat(Protocol):
    name: str

    def render(self, messages: Sequence[Message], add_generation_prompt: bool = True) -> str:
        """The prompt text for `messages`, without BOS (the tokenizer adds it)."""


@dataclass(frozen=True)
class TurnFormat:
    """A format built from per-role prefixes and suffixes."""

    name: str
    user: tuple[str, str]
    assistant: tuple[str, str]
    system: tuple[str, str] | None      # None: fold the system prompt into the first user turn
    generation_prompt: str

    def render(self, messages: Sequence[Message], add_generation_prompt: bool = True) -> str:
        parts: list[str] = []
        pending_system = ""
        for msg in messages:
            if msg.role == "system":
                if self.system is None:
                    pending_system = msg.content
                    continue
                pre, post = self.system
            elif msg.role == "user":
                pre, post = self.user
            else:
                pre, post = self.assistant
            content = msg.content
            if pending_system and msg.role == "user":
                content = f"{pending_system}\n\n{content}"
                pending_system = ""
            parts.append(f"{pre}{content}{post}")
        if add_generation_prompt:
            parts.append(self.generation_prompt)
        return "".join(parts)


GEMMA = TurnFormat("gemma", ("<start_of_turn>user\n", "<end_of_turn>\n"),
                   ("<start_of_turn>model\n", "<end_of_turn>\n"), None, "<start_of_turn>model\n")
CHATML = TurnFormat("chatml", ("<|im_start|>user\n", "<|im_end|>\n"),
                    ("<|im_start|>assistant\n", "<|im_end|>\n"),
                    ("<|im_start|>system\n", "<|im_end|>\n"), "<|im_start|>assistant\n")
LLAMA3 = TurnFormat("llama3",
                    ("<|start_header_id|>user<|end_header_id|>\n\n", "<|eot_id|>"),
                    ("<|start_header_id|>assistant<|end_header_id|>\n\n", "<|eot_id|>"),
                    ("<|start_header_id|>system<|end_header_id|>\n\n", "<|eot_id|>"),
                    "<|start_header_id|>assistant<|end_header_id|>\n\n")
PHI3 = TurnFormat("phi3", ("<|user|>\n", "<|end|>\n"), ("<|assistant|>\n", "<|end|>\n"),
                  ("<|system|>\n", "<|end|>\n"), "<|assistant|>\n")
LLAMA2 = TurnFormat("llama2", ("[INST] ", " [/INST]"), (" ", "</s>"), None, "")

BUILTIN_FORMATS: dict[str, TurnFormat] = {
    f.name: f for f in (GEMMA, CHATML, LLAMA3, PHI3, LLAMA2)}

_ARCH_FORMATS = {
    "gemma": "gemma", "gemma2": "gemma", "gemma3": "gemma", "gemma3n": "gemma",
    "phi3": "phi3", "llama": "llama3",
}


def builtin_format(architecture: str, vocab_has: set[str] | None = None) -> TurnFormat:
    """The built-in format for an architecture, refined by the special tokens the vocab has."""
    name = _ARCH_FORMATS.get(architecture, "chatml")
    if vocab_has is not None:
        if name == "llama3" and "<|start_header_id|>" not in vocab_has:
            name = "chatml" if "<|im_start|>" in vocab_has else "llama2"
        if name == "chatml" and "<|im_start|>" not in vocab_has and "[INST]" in vocab_has:
            name = "llama2"
    return BUILTIN_FORMATS[name]


class JinjaFormat:
    """The model's own chat template, rendered in Jinja's immutable sandbox with limits."""

    name = "gguf"

    def __init__(self, source: str, bos_token: str = "", eos_token: str = "",
                 limits: TemplateLimits = DEFAULT_LIMITS) -> None:
        self._env = LimitedSandbox(limits)
        self._template = self._env.compile_template(source)
        self._bos = bos_token
        self._eos = eos_token

    def render(self, messages: Sequence[Message], add_generation_prompt: bool = True) -> str:
        return self._env.render(
            self._template, sum(len(m.content) for m in messages),
            messages=[{"role": m.role, "content": m.content} for m in messages],
            add_generation_prompt=add_generation_prompt,
            bos_token=self._bos, eos_token=self._eos)
