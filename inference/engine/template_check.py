"""Which chat template a model uses: decided the same way at load time and by `parley info`."""

from __future__ import annotations

import re

from inference.common.errors import ParleyError
from inference.engine.chat_formats import FORMAT_MARKERS, builtin_format
from inference.engine.template_choice import (
    DEFAULT_KEY,
    FILE_TEMPLATE,
    TemplateChoice,
    choose_template,
    fallback_choice,
)
from inference.engine.template_limits import DEFAULT_LIMITS, TemplateError, check_source_length
from inference.engine.template_source import TemplateSource
from inference.gguf.file import GGUFInfo
from inference.llama.chat_builtin import model_chat_template
from inference.llama.native import NativeModel

# How inference.gguf's header reader summarises a string too long to keep.
_SUMMARISED = re.compile(r"\[string of ([\d,]+) bytes\]")
_TOOL_USE = "tool_use"      # llama.cpp's one named template, used when the default is missing


def template_for(info: GGUFInfo, model: NativeModel,
                 source: TemplateSource = FILE_TEMPLATE) -> TemplateChoice:
    """The template a loaded model (or its vocabulary alone) will use."""
    bos = model.token_text(model.bos) if model.bos >= 0 else ""
    eos_id = _int_or(model.meta("tokenizer.ggml.eos_token_id"), -1)
    eos = model.token_text(eos_id) if 0 <= eos_id < model.n_vocab else ""
    vocab_has = {t for t in FORMAT_MARKERS
                 if len(model.tokenize(t, add_special=False, parse_special=True)) == 1}
    names = template_names(info)
    key, text = DEFAULT_KEY, model_chat_template(model)
    if not text and _TOOL_USE in names:         # as llama.cpp's server does
        key, text = f"{DEFAULT_KEY}.{_TOOL_USE}", model_chat_template(model, _TOOL_USE)
    keys = ([DEFAULT_KEY] if info.has_chat_template else []) + [
        f"{DEFAULT_KEY}.{name}" for name in names]
    return choose_template(info.architecture, text, bos, eos, vocab_has, source=source,
                           template_key=key, templates=tuple(keys))


def template_names(info: GGUFInfo) -> tuple[str, ...]:
    """The names of the file's named chat templates (`tokenizer.chat_template.NAME` keys)."""
    prefix = DEFAULT_KEY + "."
    return tuple(sorted(key[len(prefix):] for key in info.metadata if key.startswith(prefix)))


def file_template_problem(info: GGUFInfo) -> TemplateChoice | None:
    """For a file whose own chat template will not be used: the fallback and why; else None."""
    choice = file_template_choice(info)
    return choice if choice is not None and choice.problem is not None else None


def file_template_choice(info: GGUFInfo) -> TemplateChoice | None:
    """The choice a load makes for a file with a chat template (None without one), with its
    problem or notes (a system prompt joining the first message).

    The check is the load's own (`template_for`, on the vocabulary alone, no weights): the same
    template text, BOS and EOS, trial conversation and limits. Only when the vocabulary will
    not load is the header's text tried instead.
    """
    if not info.has_chat_template:
        return None
    try:
        model = NativeModel(info.path, vocab_only=True)
    except ParleyError:
        return _header_choice(info)  # the vocabulary would not load; the header's guess stands
    try:
        return template_for(info, model)
    finally:
        model.close()


def _header_choice(info: GGUFInfo) -> TemplateChoice:
    text = info.chat_template or ""
    summary = _SUMMARISED.fullmatch(text)
    if summary:                 # too long for the header reader to keep
        try:
            check_source_length(int(summary.group(1).replace(",", "")), DEFAULT_LIMITS)
        except TemplateError as exc:
            return fallback_choice(builtin_format(info.architecture, set()), str(exc))
    return choose_template(info.architecture, text, "", "", set())


def _int_or(text: str | None, default: int) -> int:
    try:
        return int(text) if text is not None else default
    except ValueError:
        return default
