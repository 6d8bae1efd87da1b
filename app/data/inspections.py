"""The token inspector's stored records in SQL (plain sqlite3; the Store's methods call these):
one compact record per reply (inference.inspector.codec's bytes), and whether a conversation
records them at all."""

from __future__ import annotations

import sqlite3

from app.data.store_errors import NotFoundError


def enabled(conn: sqlite3.Connection, conv_id: int) -> bool:
    row = conn.execute("SELECT inspect_tokens FROM conversations WHERE id = ?",
                       (conv_id,)).fetchone()
    if row is None:
        raise NotFoundError(f"there is no conversation {conv_id}")
    return bool(row[0])


def save(conn: sqlite3.Connection, msg_id: int, data: bytes) -> None:
    """Keep `data` as message `msg_id`'s record (replacing an earlier one)."""
    if conn.execute("SELECT 1 FROM messages WHERE id = ?", (msg_id,)).fetchone() is None:
        raise NotFoundError(f"there is no message {msg_id}")
    conn.execute("INSERT OR REPLACE INTO token_inspections (message_id, data) VALUES (?, ?)",
                 (msg_id, sqlite3.Binary(data)))


def load(conn: sqlite3.Connection, msg_id: int) -> bytes | None:
    row = conn.execute("SELECT data FROM token_inspections WHERE message_id = ?",
                       (msg_id,)).fetchone()
    return None if row is None else bytes(row[0])
