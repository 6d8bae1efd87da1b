"""Builds the exact prompt for each mode and keeps it inside the context window."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from inference.common.errors import PromptError, PromptTooLongError
from inference.engine.chat_formats import ChatFormat, JinjaFormat, TemplateError, builtin_format
from inference.engine.requests import GenerationRequest, Message, Mode

Tokenizer = Callable[[str, bool], list[int]]   # (text, parse_special) → tokens incl. BOS


@dataclass(frozen=True)
class BuiltPrompt:
    text: str
    tokens: list[int]
    template: str
    dropped_turns: int
    max_tokens: int
    context_capped: bool = False    # max_tokens is what the context has left, not the user's


@dataclass(frozen=True)
class TemplateChoice:
    format: ChatFormat
    label: str                      # shown to the user, e.g. "gguf" or "gemma (built-in)"
    problem: str | None = None      # why the model's own template is not used

    @property
    def warning(self) -> str | None:
        """The sentence the user is told when the model's own template is not used."""
        if self.problem is None:
            return None
        return f"Using the built-in {self.format.name} format: {self.problem}."


def choose_template(architecture: str, gguf_template: str | None, bos: str, eos: str,
                    vocab_has: set[str]) -> TemplateChoice:
    """The model's own template if it renders safely, else the architecture's built-in."""
    fallback = builtin_format(architecture, vocab_has)
    label = f"{fallback.name} (built-in)"
    if not gguf_template:
        return TemplateChoice(fallback, label)
    try:
        fmt = JinjaFormat(gguf_template, bos, eos)
        fmt.render([Message("user", "hi")])   # a trial render trips the sandbox early
    except TemplateError as exc:
        return TemplateChoice(fallback, label, str(exc))
    return TemplateChoice(fmt, "gguf (the model's own template)")


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
    dropped = 0
    while True:
        text = template.format.render(messages)
        if bos_text and text.startswith(bos_text):
            text = text[len(bos_text):]     # the tokenizer adds BOS itself
        tokens = tokenize(text, True)
        if len(tokens) + reserve <= n_ctx or not _can_drop(messages):
            break
        messages, n = _drop_oldest_turn(messages)
        dropped += n
    return _fitted(text, tokens, template.label, dropped, n_ctx, reserve, request)


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
