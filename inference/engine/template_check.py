"""Which chat template a model uses: decided the same way at load time and by `parley info`."""

from __future__ import annotations

from inference.common.errors import ParleyError
from inference.engine.prompts import TemplateChoice, choose_template
from inference.gguf.file import GGUFInfo
from inference.llama.native import NativeModel

# Special tokens whose presence in the vocabulary picks among the built-in formats.
_FORMAT_MARKERS = ("<|im_start|>", "<|start_header_id|>", "[INST]", "<start_of_turn>", "<|user|>")


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

    The trial render needs only the header. Only when it fails is the vocabulary read (no
    weights), so the fallback named is exactly the one a load picks.
    """
    if not info.has_chat_template:
        return None
    trial = choose_template(info.architecture, info.chat_template, "", "", set())
    if trial.problem is None:
        return None
    try:
        model = NativeModel(info.path, vocab_only=True)
    except ParleyError:
        return trial            # the vocabulary would not load; the header's guess stands
    try:
        choice = template_for(info, model)
    finally:
        model.close()
    return choice if choice.problem is not None else None


def _int_or(text: str | None, default: int) -> int:
    try:
        return int(text) if text is not None else default
    except ValueError:
        return default
