"""Conversations and their messages in SQLite (plain sqlite3; no Qt here).

WAL journal, foreign keys on, a busy timeout, `PRAGMA user_version` migrations (migrations.py).
Autocommit mode: every write is committed before the method returns (a crash loses nothing
written); multi-statement writes run in one transaction. Use a Store from one thread only.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from app.data.export import conversation_json, conversation_markdown
from app.data.migrations import migrate
from inference.common.errors import ParleyError

DEFAULT_TITLE = "New chat"
BUSY_TIMEOUT_S = 5.0

_CONV_COLUMNS = "id, title, mode, system_prompt, created_at, updated_at"
_MSG_COLUMNS = ("id, conversation_id, role, content, mode, model, sampling, stats, complete, "
                "finish_reason, created_at")


class StoreError(ParleyError):
    """The conversation database could not do what was asked."""


class NotFoundError(StoreError, LookupError):
    """No conversation (or message) with that id."""


@dataclass(frozen=True)
class Conversation:
    id: int
    title: str
    mode: str
    system_prompt: str
    created_at: float
    updated_at: float


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


@dataclass(frozen=True)
class DeletedConversation:
    """Everything `Store.delete` removed, so `Store.restore` can put it back (undo)."""

    conversation: Conversation
    messages: tuple[StoredMessage, ...]


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


class Store:
    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._last_time = 0.0
        self._conn = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_S, isolation_level=None)
        try:
            self._conn.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_S * 1000)}")
            self._conn.execute("PRAGMA journal_mode = WAL")
            self._conn.execute("PRAGMA synchronous = FULL")
            self._conn.execute("PRAGMA foreign_keys = ON")
            self._conn.create_function("parley_contains", 2, _contains, deterministic=True)
            migrate(self._conn)
        except BaseException as err:
            self._conn.close()
            if isinstance(err, sqlite3.DatabaseError):
                raise StoreError(f"{self.path} is not a usable conversation database "
                                 f"({err})") from err
            raise

    def create_conversation(self, title: str = DEFAULT_TITLE, mode: str = "chat",
                            system_prompt: str = "") -> Conversation:
        now = self._now()
        cur = self._conn.execute(
            "INSERT INTO conversations (title, mode, system_prompt, created_at, updated_at) "
            "VALUES (?, ?, ?, ?, ?)", (title, mode, system_prompt, now, now))
        return Conversation(int(cur.lastrowid or 0), title, mode, system_prompt, now, now)

    def get_conversation(self, conv_id: int) -> Conversation:
        row = self._conn.execute(
            f"SELECT {_CONV_COLUMNS} FROM conversations WHERE id = ?", (conv_id,)).fetchone()
        if row is None:
            raise NotFoundError(f"there is no conversation {conv_id}")
        return Conversation(*row)

    def list_conversations(self, search: str = "") -> list[Conversation]:
        """Newest (by updated_at) first; `search` matches the title or any message's content,
        ignoring case."""
        needle = search.strip()
        order = " ORDER BY updated_at DESC, id DESC"
        if not needle:
            rows = self._conn.execute(f"SELECT {_CONV_COLUMNS} FROM conversations{order}")
        elif needle.isascii():
            # LIKE is case-insensitive for ASCII and runs in C: fast on many messages.
            pattern = "%" + needle.replace("\\", "\\\\").replace("%", "\\%").replace(
                "_", "\\_") + "%"
            rows = self._conn.execute(
                f"SELECT {_CONV_COLUMNS} FROM conversations c WHERE c.title LIKE ?1 ESCAPE '\\' "
                "OR EXISTS (SELECT 1 FROM messages m WHERE m.conversation_id = c.id "
                f"AND m.content LIKE ?1 ESCAPE '\\'){order}", (pattern,))
        else:
            # Beyond ASCII, LIKE is case-sensitive: fold case in Python instead.
            rows = self._conn.execute(
                f"SELECT {_CONV_COLUMNS} FROM conversations c WHERE parley_contains(c.title, ?1) "
                "OR EXISTS (SELECT 1 FROM messages m WHERE m.conversation_id = c.id "
                f"AND parley_contains(m.content, ?1)){order}", (needle.casefold(),))
        return [Conversation(*row) for row in rows]

    def rename(self, conv_id: int, title: str) -> None:
        self._update_conversation(conv_id, "title", title)

    def set_system_prompt(self, conv_id: int, prompt: str) -> None:
        self._update_conversation(conv_id, "system_prompt", prompt)

    def delete(self, conv_id: int) -> DeletedConversation:
        with self._transaction():
            deleted = DeletedConversation(self.get_conversation(conv_id),
                                          tuple(self.messages(conv_id)))
            self._conn.execute("DELETE FROM conversations WHERE id = ?", (conv_id,))
        return deleted

    def restore(self, deleted: DeletedConversation) -> None:
        """Undo `delete`: the conversation and its messages come back with the same ids."""
        conv = deleted.conversation
        try:
            with self._transaction():
                self._conn.execute(
                    f"INSERT INTO conversations ({_CONV_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?)",
                    (conv.id, conv.title, conv.mode, conv.system_prompt, conv.created_at,
                     conv.updated_at))
                self._conn.executemany(
                    f"INSERT INTO messages ({_MSG_COLUMNS}) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                    [_message_row(m) for m in deleted.messages])
        except sqlite3.IntegrityError as err:
            raise StoreError(f"conversation {conv.id} could not be restored: {err}") from err

    def messages(self, conv_id: int) -> list[StoredMessage]:
        """The conversation's messages, oldest first."""
        rows = self._conn.execute(
            f"SELECT {_MSG_COLUMNS} FROM messages WHERE conversation_id = ? ORDER BY id",
            (conv_id,))
        return [_message_from_row(row) for row in rows]

    def add_message(self, conv_id: int, role: str, content: str, *, mode: str = "chat",
                    model: str = "", sampling: dict | None = None,
                    complete: bool = True) -> StoredMessage:
        """Append a message and bump the conversation's updated_at. The first user message
        of a conversation still titled "New chat" gives it its title."""
        now = self._now()
        sampling = dict(sampling or {})
        try:
            with self._transaction():
                cur = self._conn.execute(
                    "INSERT INTO messages (conversation_id, role, content, mode, model, "
                    "sampling, complete, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    (conv_id, role, content, mode, model, json.dumps(sampling), int(complete),
                     now))
                title = title_from_message(content) if role == "user" else ""
                self._conn.execute(
                    "UPDATE conversations SET updated_at = ?, title = CASE WHEN title = ? "
                    "AND ? != '' THEN ? ELSE title END WHERE id = ?",
                    (now, DEFAULT_TITLE, title, title, conv_id))
        except sqlite3.IntegrityError as err:
            if "FOREIGN KEY" in str(err):
                raise NotFoundError(f"there is no conversation {conv_id}") from err
            raise StoreError(f"the message could not be saved: {err}") from err
        return StoredMessage(int(cur.lastrowid or 0), conv_id, role, content, mode, model,
                             sampling, None, complete, None, now)

    def update_message(self, msg_id: int, content: str, *, complete: bool | None = None,
                       stats: dict | None = None, finish_reason: str | None = None,
                       durable: bool = True) -> bool:
        """Replace a message's content (and set the given fields): one UPDATE, committed.
        Returns False when the message no longer exists (its conversation was deleted).

        `durable=False` is for the partial reply saved twice a second while it streams: it
        skips the fsync on the GUI thread. The WAL still has it if Parley itself is killed;
        only a power cut can lose those last seconds, until the next durable commit (the
        reply's final save is one) writes them out with it."""
        if not durable:
            self._conn.execute("PRAGMA synchronous = NORMAL")
        try:
            return self._update(msg_id, content, complete, stats, finish_reason)
        finally:
            if not durable:
                self._conn.execute("PRAGMA synchronous = FULL")

    def _update(self, msg_id: int, content: str, complete: bool | None, stats: dict | None,
                finish_reason: str | None) -> bool:
        sets, params = ["content = ?"], [content]
        if complete is not None:
            sets.append("complete = ?")
            params.append(int(complete))
        if stats is not None:
            sets.append("stats = ?")
            params.append(json.dumps(stats))
        if finish_reason is not None:
            sets.append("finish_reason = ?")
            params.append(finish_reason)
        cur = self._conn.execute(f"UPDATE messages SET {', '.join(sets)} WHERE id = ?",
                                 (*params, msg_id))
        return cur.rowcount > 0

    def delete_messages_from(self, conv_id: int, msg_id: int) -> None:
        """Delete message `msg_id` and every later message of the conversation."""
        self._conn.execute("DELETE FROM messages WHERE conversation_id = ? AND id >= ?",
                           (conv_id, msg_id))

    def export_markdown(self, conv_id: int) -> str:
        return conversation_markdown(self.get_conversation(conv_id), self.messages(conv_id))

    def export_json(self, conv_id: int) -> dict:
        return conversation_json(self.get_conversation(conv_id), self.messages(conv_id))

    def integrity_ok(self) -> bool:
        rows = self._conn.execute("PRAGMA integrity_check").fetchall()
        return [tuple(r) for r in rows] == [("ok",)]

    def close(self) -> None:  # idempotent
        self._conn.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _now(self) -> float:
        """Wall-clock time, strictly increasing within this Store (so 'newest first' is
        well defined even when two writes share a clock tick)."""
        self._last_time = max(time.time(), self._last_time + 1e-6)
        return self._last_time

    def _update_conversation(self, conv_id: int, column: str, value: str) -> None:
        cur = self._conn.execute(f"UPDATE conversations SET {column} = ? WHERE id = ?",
                                 (value, conv_id))
        if cur.rowcount == 0:
            raise NotFoundError(f"there is no conversation {conv_id}")

    @contextmanager
    def _transaction(self) -> Iterator[None]:
        if self._conn.in_transaction:      # nested: the outer transaction commits
            yield
            return
        self._conn.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self._conn.execute("ROLLBACK")
            raise
        self._conn.execute("COMMIT")


def _contains(haystack: str | None, folded_needle: str) -> bool:
    return haystack is not None and folded_needle in haystack.casefold()


def _message_row(m: StoredMessage) -> tuple[Any, ...]:
    return (m.id, m.conversation_id, m.role, m.content, m.mode, m.model, json.dumps(m.sampling),
            None if m.stats is None else json.dumps(m.stats), int(m.complete), m.finish_reason,
            m.created_at)


def _message_from_row(row: tuple[Any, ...]) -> StoredMessage:
    (msg_id, conv_id, role, content, mode, model, sampling, stats, complete, finish_reason,
     created_at) = row
    return StoredMessage(msg_id, conv_id, role, content, mode, model,
                         _json_object(sampling) or {}, _json_object(stats), bool(complete),
                         finish_reason, created_at)


def _json_object(text: str | None) -> dict | None:
    if text is None:
        return None
    try:
        value = json.loads(text)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None
