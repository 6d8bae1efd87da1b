"""Conversation export: Markdown for people, JSON for programs (no Qt, no database here).

Both hold the conversation as shown: of a regenerated reply, the alternative on screen (Markdown
notes "alternative 2 of 3"; JSON gives each message its `alternatives`), not the others."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import asdict
from typing import TYPE_CHECKING, Any

from app.data.records import ThinkingFacts

if TYPE_CHECKING:
    from app.data.store import Conversation, StoredMessage

JSON_FORMAT = "parley.conversation"
JSON_VERSION = 1

_ROLE_HEADINGS = {"user": "User", "assistant": "Assistant", "system": "System"}


def conversation_markdown(conv: Conversation, messages: Sequence[StoredMessage]) -> str:
    lines = [f"# {conv.title.strip() or 'Untitled'}", ""]
    lines.append(f"_Mode: {conv.mode} · created {_when(conv.created_at)} · "
                 f"updated {_when(conv.updated_at)}_")
    lines.append("")
    if conv.system_prompt.strip():
        lines += ["## System prompt", "", conv.system_prompt.strip(), ""]
    for msg in messages:
        heading = _ROLE_HEADINGS.get(msg.role, msg.role.title())
        if msg.role == "assistant" and msg.model:
            heading += f" ({msg.model})"
        lines += [f"## {heading}", ""]
        if msg.reasoning.strip():
            lines += [*thinking_quote(msg), ""]
        lines += [msg.content.rstrip(), ""]
        notes = []
        if not msg.complete:
            notes.append("incomplete")
        if msg.finish_reason and msg.finish_reason != "stop":
            notes.append(f"finished: {msg.finish_reason}")
        if msg.alternatives.several:
            notes.append(f"alternative {msg.alternatives.index + 1} of "
                         f"{msg.alternatives.count}")
        if notes:
            lines += [f"_({'; '.join(notes)})_", ""]
    return "\n".join(lines).rstrip() + "\n"


def conversation_json(conv: Conversation, messages: Sequence[StoredMessage]) -> dict[str, Any]:
    """A JSON-ready dict: the conversation, its messages (oldest first), and a format tag."""
    return {
        "format": JSON_FORMAT,
        "version": JSON_VERSION,
        "exported_at": time.time(),
        "conversation": asdict(conv),
        "messages": [asdict(m) for m in messages],
    }


def thinking_quote(msg: StoredMessage) -> list[str]:
    """A reply's thinking as a Markdown quote headed "Thinking" (with its tokens and time)."""
    facts = ThinkingFacts.of(msg.stats).describe()
    head = "> **Thinking**" + (f" ({facts})" if facts else "")
    body = [f"> {line}".rstrip() for line in msg.reasoning.strip().splitlines()]
    return [head, ">", *body]


def _when(timestamp: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M", time.localtime(timestamp))
