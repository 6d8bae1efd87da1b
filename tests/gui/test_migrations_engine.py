"""The schema step that records which engine answered (`add_message_engine`), on real SQLite
files: a database of the previous version is upgraded with every message intact and answered
by "this computer" (''); new replies keep the remote engine's name, alternatives too."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from app.data.migrations import MIGRATIONS, migrate, schema_version
from app.data.store import Store

STEP = [m.name for m in MIGRATIONS].index("add_message_engine")
PREVIOUS = MIGRATIONS[:STEP]


def test_an_older_database_is_upgraded_and_new_replies_name_their_engine(
        tmp_path: Path) -> None:
    path = tmp_path / "parley.sqlite3"
    conn = sqlite3.connect(path, isolation_level=None)
    migrate(conn, PREVIOUS)
    conn.execute("INSERT INTO conversations (title, mode, system_prompt, created_at, "
                 "updated_at) VALUES ('old', 'chat', '', 1.0, 2.0)")
    for i, role in enumerate(("user", "assistant")):
        conn.execute("INSERT INTO messages (conversation_id, role, content, model, created_at) "
                     "VALUES (1, ?, ?, 'old.gguf', ?)", (role, f"message {i}", 3.0 + i))
    conn.close()
    with Store(path) as store:
        assert schema_version(store._conn) == len(MIGRATIONS)
        old = store.messages(1)
        assert [(m.content, m.model, m.engine) for m in old] == [
            ("message 0", "old.gguf", ""), ("message 1", "old.gguf", "")]
        reply = store.add_message(1, "assistant", "", model="gemma-3", engine="big box",
                                  complete=False)
        assert reply.engine == "big box"
        alt = store.add_alternative(reply.id, model="gemma-3", engine="big box")
        assert [(m.id, m.engine) for m in store.messages(1)][-1] == (alt.id, "big box")
    with Store(path) as again:                          # read back from the file
        assert [m.engine for m in again.alternatives(reply.id)] == ["big box", "big box"]


def test_the_step_adds_one_column(tmp_path: Path) -> None:
    conn = sqlite3.connect(tmp_path / "m.db", isolation_level=None)
    migrate(conn, PREVIOUS)
    assert migrate(conn, MIGRATIONS[:STEP + 1]) == ["add_message_engine"]
    columns = {r[1]: (r[2], r[3], r[4]) for r in conn.execute("PRAGMA table_info(messages)")}
    assert columns["engine"] == ("TEXT", 1, "''")                  # NOT NULL DEFAULT ''
    conn.close()
