"""Builds the exact prompt for each mode and keeps it inside the context window."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

from inference.common.errors import PromptError, PromptTooLongError
from inference.engine.chat_formats import (
    ChatFormat,
    JinjaFormat,
    TemplateError,
    TurnFormat,
    builtin_format,
)
from inference.engine.requests import GenerationRequest, Message, Mode
from inference.engine.template_limits import DEFAULT_LIMITS, TemplateLimits
from inference.engine.user_text import PromptTokenizer

Tokenizer = Callable[[str, bool], list[int]]   # (text, parse_special) → tokens incl. BOS


@dataclass(frozen=True)
class BuiltPrompt:
    text: str
    tokens: list[int]
    template: str
    dropped_turns: int
    max_tokens: int
    context_capped: bool = False    # max_tokens is what the context has left, not the user's
    warnings: tuple[str, ...] = ()  # e.g. the model's template failed on this conversation


@dataclass(frozen=True)
class TemplateChoice:
    format: ChatFormat
    label: str                      # shown to the user, e.g. "gguf" or "gemma (built-in)"
    problem: str | None = None      # why the model's own template is not used
    fallback: TurnFormat | None = None  # used for a conversation the model's template fails on

    @property
    def warning(self) -> str | None:
        """The sentence the user is told when the model's own template is not used."""
        if self.problem is None:
            return None
        return f"Using the built-in {self.format.name} format: {self.problem}."


# What a template must render before it is used: a system prompt and several turns of real text
# (the same in `parley info` and at load time). A template that refuses system prompts is still
# used when the conversation has none.
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
                    vocab_has: set[str], limits: TemplateLimits = DEFAULT_LIMITS
                    ) -> TemplateChoice:
    """The model's own template if it renders the trial conversation within its limits, else
    the architecture's built-in."""
    fallback = builtin_format(architecture, vocab_has)
    if not gguf_template:
        return TemplateChoice(fallback, builtin_label(fallback))
    try:
        fmt = JinjaFormat(gguf_template, bos, eos, limits)
        _trial(fmt)
    except TemplateError as exc:
        return fallback_choice(fallback, str(exc))
    return TemplateChoice(fmt, "gguf (the model's own template)", fallback=fallback)


def fallback_choice(fallback: TurnFormat, problem: str) -> TemplateChoice:
    """The built-in format, used because the model's own template cannot be (`problem`)."""
    return TemplateChoice(fallback, builtin_label(fallback), problem)


def builtin_label(fmt: ChatFormat) -> str:
    return f"{fmt.name} (built-in)"


def _trial(fmt: JinjaFormat) -> None:
    try:
        fmt.render(TRIAL_CONVERSATION)
    except TemplateError:
        fmt.render(TRIAL_CONVERSATION[1:])    # a template that refuses system prompts


def min_reply_tokens(n_ctx: int, max_tokens: int) -> int:
    """Room kept for the reply when trimming history: up to a quarter of the context."""
    return max(1, min(max_tokens, n_ctx // 4))


def build_prompt(request: GenerationRequest, template: TemplateChoice, tokenize: Tokenizer,
                 n_ctx: int, bos_text: str = "") -> BuiltPrompt:
    """Render and tokenize the request; trim old chat turns so the reply has room."""
    reserve = min_reply_tokens(n_ctx, request.sampling.max_tokens)
    if request.mode is Mode.TEXT:
        if not request.text.strip():
            raise PromptError("There is no text to continue. Type or paste some text first.")
        tokens = tokenize(request.text, False)
        return _fitted(request.text, tokens, "none (raw text)", 0, n_ctx, reserve, request)

    messages = _messages_for(request)
    tokenizer = PromptTokenizer(tokenize, bos_text, request.parse_special_in_user_text)
    fmt, label, warnings = template.format, template.label, ()
    dropped = 0
    while True:
        try:
            text = fmt.render(messages)
        except TemplateError as exc:    # the model's template fails on this conversation
            if template.fallback is None or fmt is template.fallback:
                raise
            fmt, label = template.fallback, builtin_label(template.fallback)
            warnings = (f"Using the built-in {fmt.name} format for this reply: {exc}.",)
            continue
        text, tokens = tokenizer.tokens(fmt, messages, text)
        if len(tokens) + reserve <= n_ctx or not _can_drop(messages):
            break
        messages, n = _drop_oldest_turn(messages)
        dropped += n
    built = _fitted(text, tokens, label, dropped, n_ctx, reserve, request)
    return replace(built, warnings=warnings)


def _messages_for(request: GenerationRequest) -> list[Message]:
    system = [Message("system", request.system)] if request.system.strip() else []
    if request.mode is Mode.INSTRUCT:
        if not request.text.strip():
            raise PromptError("The instruction is empty. Write what the model should do.")
        return system + [Message("user", request.text)]
    history = [m for m in request.messages if m.role != "system"]
    if not history or history[-1].role != "user":
        raise PromptError("The conversation must end with a message from you.")
    if not history[-1].content.strip():
        raise PromptError("The message is empty. Type something to send.")
    return system + history


def _can_drop(messages: list[Message]) -> bool:
    return sum(1 for m in messages if m.role != "system") > 1


def _drop_oldest_turn(messages: list[Message]) -> tuple[list[Message], int]:
    """Remove the oldest user turn with its reply (the system prompt is kept)."""
    first = next(i for i, m in enumerate(messages) if m.role != "system")
    end = first + 1
    while end < len(messages) - 1 and messages[end].role == "assistant":
        end += 1
    return messages[:first] + messages[end:], end - first


def _fitted(text: str, tokens: list[int], template: str, dropped: int, n_ctx: int,
            reserve: int, request: GenerationRequest) -> BuiltPrompt:
    if len(tokens) + reserve > n_ctx:
        raise PromptTooLongError(
            f"The prompt is {len(tokens):,} tokens, but the context holds {n_ctx:,} "
            f"and {reserve:,} must stay free for the reply. Shorten the prompt, lower max "
            f"tokens, or raise the context size.")
    room = n_ctx - len(tokens)
    asked = request.sampling.max_tokens
    return BuiltPrompt(text, tokens, template, dropped, min(asked, room), asked > room)
