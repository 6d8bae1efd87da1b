"""Conversations and their messages in SQLite (plain sqlite3; no Qt here).

WAL journal, foreign keys on, a busy timeout, `PRAGMA user_version` migrations (migrations.py).
Autocommit mode: every write is committed before the method returns (a crash loses nothing
written); multi-statement writes run in one transaction. Every sqlite3 error leaves as a
StoreError (store_errors.py). A Store opens its file read-write, read-only (a newer Parley's
schema: every write refused with `refusal`) or in memory (the folder cannot be written);
`open_history` (history_open.py) picks. Use a Store from one thread only.

A regenerated reply is kept beside the earlier ones as an alternative of its turn (records.py's
`Alternatives`); `messages` is the conversation as shown, one alternative per turn, and is what
the prompt, the transcript and the export are made of.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from enum import Enum
from pathlib import Path

from app.data import alternatives as turns
from app.data import inspections
from app.data.alternatives import MSG_COLUMNS as _MSG_COLUMNS
from app.data.export import conversation_json, conversation_markdown
from app.data.migrations import migrate, schema_version
from app.data.records import (
    DEFAULT_TITLE,
    Alternatives,
    Conversation,
    DeletedConversation,
    StoredMessage,
    message_from_row,
    message_row,
    title_from_message,
)
from app.data.recovery import Recovered, copy_readable
from app.data.store_errors import (
    NotFoundError,
    Problem,
    StoreError,
    reads,
    store_error,
    store_errors,
    writes,
)

__all__ = ["DEFAULT_TITLE", "Access", "Alternatives", "Conversation", "DeletedConversation",
           "NotFoundError", "Store", "StoreError", "StoredMessage", "title_from_message"]

BUSY_TIMEOUT_S = 5.0

_CONV_COLUMNS = "id, title, mode, system_prompt, created_at, updated_at"


class Access(Enum):
    """How a Store holds its database."""

    WRITABLE = "writable"      # the file, read-write, migrated to this version's schema
    READ_ONLY = "read-only"    # the file, read-only (written by a newer Parley)
    MEMORY = "memory"          # a database in memory: nothing outlives the process


class Store:
    def __init__(self, path: Path, access: Access = Access.WRITABLE, refusal: str = "") -> None:
        self.path = Path(path)
        self.access = access
        self.refusal = refusal            # why every write is refused ("" when writes work)
        self._last_time = 0.0
        try:
            if access is Access.WRITABLE:
                self.path.parent.mkdir(parents=True, exist_ok=True)
            self._conn = _connect(self.path, access)
        except OSError as err:
            raise StoreError(f"{self.path} cannot be created ({err.strerror or err})",
                             Problem.CANNOT_OPEN) from err
        except sqlite3.Error as err:
            raise _open_error(self.path, err) from err
        try:
            self._conn.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_S * 1000)}")
            if access is Access.WRITABLE:
                self._conn.execute("PRAGMA journal_mode = WAL")
                self._conn.execute("PRAGMA synchronous = FULL")
            self._conn.execute("PRAGMA foreign_keys = ON")
            self._conn.create_function("parley_contains", 2, _contains, deterministic=True)
            if access is Access.READ_ONLY:
                schema_version(self._conn)            # readable at all?
            else:
                migrate(self._conn)
        except BaseException as err:
            self._conn.close()
            if isinstance(err, sqlite3.Error):
                raise _open_error(self.path, err) from err
            raise

    def check(self) -> str:
        """SQLite's quick check of the whole file: "" when sound, else what it found."""
        try:
            rows = self._conn.execute("PRAGMA quick_check").fetchall()
        except sqlite3.DatabaseError as err:
            return str(err)
        found = [str(r[0]) for r in rows]
        return "" if found == ["ok"] else "; ".join(found[:3])

    def import_rows(self, source: Path) -> Recovered:
        """Copy every row that can be read from the database file `source` (a damaged one)."""
        with store_errors("save to"):
            return copy_readable(source, self._conn)

    @writes
    def set_inspect_tokens(self, conv_id: int, on: bool) -> None:
        """Whether the token inspector records this conversation's replies."""
        self._update_conversation(conv_id, "inspect_tokens", int(on))

    @reads
    def inspect_tokens(self, conv_id: int) -> bool:
        return inspections.enabled(self._conn, conv_id)

    @writes
    def save_inspection(self, msg_id: int, data: bytes) -> None:
        inspections.save(self._conn, msg_id, data)

    @reads
    def inspection(self, msg_id: int) -> bytes | None:
        """A reply's stored inspector record (inference.inspector.codec), None if none."""
        return inspections.load(self._conn, msg_id)

    @writes
    def create_conversation(self, title: str = DEFAULT_TITLE, mode: str = "chat",
                            system_prompt: str = "") -> Conversation:
        now = self._now()
        cur = self._conn.execute(
            "INSERT INTO conversations (title, mode, system_prompt, created_at, updated_at) "
            "VALUES (?, ?, ?, ?, ?)", (title, mode, system_prompt, now, now))
        return Conversation(int(cur.lastrowid or 0), title, mode, system_prompt, now, now)

    @reads
    def get_conversation(self, conv_id: int) -> Conversation:
        row = self._conn.execute(
            f"SELECT {_CONV_COLUMNS} FROM conversations WHERE id = ?", (conv_id,)).fetchone()
        if row is None:
            raise NotFoundError(f"there is no conversation {conv_id}")
        return Conversation(*row)

    @reads
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

    @writes
    def rename(self, conv_id: int, title: str) -> None:
        self._update_conversation(conv_id, "title", title)

    @writes
    def set_system_prompt(self, conv_id: int, prompt: str) -> None:
        self._update_conversation(conv_id, "system_prompt", prompt)

    @writes
    def delete(self, conv_id: int) -> DeletedConversation:
        with self._transaction():
            rows = self._conn.execute(f"SELECT {_MSG_COLUMNS} FROM messages "
                                      "WHERE conversation_id = ? ORDER BY id", (conv_id,)
                                      ).fetchall()
            deleted = DeletedConversation(self.get_conversation(conv_id),
                                          tuple(message_from_row(row) for row in rows))
            self._conn.execute("DELETE FROM conversations WHERE id = ?", (conv_id,))
        return deleted

    @writes
    def restore(self, deleted: DeletedConversation) -> None:
        """Undo `delete`: the conversation and its messages (every alternative, the same one
        shown) come back with the same ids."""
        conv = deleted.conversation
        try:
            with self._transaction():
                self._conn.execute(
                    f"INSERT INTO conversations ({_CONV_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?)",
                    (conv.id, conv.title, conv.mode, conv.system_prompt, conv.created_at,
                     conv.updated_at))
                self._conn.executemany(
                    f"INSERT INTO messages ({_MSG_COLUMNS}) VALUES ({', '.join('?' * 15)})",
                    [message_row(m) for m in deleted.messages])
        except sqlite3.IntegrityError as err:
            raise StoreError(f"conversation {conv.id} could not be restored: {err}") from err

    @reads
    def messages(self, conv_id: int) -> list[StoredMessage]:
        """The conversation's messages as shown (one alternative of each reply), oldest
        first, each with its `alternatives`."""
        rows = self._conn.execute(turns.SHOWN, (conv_id,))
        return [message_from_row(row[:-2], Alternatives(row[-2], row[-1])) for row in rows]

    @reads
    def alternatives(self, msg_id: int) -> list[StoredMessage]:
        """Every reply of message `msg_id`'s turn (itself alone when it is no reply), oldest
        first."""
        rows = turns.turn_rows(self._conn, msg_id)
        if rows is None:
            raise NotFoundError(f"there is no message {msg_id}")
        return [message_from_row(row, Alternatives(i, len(rows))) for i, row in enumerate(rows)]

    @writes
    def add_alternative(self, msg_id: int, *, mode: str = "chat", model: str = "",
                        sampling: dict | None = None, engine: str = "") -> StoredMessage:
        """A new, empty, incomplete reply for reply `msg_id`'s turn, shown from now on in its
        place (the earlier ones are kept); regenerating writes into it."""
        with self._transaction():
            alts = self.alternatives(msg_id)
            first = alts[0]
            if first.role != "assistant":
                raise StoreError(f"message {msg_id} is not a reply")
            new = self.add_message(first.conversation_id, "assistant", "", mode=mode,
                                   model=model, sampling=sampling, complete=False,
                                   alternative_of=first.turn, engine=engine)
        return replace(new, alternatives=Alternatives(len(alts), len(alts) + 1))

    @writes
    def show_alternative(self, msg_id: int, index: int) -> StoredMessage:
        """Show alternative `index` (from 0, oldest first) of reply `msg_id`'s turn instead of
        the one shown; returns it."""
        with self._transaction():
            alts = self.alternatives(msg_id)
            if not 0 <= index < len(alts):
                raise NotFoundError(f"reply {msg_id} has no alternative {index + 1}")
            chosen = alts[index]
            turns.hide_turn(self._conn, chosen.conversation_id, chosen.turn)
            turns.show(self._conn, chosen.id)
        return replace(chosen, shown=True)

    @writes
    def add_message(self, conv_id: int, role: str, content: str, *, mode: str = "chat",
                    model: str = "", sampling: dict | None = None,
                    complete: bool = True, reasoning: str = "",
                    alternative_of: int | None = None, engine: str = "") -> StoredMessage:
        """Append a message and bump the conversation's updated_at. The first user message
        of a conversation still titled "New chat" gives it its title. With `alternative_of`
        (a turn's first reply) it is that turn's newest alternative, and the one shown."""
        now = self._now()
        sampling = dict(sampling or {})
        try:
            with self._transaction():
                if alternative_of is not None:
                    turns.hide_turn(self._conn, conv_id, alternative_of)
                cur = self._conn.execute(
                    "INSERT INTO messages (conversation_id, role, content, mode, model, "
                    "sampling, complete, created_at, reasoning, alternative_of, engine) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (conv_id, role, content, mode, model, json.dumps(sampling), int(complete),
                     now, reasoning, alternative_of, engine))
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
                             sampling, None, complete, None, now, reasoning, alternative_of,
                             engine=engine)

    @writes
    def update_message(self, msg_id: int, content: str, *, complete: bool | None = None,
                       stats: dict | None = None, finish_reason: str | None = None,
                       reasoning: str | None = None, durable: bool = True) -> bool:
        """Replace a message's content (and set the given fields, `reasoning` its thinking):
        one UPDATE, committed. Returns False when the message no longer exists (its
        conversation was deleted).

        `durable=False` is for the partial reply saved twice a second while it streams: it
        skips the fsync on the GUI thread. The WAL still has it if Parley itself is killed;
        only a power cut can lose those last seconds, until the next durable commit (the
        reply's final save is one) writes them out with it."""
        if not durable:
            self._conn.execute("PRAGMA synchronous = NORMAL")
        try:
            return self._update(msg_id, content, complete, stats, finish_reason, reasoning)
        finally:
            if not durable:
                self._conn.execute("PRAGMA synchronous = FULL")

    def _update(self, msg_id: int, content: str, complete: bool | None, stats: dict | None,
                finish_reason: str | None, reasoning: str | None) -> bool:
        sets, params = ["content = ?"], [content]
        if reasoning is not None:
            sets.append("reasoning = ?")
            params.append(reasoning)
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

    @writes
    def delete_messages_from(self, conv_id: int, msg_id: int, show: int = 0) -> None:
        """Delete message `msg_id` and every later message of the conversation (a later
        turn's alternatives with it). A turn left with no alternative shown shows `show`,
        when it is one of them, else its newest."""
        with self._transaction():
            self._conn.execute("DELETE FROM messages WHERE conversation_id = ? AND id >= ?",
                               (conv_id, msg_id))
            turns.reshow(self._conn, conv_id, show)

    @reads
    def export_markdown(self, conv_id: int) -> str:
        return conversation_markdown(self.get_conversation(conv_id), self.messages(conv_id))

    @reads
    def export_json(self, conv_id: int) -> dict:
        return conversation_json(self.get_conversation(conv_id), self.messages(conv_id))

    @reads
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

    def _update_conversation(self, conv_id: int, column: str, value: str | int) -> None:
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
            if self._conn.in_transaction:      # SQLite may have rolled back already (disk full)
                self._conn.execute("ROLLBACK")
            raise
        self._conn.execute("COMMIT")


def _connect(path: Path, access: Access) -> sqlite3.Connection:
    if access is Access.MEMORY:
        return sqlite3.connect(":memory:", isolation_level=None)
    if access is Access.READ_ONLY:
        return sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True,
                               timeout=BUSY_TIMEOUT_S, isolation_level=None)
    return sqlite3.connect(path, timeout=BUSY_TIMEOUT_S, isolation_level=None)


def _open_error(path: Path, err: sqlite3.Error) -> StoreError:
    problem = store_error(err).problem
    return StoreError(f"{path} is not a usable conversation database ({err})", problem)


def _contains(haystack: str | None, folded_needle: str) -> bool:
    return haystack is not None and folded_needle in haystack.casefold()
