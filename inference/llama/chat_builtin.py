"""llama.cpp's own chat formats: its built-in templates (`llama_chat_apply_template`,
`llama_chat_builtin_templates`) and the chat templates a loaded model carries
(`llama_model_chat_template`, also the named ones such as `tool_use`)."""

from __future__ import annotations

import ctypes
import functools
from collections.abc import Sequence

import llama_cpp

from inference.llama.native import NativeModel

# A conversation whose rendering tells the built-in formats apart (system, tool and tool-call
# turns, and text with spaces around it, which some formats trim): two formats that render it
# the same are told apart by nothing Parley sends.
_PROBE: tuple[tuple[str, str], ...] = (
    ("system", " S1 "), ("user", " U1 "), ("assistant", " A1 "), ("tool", "T1"),
    ("assistant_tool_call", "C1"), ("user", "U2\n"), ("assistant", "A2"), ("user", "U3"))
UNNAMED = "detected"        # a format llama.cpp recognises but lists under no name


@functools.cache
def builtin_template_names() -> tuple[str, ...]:
    """The names llama.cpp's built-in templates go by ("chatml", "gemma", "llama3", …)."""
    count = llama_cpp.llama_chat_builtin_templates(None, 0)
    names = (ctypes.c_char_p * max(count, 0))()
    llama_cpp.llama_chat_builtin_templates(names, count)
    return tuple(name.decode("utf-8") for name in names if name)


def apply_builtin(template: str, messages: Sequence[tuple[str, str]],
                  add_assistant: bool = True) -> str | None:
    """The prompt llama.cpp's built-in format renders for (role, content) messages; `template`
    is a built-in's name or a template's text, from which llama.cpp picks the built-in by its
    markers. None when llama.cpp recognises no built-in format in it.

    A NUL character cannot cross to C (it would end the text there): it becomes U+FFFD.
    """
    encoded = [(role.encode("utf-8"), content.replace("\0", "\ufffd").encode("utf-8"))
               for role, content in messages]
    chat = (llama_cpp.llama_chat_message * len(encoded))(
        *(llama_cpp.llama_chat_message(role, content) for role, content in encoded))
    capacity = 2 * sum(len(content) for _, content in encoded) + 4096
    tmpl = template.encode("utf-8")
    for _ in range(2):
        buf = ctypes.create_string_buffer(capacity)
        n = llama_cpp.llama_chat_apply_template(tmpl, chat, len(encoded), add_assistant, buf,
                                                capacity)
        if n < 0:
            return None
        if n <= capacity:
            return buf.raw[:n].decode("utf-8", "replace")
        capacity = n + 1            # llama.cpp said how much it needs
    return None


def detect_builtin(template: str) -> str | None:
    """The name of the built-in format llama.cpp picks for `template` (a name, a template's text
    or a string of marker tokens), found as the built-in that renders the same; None when
    llama.cpp recognises none."""
    if template in builtin_template_names():
        return template
    rendered = apply_builtin(template, _PROBE)
    if rendered is None:
        return None
    for name in builtin_template_names():
        if _probe_rendering(name) == rendered:
            return name
    return UNNAMED


@functools.cache
def _probe_rendering(name: str) -> str | None:
    return apply_builtin(name, _PROBE)


def model_chat_template(model: NativeModel, name: str | None = None) -> str | None:
    """The model's chat template (`tokenizer.chat_template`, or `tokenizer.chat_template.NAME`),
    whole; llama.cpp answers with a built-in's name for a few popular files that have none."""
    raw = llama_cpp.llama_model_chat_template(model.ptr, name.encode("utf-8") if name else None)
    return raw.decode("utf-8", "replace") if raw else None
