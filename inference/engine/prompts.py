"""Builds the exact prompt for each mode and keeps it inside the context window."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

from inference.common.errors import PromptError, PromptTooLongError
from inference.engine.chat_formats import BuiltinFormat, ChatFormat, SystemMerged, TemplateError
from inference.engine.requests import GenerationRequest, Message, Mode
from inference.engine.template_choice import (
    TRIAL_CONVERSATION,
    TemplateChoice,
    builtin_label,
    choose_template,
    fallback_choice,
    system_note,
)
from inference.engine.user_text import PromptTokenizer, added_tokens

__all__ = ["TRIAL_CONVERSATION", "BuiltPrompt", "TemplateChoice", "build_prompt",
           "builtin_label", "choose_template", "fallback_choice", "min_reply_tokens"]

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
    prefix = _literal(tokenize, request.reply_prefix) if request.reply_prefix else []
    dropped = 0
    while True:
        try:
            text = fmt.render(messages)
        except TemplateError as exc:    # the template fails on this conversation
            fmt, label, warnings = _recovery(template, fmt, messages, exc)
            continue
        text, tokens = tokenizer.tokens(fmt, messages, text)
        text, tokens = text + request.reply_prefix, tokens + prefix
        if len(tokens) + reserve <= n_ctx or not _can_drop(messages):
            break
        messages, n = _drop_oldest_turn(messages)
        dropped += n
    if not warnings and isinstance(fmt, SystemMerged) and _first_turn_with_system(messages):
        warnings = (system_note(fmt),)  # said once: on the message the system prompt joins
    built = _fitted(text, tokens, label, dropped, n_ctx, reserve, request)
    return replace(built, warnings=warnings)


def _literal(tokenize: Tokenizer, text: str) -> list[int]:
    """`text`'s own tokens, special-looking text kept literal (a reply's text, to go on from)."""
    head, tail = added_tokens(tokenize)
    raw = tokenize(text, False)
    return raw[len(head):len(raw) - len(tail)]


def _recovery(template: TemplateChoice, failed: ChatFormat, messages: list[Message],
              exc: TemplateError) -> tuple[ChatFormat, str, tuple[str, ...]]:
    """The next format to try after `failed` raised `exc`: the same template with the system
    prompt in the first message, then the built-in fallback; else `exc` is raised."""
    own = template.format
    if failed is own and not isinstance(own, SystemMerged | BuiltinFormat) \
            and any(m.role == "system" for m in messages):
        merged = SystemMerged(own)
        return merged, template.label, (system_note(merged),)
    if template.fallback is not None and failed is not template.fallback:
        fallback = template.fallback
        return fallback, builtin_label(fallback), (
            f"Using the built-in {fallback.name} format for this reply: {exc}.",)
    raise exc


def _first_turn_with_system(messages: list[Message]) -> bool:
    return any(m.role == "system" for m in messages) and \
        sum(1 for m in messages if m.role == "user") == 1


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
