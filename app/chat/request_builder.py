"""Building the GenerationRequest each mode sends (pure functions, easy to test)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace

from app.data.store import StoredMessage
from inference.engine.requests import GenerationRequest, Message, Mode
from inference.engine.sampling import SamplingParams


@dataclass(frozen=True)
class RunSettings:
    """What the settings panel says right now: sampling, system prompt, model label, and
    which engine answers ("" this computer, else the remote engine's name)."""

    sampling: SamplingParams = field(default_factory=SamplingParams)
    system_prompt: str = ""
    model: str = ""
    engine: str = ""


def chat_history(messages: Iterable[StoredMessage]) -> list[Message]:
    """A conversation's stored messages (oldest first) as the turns a chat request is built
    from: each reply with its thinking, for the templates that read `reasoning_content`."""
    return [Message(m.role, m.content, m.reasoning if m.role == "assistant" else "")
            for m in messages]


def preview_history(history: Iterable[Message], composer_text: str) -> list[Message]:
    """What "Show prompt" renders: the history with the unsent text as your next turn; with
    nothing typed after a reply, the prompt of that reply (the history up to your last
    message)."""
    turns = list(history)
    if composer_text.strip():
        return [*turns, Message("user", composer_text)]
    last_user = max((i for i, m in enumerate(turns) if m.role == "user"), default=-1)
    return turns[: last_user + 1]


def chat_request(history: Iterable[Message], settings: RunSettings) -> GenerationRequest:
    """The conversation so far, ending with the user's turn (replies with no answer left out)."""
    messages = tuple(m for m in history
                     if m.role in ("user", "assistant") and (m.content or m.role == "user"))
    # Beam search is a Text and Instruct mode setting: a chat reply streams, so it samples.
    return GenerationRequest(mode=Mode.CHAT, messages=messages,
                             system=settings.system_prompt.strip(),
                             sampling=replace(settings.sampling, beams=0))


def text_request(document: str, settings: RunSettings) -> GenerationRequest:
    """Text mode: continue the document exactly as written, no template, no system prompt."""
    return GenerationRequest(mode=Mode.TEXT, text=document, sampling=settings.sampling)


def instruct_request(instruction: str, system: str,
                     settings: RunSettings) -> GenerationRequest:
    """Instruct mode: an optional system prompt and one instruction, no history."""
    return GenerationRequest(mode=Mode.INSTRUCT, text=instruction, system=system.strip(),
                             sampling=settings.sampling)
