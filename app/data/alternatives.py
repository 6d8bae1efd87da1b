"""A reply's alternatives in SQL (plain sqlite3; the Store's methods call these in their
transactions).

Regenerate keeps the earlier replies: a turn is its first reply (`alternative_of` NULL) and the
replies regenerated for it (`alternative_of` = that first reply's id); every other message is a
turn alone. Exactly one reply of each turn is `shown` (a unique index keeps it so), and the
conversation is its shown messages in id order. Alternatives are only added to the last turn, so
each turn's replies come before every later message by id: deleting "from a message on" takes
the later turns with all their alternatives.
"""

from __future__ import annotations

import sqlite3

MSG_COLUMNS = ("id, conversation_id, role, content, mode, model, sampling, stats, complete, "
               "finish_reason, created_at, reasoning, alternative_of, shown, engine")
TURN = "coalesce(alternative_of, id)"
# The conversation as shown, each message with its place among its turn's replies (from 0) and
# how many there are: MSG_COLUMNS, index, count.
SHOWN = (f"SELECT * FROM (SELECT {MSG_COLUMNS}, "
         f"row_number() OVER (PARTITION BY {TURN} ORDER BY id) - 1, "
         f"count(*) OVER (PARTITION BY {TURN}) FROM messages WHERE conversation_id = ?) "
         "WHERE shown = 1 ORDER BY id")


def turn_rows(conn: sqlite3.Connection, msg_id: int) -> list[tuple] | None:
    """The rows (MSG_COLUMNS) of message `msg_id`'s turn, oldest first; None when there is no
    such message."""
    turn = conn.execute(f"SELECT conversation_id, {TURN} FROM messages WHERE id = ?",
                        (msg_id,)).fetchone()
    if turn is None:
        return None
    return conn.execute(f"SELECT {MSG_COLUMNS} FROM messages WHERE conversation_id = ? "
                        f"AND {TURN} = ? ORDER BY id", turn).fetchall()


def hide_turn(conn: sqlite3.Connection, conv_id: int, turn: int) -> None:
    """Show none of the turn's replies (the caller shows one next, in the same transaction)."""
    conn.execute(f"UPDATE messages SET shown = 0 WHERE conversation_id = ? AND {TURN} = ?",
                 (conv_id, turn))


def show(conn: sqlite3.Connection, msg_id: int) -> None:
    conn.execute("UPDATE messages SET shown = 1 WHERE id = ?", (msg_id,))


def reshow(conn: sqlite3.Connection, conv_id: int, prefer: int = 0) -> None:
    """Every turn of the conversation left with no reply shown (its shown one was deleted)
    shows `prefer` when that is one of its replies, else its newest."""
    conn.execute(f"UPDATE messages SET shown = 1 WHERE id IN (SELECT coalesce(max(CASE WHEN "
                 f"id = ? THEN id END), max(id)) FROM messages WHERE conversation_id = ? "
                 f"GROUP BY {TURN} HAVING max(shown) = 0)", (prefer, conv_id))
