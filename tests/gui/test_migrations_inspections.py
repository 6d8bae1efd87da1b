"""The schema step that stores the token inspector's records (`add_token_inspections`), on real
SQLite files: a database of the previous version is upgraded in place with every message intact,
recording is off by default and per conversation, a reply's record round-trips (and goes with its
message), and a real reply's record read back decodes to what was stored."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import numpy as np
import pytest

from app.data.migrations import MIGRATIONS, migrate, schema_version
from app.data.store import NotFoundError, Store
from inference.inspector.choice import Inspection, TokenChoice
from inference.inspector.codec import decode, encode

STEP = [m.name for m in MIGRATIONS].index("add_token_inspections")
PREVIOUS = MIGRATIONS[:STEP]


def _old_database(path: Path) -> list[tuple]:
    conn = sqlite3.connect(path, isolation_level=None)
    migrate(conn, PREVIOUS)
    conn.execute("INSERT INTO conversations (title, created_at, updated_at) VALUES "
                 "('old', 1.0, 2.0)")
    for i, role in enumerate(("user", "assistant", "user", "assistant")):
        conn.execute("INSERT INTO messages (conversation_id, role, content, created_at) "
                     "VALUES (1, ?, ?, ?)", (role, f"message {i} ünïcode", 3.0 + i))
    rows = conn.execute("SELECT * FROM messages ORDER BY id").fetchall()
    conn.close()
    return rows


def _inspection() -> Inspection:
    choice = TokenChoice(token=7, ids=np.array([7, 3], np.int32),
                         raw_logprob=np.log(np.array([0.6, 0.3], np.float32)),
                         stages=("top-k", "temperature"),
                         stage_probs=np.array([[0.6, 0.4], [0.7, 0.3]], np.float32),
                         survivors=np.array([2, 2], np.int32), entropy=0.9,
                         pool_logits=np.array([1.0, 0.5], np.float32),
                         pool_ids=np.array([7, 3], np.int32), pool_complete=True, pool_cut=2)
    inspection = Inspection(2, {"temperature": 0.8, "top_k": 2, "top_p": 1.0, "min_p": 0.0})
    inspection.add(choice, b"Hi")
    inspection.texts = {7: b"Hi", 3: b"Ho"}
    return inspection


def test_the_previous_version_is_upgraded_with_every_message(tmp_path: Path) -> None:
    path = tmp_path / "conversations.db"
    rows = _old_database(path)
    with Store(path) as store:
        assert store.messages(1) and store.inspect_tokens(1) is False     # off by default
    conn = sqlite3.connect(path)
    assert schema_version(conn) == len(MIGRATIONS)
    columns = [r[1] for r in conn.execute("PRAGMA table_info(messages)")]
    assert conn.execute(f"SELECT {', '.join(columns[:len(rows[0])])} FROM messages "
                        "ORDER BY id").fetchall() == rows
    assert [r[1] for r in conn.execute("PRAGMA table_info(token_inspections)")] == [
        "message_id", "data"]
    conn.close()


def test_recording_is_per_conversation_and_a_record_goes_with_its_message(
        tmp_path: Path) -> None:
    with Store(tmp_path / "c.db") as store:
        on, off = store.create_conversation("on"), store.create_conversation("off")
        store.set_inspect_tokens(on.id, True)
        assert (store.inspect_tokens(on.id), store.inspect_tokens(off.id)) == (True, False)
        store.add_message(on.id, "user", "hello")
        reply = store.add_message(on.id, "assistant", "Hi")
        assert store.inspection(reply.id) is None
        data = encode(_inspection())
        store.save_inspection(reply.id, data)
        assert store.inspection(reply.id) == data
        back = decode(store.inspection(reply.id))
        assert back.pieces == [b"Hi"] and back.choices[0].token == 7
        store.delete_messages_from(on.id, reply.id)
        assert store.inspection(reply.id) is None                   # ON DELETE CASCADE
        with pytest.raises(NotFoundError):
            store.save_inspection(9999, data)
        with pytest.raises(NotFoundError):
            store.inspect_tokens(9999)


def test_the_step_adds_a_column_and_a_table(tmp_path: Path) -> None:
    conn = sqlite3.connect(tmp_path / "m.db", isolation_level=None)
    migrate(conn, PREVIOUS)
    assert migrate(conn, MIGRATIONS[:STEP + 1]) == ["add_token_inspections"]
    columns = {r[1]: (r[2], r[3], r[4]) for r in conn.execute("PRAGMA table_info(conversations)")}
    assert columns["inspect_tokens"] == ("INTEGER", 1, "0")        # NOT NULL DEFAULT 0
    conn.close()
