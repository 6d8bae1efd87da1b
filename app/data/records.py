"""The store's value objects: a conversation, a stored message and where it stands among its
turn's alternatives, a deleted conversation (for undo), their rows, and the title a first message
gives (plain Python; no sqlite3, no Qt)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

DEFAULT_TITLE = "New chat"


@dataclass(frozen=True)
class Conversation:
    id: int
    title: str
    mode: str
    system_prompt: str
    created_at: float
    updated_at: float


@dataclass(frozen=True)
class Alternatives:
    """Where a reply stands among its turn's replies (the first and each regenerated one,
    oldest first): number `index` (from 0) of `count`."""

    index: int = 0
    count: int = 1

    @property
    def several(self) -> bool:
        """Whether there is more than one reply to choose from."""
        return self.count > 1

    @property
    def label(self) -> str:
        """"2/3": the reply shown, of how many."""
        return f"{self.index + 1}/{self.count}"

    def step(self, by: int) -> int | None:
        """The index `by` places on (-1: the previous one), or None past either end."""
        target = self.index + by
        return target if 0 <= target < self.count else None


@dataclass(frozen=True)
class StoredMessage:
    id: int
    conversation_id: int
    role: str
    content: str
    mode: str
    model: str
    sampling: dict
    stats: dict | None
    complete: bool
    finish_reason: str | None
    created_at: float
    reasoning: str = ""          # an assistant reply's thinking, kept apart from its answer
    alternative_of: int | None = None   # a regenerated reply: its turn's first reply
    shown: bool = True           # the alternative shown of its turn (the others are kept)
    alternatives: Alternatives = Alternatives()   # where it stands in its turn (as read)
    engine: str = ""             # which engine answered: "" this computer, else a remote's name

    @property
    def turn(self) -> int:
        """Its turn: the id of the turn's first reply (every other message is a turn alone)."""
        return self.alternative_of or self.id


@dataclass(frozen=True)
class DeletedConversation:
    """Everything `Store.delete` removed (every alternative too), so `Store.restore` can put it
    back (undo)."""

    conversation: Conversation
    messages: tuple[StoredMessage, ...]


@dataclass(frozen=True)
class ThinkingFacts:
    """How much a reply thought, kept in its stats JSON: the output tokens up to the end of its
    thinking, and the seconds from its first token to its last thinking token (None: unknown)."""

    tokens: int = 0
    seconds: float | None = None

    @classmethod
    def of(cls, stats: dict | None) -> ThinkingFacts:
        stats = stats or {}
        tokens, seconds = stats.get("reasoning_tokens"), stats.get("reasoning_s")
        return cls(tokens if isinstance(tokens, int) else 0,
                   float(seconds) if isinstance(seconds, int | float) else None)

    def added_to(self, stats: dict) -> dict:
        """`stats` with these facts in it."""
        return {**stats, "reasoning_tokens": self.tokens, "reasoning_s": self.seconds}

    def describe(self) -> str:
        """"312 tokens · 4.1 s", or what of it is known."""
        facts = [f"{self.tokens} tokens"] if self.tokens else []
        if self.seconds is not None:
            facts.append(f"{self.seconds:.1f} s")
        return " · ".join(facts)


def title_from_message(text: str, limit: int = 48) -> str:
    """A conversation title from a message: its first non-blank line, trimmed, with an ellipsis
    when longer than `limit` characters (cut at a word boundary where one is near)."""
    line = next((ln for ln in text.splitlines() if ln.strip()), "")
    line = " ".join(line.split())
    if len(line) <= limit:
        return line
    cut = line[: max(limit - 1, 1)]
    space = cut.rfind(" ")
    if space >= limit // 2:
        cut = cut[:space]
    return cut.rstrip(" .,;:-") + "…"


def message_row(m: StoredMessage) -> tuple[Any, ...]:
    return (m.id, m.conversation_id, m.role, m.content, m.mode, m.model, json.dumps(m.sampling),
            None if m.stats is None else json.dumps(m.stats), int(m.complete), m.finish_reason,
            m.created_at, m.reasoning, m.alternative_of, int(m.shown), m.engine)


def message_from_row(row: tuple[Any, ...],
                     alternatives: Alternatives | None = None) -> StoredMessage:
    (msg_id, conv_id, role, content, mode, model, sampling, stats, complete, finish_reason,
     created_at, reasoning, alternative_of, shown, engine) = row
    return StoredMessage(msg_id, conv_id, role, content, mode, model,
                         json_object(sampling) or {}, json_object(stats), bool(complete),
                         finish_reason, created_at, reasoning or "", alternative_of,
                         bool(shown), alternatives or Alternatives(), engine or "")


def json_object(text: str | None) -> dict | None:
    if text is None:
        return None
    try:
        value = json.loads(text)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None
