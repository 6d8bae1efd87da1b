"""Which chat template a model uses: decided the same way at load time and by `parley info`."""

from __future__ import annotations

import re

from inference.common.errors import ParleyError
from inference.engine.chat_formats import builtin_format
from inference.engine.prompts import TemplateChoice, choose_template, fallback_choice
from inference.engine.template_limits import DEFAULT_LIMITS, TemplateError, check_source_length
from inference.gguf.file import GGUFInfo
from inference.llama.native import NativeModel

# Special tokens whose presence in the vocabulary picks among the built-in formats.
_FORMAT_MARKERS = ("<|im_start|>", "<|start_header_id|>", "[INST]", "<start_of_turn>", "<|user|>")
# How inference.gguf's header reader summarises a string too long to keep.
_SUMMARISED = re.compile(r"\[string of ([\d,]+) bytes\]")


def template_for(info: GGUFInfo, model: NativeModel) -> TemplateChoice:
    """The template a loaded model (or its vocabulary alone) will use."""
    bos = model.token_text(model.bos) if model.bos >= 0 else ""
    eos_id = _int_or(model.meta("tokenizer.ggml.eos_token_id"), -1)
    eos = model.token_text(eos_id) if 0 <= eos_id < model.n_vocab else ""
    vocab_has = {t for t in _FORMAT_MARKERS
                 if len(model.tokenize(t, add_special=False, parse_special=True)) == 1}
    return choose_template(info.architecture, model.chat_template(), bos, eos, vocab_has)


def file_template_problem(info: GGUFInfo) -> TemplateChoice | None:
    """For a file whose own chat template will not be used: the fallback and why; else None.

    The check is the load's own (`template_for`, on the vocabulary alone, no weights): the same
    template text, BOS and EOS, trial conversation and limits. Only when the vocabulary will
    not load is the header's text tried instead.
    """
    if not info.has_chat_template:
        return None
    try:
        model = NativeModel(info.path, vocab_only=True)
    except ParleyError:
        choice = _header_choice(info)  # the vocabulary would not load; the header's guess stands
    else:
        try:
            choice = template_for(info, model)
        finally:
            model.close()
    return choice if choice.problem is not None else None


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
