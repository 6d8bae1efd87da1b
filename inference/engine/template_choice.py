"""Which chat format a model's prompts use: the file's own template, the user's own, or
llama.cpp's built-in, each tried on a real conversation before it is used."""

from __future__ import annotations

from dataclasses import dataclass

from inference.engine.chat_formats import (
    BuiltinFormat,
    ChatFormat,
    JinjaFormat,
    SystemMerged,
    builtin_format,
)
from inference.engine.requests import Message
from inference.engine.template_limits import (
    DEFAULT_LIMITS,
    SUBJECT,
    TemplateError,
    TemplateLimits,
)
from inference.engine.template_source import TemplateKind, TemplateSource
from inference.llama.chat_builtin import builtin_template_names

DEFAULT_KEY = "tokenizer.chat_template"      # the GGUF key of a model's default template
CUSTOM_SUBJECT = "the custom chat template"
FILE_TEMPLATE = TemplateSource()             # the default: the model file's own template


@dataclass(frozen=True)
class TemplateChoice:
    format: ChatFormat
    label: str                      # shown to the user, e.g. "gemma (llama.cpp built-in)"
    problem: str | None = None      # why the model's own template is not used
    fallback: ChatFormat | None = None  # used for a conversation the model's template fails on
    notes: tuple[str, ...] = ()     # said at load: the system prompt joins the first message
    templates: tuple[str, ...] = ()  # the file's templates by key, the default one first

    @property
    def warning(self) -> str | None:
        """What the user is told at load: the built-in used instead, and any notes."""
        parts = [*self.notes]
        if self.problem is not None:
            parts.insert(0, f"Using the built-in {self.format.name} format: {self.problem}.")
        return " ".join(parts) or None

    @property
    def merges_system(self) -> bool:
        """Whether the system prompt is put into the first user message."""
        return isinstance(self.format, SystemMerged)


# What a template must render before it is used: a system prompt and several turns of real text
# (the same in `parley info` and at load time). A template that refuses the system role is used
# with the system prompt joined to the first user message.
TRIAL_CONVERSATION: tuple[Message, ...] = (
    Message("system", "You are a helpful assistant. Answer briefly and plainly."),
    Message("user", "Hello! What is a \"context window\", in one or two sentences?"),
    Message("assistant", "It is how much text, counted in tokens, the model can see at "
                         "once.\nOlder text beyond it is forgotten."),
    Message("user", "Thanks. Why does my café's menu — ünïcode, 日本語 and all — cost more "
                    "tokens than plain English?"),
    Message("assistant", "Rarer characters are split into more pieces, so each costs more."),
    Message("user", "Write one line of Python that prints {'a': 1} and 2 < 3 & 4 > 1."),
)


def choose_template(architecture: str, gguf_template: str | None, bos: str, eos: str,
                    vocab_has: set[str], limits: TemplateLimits = DEFAULT_LIMITS,
                    source: TemplateSource = FILE_TEMPLATE, *,
                    template_key: str = DEFAULT_KEY, templates: tuple[str, ...] = ()
                    ) -> TemplateChoice:
    """The format a model's prompts use.

    FILE: the model's own template (`gguf_template`, read from `template_key`) if it renders the
    trial conversation within its limits, else llama.cpp's built-in, with the reason. BUILTIN:
    llama.cpp's built-in for this model. CUSTOM: the user's template; one that does not parse or
    render raises TemplateError (never a silent fallback).
    """
    builtin = builtin_format(architecture, vocab_has, gguf_template)
    if source.kind is TemplateKind.BUILTIN:
        return TemplateChoice(builtin, builtin_label(builtin), templates=templates)
    if source.kind is TemplateKind.CUSTOM:
        own = _named_builtin(source.text)
        if own is not None:
            return TemplateChoice(own, builtin_label(own), templates=templates)
        fmt = _tried(JinjaFormat(source.text, bos, eos, limits, name="custom",
                                 subject=CUSTOM_SUBJECT))
        label = f"custom template ({source.origin})" if source.origin else "custom template"
        return TemplateChoice(fmt, label, notes=_notes(fmt), templates=templates)
    if not gguf_template or not gguf_template.strip():
        return TemplateChoice(builtin, builtin_label(builtin), templates=templates)
    named = _named_builtin(gguf_template)      # llama.cpp names one for a few popular files
    if named is not None:
        return TemplateChoice(named, builtin_label(named), templates=templates)
    try:
        fmt = _tried(JinjaFormat(gguf_template, bos, eos, limits))
    except TemplateError as exc:
        return fallback_choice(builtin, str(exc), templates)
    return TemplateChoice(fmt, f"the model's own template ({template_key})", fallback=builtin,
                          notes=_notes(fmt), templates=templates)


def fallback_choice(fallback: ChatFormat, problem: str,
                    templates: tuple[str, ...] = ()) -> TemplateChoice:
    """The built-in format, used because the model's own template cannot be (`problem`)."""
    return TemplateChoice(fallback, builtin_label(fallback), problem, templates=templates)


def builtin_label(fmt: ChatFormat) -> str:
    return f"{fmt.name} (llama.cpp built-in)"


def system_note(fmt: ChatFormat) -> str:
    """The sentence saying that the system prompt goes into the first message."""
    subject = getattr(getattr(fmt, "inner", fmt), "subject", "the chat template")
    subject = "this model's chat template" if subject == SUBJECT else subject
    return (f"{subject[0].upper()}{subject[1:]} does not accept a system prompt; it is added "
            f"to your first message.")


def _tried(fmt: JinjaFormat) -> ChatFormat:
    """The template as it renders the trial conversation: as it is, or, when it refuses the
    system role, with the system prompt joined to the first user message."""
    try:
        fmt.render(TRIAL_CONVERSATION)
        return fmt
    except TemplateError:
        merged = SystemMerged(fmt)
        merged.render(TRIAL_CONVERSATION)      # a template failing for another reason raises
        return merged


def _notes(fmt: ChatFormat) -> tuple[str, ...]:
    return (system_note(fmt),) if isinstance(fmt, SystemMerged) else ()


def _named_builtin(text: str) -> BuiltinFormat | None:
    name = text.strip()
    return BuiltinFormat(name) if name in builtin_template_names() else None
