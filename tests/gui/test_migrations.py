"""The schema step that keeps a reply's thinking (`messages.reasoning`): a database written by
the previous version, real SQLite files, keeps every message when it is opened, and a damaged
old file's rows are recovered into the new schema."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from app.data.migrations import MIGRATIONS, migrate, schema_version
from app.data.store import Store

STEP = [m.name for m in MIGRATIONS].index("add_message_reasoning")
PREVIOUS = MIGRATIONS[:STEP]        # the schema before this step


def _old_database(path: Path, conversations: int = 3, per_conversation: int = 40) -> list[tuple]:
    """A database at the previous schema, written as the previous version wrote it; returns
    its message rows."""
    conn = sqlite3.connect(path, isolation_level=None)
    migrate(conn, PREVIOUS)
    assert "reasoning" not in [r[1] for r in conn.execute("PRAGMA table_info(messages)")]
    for c in range(conversations):
        conn.execute("INSERT INTO conversations (title, mode, system_prompt, created_at, "
                     "updated_at) VALUES (?, ?, ?, ?, ?)", (f"old {c}", "chat", "be brief",
                                                           1000.0 + c, 2000.0 + c))
        conv_id = conn.execute("SELECT max(id) FROM conversations").fetchone()[0]
        for i in range(per_conversation):
            role = "user" if i % 2 == 0 else "assistant"
            stats = json.dumps({"output_tokens": i, "ttft_s": 0.1}) if role == "assistant" \
                else None
            conn.execute(
                "INSERT INTO messages (conversation_id, role, content, mode, model, sampling, "
                "stats, complete, finish_reason, created_at) VALUES (?,?,?,?,?,?,?,?,?,?)",
                (conv_id, role, f"message {i} of {c}: <b>ünïcode</b>\n", "chat", "old.gguf",
                 json.dumps({"temperature": 0.7}), stats, int(i != per_conversation - 1),
                 "stop" if role == "assistant" else None, 3000.0 + i))
    rows = conn.execute("SELECT id, conversation_id, role, content, mode, model, sampling, "
                        "stats, complete, finish_reason, created_at FROM messages "
                        "ORDER BY id").fetchall()
    conn.close()
    return rows


def test_a_database_of_the_previous_version_keeps_every_message(tmp_path: Path) -> None:
    path = tmp_path / "parley.sqlite3"
    before = _old_database(path)
    assert len(before) == 120
    with Store(path) as store:
        assert schema_version(store._conn) == len(MIGRATIONS)
        after = [m for conv in sorted(store.list_conversations(), key=lambda c: c.id)
                 for m in store.messages(conv.id)]
        assert [(m.id, m.conversation_id, m.role, m.content, m.mode, m.model,
                 json.dumps(m.sampling), None if m.stats is None else json.dumps(m.stats),
                 int(m.complete), m.finish_reason, m.created_at) for m in after] == before
        assert all(m.reasoning == "" for m in after)
        reply = after[1]
        assert store.update_message(reply.id, "answer", reasoning="thought about it")
        assert store.messages(reply.conversation_id)[1].reasoning == "thought about it"
    with Store(path) as again:                               # nothing re-run on the next open
        assert schema_version(again._conn) == len(MIGRATIONS)
        assert again.messages(after[1].conversation_id)[1].reasoning == "thought about it"
        assert sum(len(again.messages(c.id)) for c in again.list_conversations()) == 120


def test_the_step_adds_only_the_column(tmp_path: Path) -> None:
    conn = sqlite3.connect(tmp_path / "m.db", isolation_level=None)
    migrate(conn, PREVIOUS)
    assert migrate(conn, MIGRATIONS[:STEP + 1]) == ["add_message_reasoning"]
    columns = {r[1]: (r[2], r[3], r[4]) for r in conn.execute("PRAGMA table_info(messages)")}
    assert columns["reasoning"] == ("TEXT", 1, "''")           # NOT NULL DEFAULT ''
    conn.close()


def test_an_old_damaged_files_rows_are_recovered_into_the_new_schema(tmp_path: Path) -> None:
    old = tmp_path / "old.sqlite3"
    before = _old_database(old, conversations=2, per_conversation=6)
    with Store(tmp_path / "new.sqlite3") as store:
        store.import_rows(old)
        got = [m for c in sorted(store.list_conversations(), key=lambda c: c.id)
               for m in store.messages(c.id)]
        assert [(m.id, m.content) for m in got] == [(r[0], r[3]) for r in before]
        assert all(m.reasoning == "" for m in got)
