"""The conversation store: real SQLite files in tmp_path."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from app.data.migrations import MIGRATIONS, Migration, SchemaTooNewError, migrate, split_statements
from app.data.store import (
    DEFAULT_TITLE,
    NotFoundError,
    Store,
    StoreError,
    title_from_message,
)

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "nested" / "folder" / "parley.sqlite3"


@pytest.fixture
def store(db_path: Path):
    with Store(db_path) as s:
        yield s


# -- schema and pragmas ----------------------------------------------------------------------

def test_migrates_empty_database_and_reopens(db_path: Path) -> None:
    Store(db_path).close()
    assert db_path.exists()
    conn = sqlite3.connect(db_path)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS)
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert {"conversations", "messages"} <= tables
    conn.close()
    with Store(db_path) as again:               # re-open: nothing re-run, data intact
        conv = again.create_conversation("kept")
    with Store(db_path) as third:
        assert third.get_conversation(conv.id).title == "kept"


def test_pragmas(store: Store) -> None:
    conn = store._conn
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("PRAGMA foreign_keys").fetchone()[0] == 1
    assert conn.execute("PRAGMA busy_timeout").fetchone()[0] >= 1000


def test_a_streaming_save_commits_without_fsync_and_full_sync_returns(store: Store,
                                                                      db_path: Path) -> None:
    conn = store._conn
    assert conn.execute("PRAGMA synchronous").fetchone()[0] == 2          # FULL
    conv = store.create_conversation("streaming")
    msg = store.add_message(conv.id, "assistant", "", complete=False)
    assert store.update_message(msg.id, "half a rep", complete=False, durable=False)
    assert conn.execute("PRAGMA synchronous").fetchone()[0] == 2          # back to FULL
    other = sqlite3.connect(db_path)                      # committed: another reader sees it
    try:
        assert other.execute("SELECT content, complete FROM messages WHERE id = ?",
                             (msg.id,)).fetchone() == ("half a rep", 0)
    finally:
        other.close()


def test_migrate_applies_only_new_steps_and_rolls_back_a_failure(tmp_path: Path) -> None:
    conn = sqlite3.connect(tmp_path / "m.db", isolation_level=None)
    steps = (Migration("one", "CREATE TABLE a (x INTEGER);"),)
    assert migrate(conn, steps) == ["one"]
    assert migrate(conn, steps) == []
    bad = (*steps, Migration("two", "CREATE TABLE b (y INTEGER);\nCREATE TABLE a (x);"))
    with pytest.raises(sqlite3.OperationalError):
        migrate(conn, bad)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == 1
    assert conn.execute("SELECT name FROM sqlite_master WHERE name = 'b'").fetchone() is None
    conn.close()


def test_database_from_a_newer_version_is_refused(db_path: Path) -> None:
    Store(db_path).close()
    conn = sqlite3.connect(db_path)
    conn.execute(f"PRAGMA user_version = {len(MIGRATIONS) + 1}")
    conn.close()
    with pytest.raises(SchemaTooNewError):
        Store(db_path)


def test_garbage_file_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "parley.sqlite3"
    path.write_bytes(b"this is not a database" * 100)
    with pytest.raises(StoreError, match="not a usable conversation database"):
        Store(path)


def test_split_statements() -> None:
    sql = "CREATE TABLE t (\n  a TEXT -- a; comment\n);\nCREATE INDEX i ON t (a);\n"
    assert len(split_statements(sql)) == 2


# -- conversations ---------------------------------------------------------------------------

def test_title_from_message() -> None:
    assert title_from_message("  Hello   there \nsecond line") == "Hello there"
    assert title_from_message("\n\n  \nreal first line") == "real first line"
    assert title_from_message("") == ""
    long = "word " * 30
    title = title_from_message(long, limit=20)
    assert title.endswith("…") and len(title) <= 20
    assert len(title_from_message("x" * 100, limit=10)) == 10


def test_first_user_message_sets_title(store: Store) -> None:
    conv = store.create_conversation()
    assert conv.title == DEFAULT_TITLE
    store.add_message(conv.id, "system", "be brief")
    assert store.get_conversation(conv.id).title == DEFAULT_TITLE
    store.add_message(conv.id, "user", "How do tides work?\nPlease explain.")
    assert store.get_conversation(conv.id).title == "How do tides work?"
    store.add_message(conv.id, "user", "another question")
    assert store.get_conversation(conv.id).title == "How do tides work?"
    named = store.create_conversation("My title")
    store.add_message(named.id, "user", "hello")
    assert store.get_conversation(named.id).title == "My title"


def test_rename_and_system_prompt(store: Store) -> None:
    conv = store.create_conversation(system_prompt="a")
    store.rename(conv.id, "Renamed")
    store.set_system_prompt(conv.id, "b")
    got = store.get_conversation(conv.id)
    assert (got.title, got.system_prompt) == ("Renamed", "b")
    with pytest.raises(NotFoundError):
        store.rename(9999, "x")
    with pytest.raises(NotFoundError):
        store.get_conversation(9999)
    with pytest.raises(NotFoundError):
        store.add_message(9999, "user", "x")
    with pytest.raises(StoreError):
        store.add_message(conv.id, "robot", "x")


def test_newest_first(store: Store) -> None:
    a = store.create_conversation("a")
    b = store.create_conversation("b")
    c = store.create_conversation("c")
    assert [x.id for x in store.list_conversations()] == [c.id, b.id, a.id]
    before = store.get_conversation(a.id).updated_at
    store.add_message(a.id, "user", "bump")
    assert store.get_conversation(a.id).updated_at > before
    assert [x.id for x in store.list_conversations()] == [a.id, c.id, b.id]


def test_search_by_title_and_content(store: Store) -> None:
    a = store.create_conversation("Holiday plans")
    b = store.create_conversation("Work")
    store.add_message(b.id, "assistant", "The QUARTERLY report is due 50% sooner")
    c = store.create_conversation("Straße notes")
    store.add_message(c.id, "user", "Über alles")
    assert [x.id for x in store.list_conversations("holiday")] == [a.id]
    assert [x.id for x in store.list_conversations("quarterly")] == [b.id]
    assert [x.id for x in store.list_conversations("  Report ")] == [b.id]
    assert [x.id for x in store.list_conversations("50%")] == [b.id]
    assert store.list_conversations("5_%") == []            # wildcards are escaped
    assert store.list_conversations("nothing like it") == []
    assert [x.id for x in store.list_conversations("über")] == [c.id]   # beyond ASCII
    assert [x.id for x in store.list_conversations("STRASSE")] == []    # substring, no magic
    assert [x.id for x in store.list_conversations("STRAßE")] == [c.id]
    assert len(store.list_conversations("")) == 3


def test_search_is_fast_on_ten_thousand_messages(store: Store) -> None:
    body = "lorem ipsum dolor sit amet " * 20
    with store._transaction():                   # one commit for the setup, not 10,000
        for n in range(100):
            conv = store.create_conversation(f"conv {n}")
            store._conn.executemany(
                "INSERT INTO messages (conversation_id, role, content, created_at) "
                "VALUES (?, 'user', ?, 0)",
                [(conv.id, body + str(n * 100 + i)) for i in range(100)])
    found = store.list_conversations("amet 4217")
    assert [c.title for c in found] == ["conv 42"]
    assert store.list_conversations("ä nowhere") == []


# -- delete, restore, messages ---------------------------------------------------------------

def _sample_conversation(store: Store) -> int:
    conv = store.create_conversation(system_prompt="sys")
    store.add_message(conv.id, "user", "hi", model="m.gguf", sampling={"temperature": 0.5})
    reply = store.add_message(conv.id, "assistant", "", model="m.gguf", complete=False)
    store.update_message(reply.id, "hello", complete=True, stats={"output_tokens": 2},
                         finish_reason="stop")
    return conv.id


def test_delete_and_restore_brings_back_identical_data(store: Store) -> None:
    conv_id = _sample_conversation(store)
    other = store.create_conversation("other")
    before_conv, before_msgs = store.get_conversation(conv_id), store.messages(conv_id)
    deleted = store.delete(conv_id)
    assert deleted.conversation == before_conv
    assert list(deleted.messages) == before_msgs
    assert [c.id for c in store.list_conversations()] == [other.id]
    assert store._conn.execute("SELECT COUNT(*) FROM messages").fetchone()[0] == 0  # cascade
    store.add_message(other.id, "user", "new ids never reuse the deleted ones")
    store.restore(deleted)
    assert store.get_conversation(conv_id) == before_conv
    assert store.messages(conv_id) == before_msgs
    with pytest.raises(StoreError):
        store.restore(deleted)                   # already back
    assert store.messages(conv_id) == before_msgs


def test_delete_messages_from(store: Store) -> None:
    conv = store.create_conversation()
    ids = [store.add_message(conv.id, r, t).id
           for r, t in [("user", "q1"), ("assistant", "a1"), ("user", "q2"), ("assistant", "a2")]]
    keep = store.create_conversation()
    store.add_message(keep.id, "user", "untouched")
    store.delete_messages_from(conv.id, ids[2])
    assert [m.content for m in store.messages(conv.id)] == ["q1", "a1"]
    assert [m.content for m in store.messages(keep.id)] == ["untouched"]


def test_update_message_while_streaming_then_complete(store: Store) -> None:
    conv = store.create_conversation()
    msg = store.add_message(conv.id, "assistant", "", model="x.gguf", complete=False)
    assert not msg.complete and msg.stats is None
    text = ""
    for chunk in ["Once", " upon", " a time"]:
        text += chunk
        assert store.update_message(msg.id, text)
        (got,) = store.messages(conv.id)
        assert (got.content, got.complete, got.stats) == (text, False, None)
    store.update_message(msg.id, text + ".", complete=True, stats={"gen_tps": 12.5},
                         finish_reason="stop")
    (got,) = store.messages(conv.id)
    assert (got.content, got.complete, got.stats, got.finish_reason) == (
        "Once upon a time.", True, {"gen_tps": 12.5}, "stop")
    assert got.model == "x.gguf"
    assert store.update_message(123456, "gone") is False


def test_messages_round_trip_fields(store: Store) -> None:
    conv = store.create_conversation(mode="instruct")
    sent = store.add_message(conv.id, "user", "hi", mode="instruct", model="m",
                             sampling={"top_k": 5})
    (got,) = store.messages(conv.id)
    assert got == sent


def test_thousand_messages_load_fast(store: Store) -> None:
    conv = store.create_conversation()
    for i in range(1000):
        store.add_message(conv.id, "user" if i % 2 == 0 else "assistant", f"message {i} " * 30,
                          sampling={"temperature": 0.7}, complete=True)
    messages = store.messages(conv.id)
    assert len(messages) == 1000
    assert messages[0].content.startswith("message 0 ")
    assert messages[-1].content.startswith("message 999 ")


# -- export and integrity --------------------------------------------------------------------

def test_export_markdown_and_json(store: Store) -> None:
    conv_id = _sample_conversation(store)
    partial = store.add_message(conv_id, "assistant", "cut off", complete=False)
    md = store.export_markdown(conv_id)
    assert md.startswith("# hi\n")
    assert "## System prompt\n\nsys" in md
    assert "## User\n\nhi" in md
    assert "## Assistant (m.gguf)\n\nhello" in md
    assert "cut off\n\n_(incomplete)_" in md
    data = store.export_json(conv_id)
    json.dumps(data)                              # JSON-ready
    assert data["format"] == "parley.conversation" and data["version"] == 1
    assert data["conversation"]["id"] == conv_id
    assert [m["content"] for m in data["messages"]] == ["hi", "hello", "cut off"]
    assert data["messages"][1]["stats"] == {"output_tokens": 2}
    assert data["messages"][2]["id"] == partial.id and not data["messages"][2]["complete"]


def test_integrity_ok(store: Store) -> None:
    _sample_conversation(store)
    assert store.integrity_ok()


def test_close_is_idempotent(db_path: Path) -> None:
    s = Store(db_path)
    s.close()
    s.close()


# -- crash safety ----------------------------------------------------------------------------

_CRASH_CHILD = """
import sys, time
from pathlib import Path
from app.data.store import Store
store = Store(Path(sys.argv[1]))
conv = store.create_conversation()
store.add_message(conv.id, "user", "tell me a story")
reply = store.add_message(conv.id, "assistant", "", complete=False)
text = ""
for word in ["Once", " upon", " a", " time"]:
    text += word
    store.update_message(reply.id, text)
print(conv.id, reply.id, flush=True)
time.sleep(60)
"""


def test_partial_reply_survives_a_killed_process(db_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        [str(REPO), *filter(None, [os.environ.get("PYTHONPATH")])])}
    Store(db_path).close()   # another connection exists too, as in the app
    child = subprocess.Popen([sys.executable, "-c", _CRASH_CHILD, str(db_path)],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        assert child.stdout is not None
        line = child.stdout.readline()
        assert line, child.stderr.read() if child.stderr else "child died"
        conv_id, reply_id = map(int, line.split())
    finally:
        child.kill()                             # SIGKILL on POSIX: no cleanup runs
        child.wait(timeout=30)
        for stream in (child.stdout, child.stderr):
            if stream:
                stream.close()
    with Store(db_path) as store:
        assert store.integrity_ok()
        messages = store.messages(conv_id)
        assert [m.content for m in messages] == ["tell me a story", "Once upon a time"]
        assert messages[1].id == reply_id and not messages[1].complete
        assert store.get_conversation(conv_id).title == "tell me a story"
