"""The schema step that keeps a regenerated reply's earlier versions (`add_reply_alternatives`),
on real SQLite files: a database of the previous version, built with that version's SQL, is
upgraded in place with every message intact; the new columns and the one-shown-per-turn index;
a damaged old file's rows recovered into the new schema; and the store's alternatives
(add, show, delete from, restore)."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from app.data.migrations import MIGRATIONS, migrate, schema_version
from app.data.records import Alternatives
from app.data.store import NotFoundError, Store, StoreError

STEP = [m.name for m in MIGRATIONS].index("add_reply_alternatives")
PREVIOUS = MIGRATIONS[:STEP]            # the schema before this step
OLD_COLUMNS = ("id, conversation_id, role, content, mode, model, sampling, stats, complete, "
               "finish_reason, created_at, reasoning")


def _old_database(path: Path, conversations: int = 3, per_conversation: int = 30) -> list[tuple]:
    """A database at the previous schema, written as the previous version wrote it (a reply
    regenerated there replaced the old one: one reply per turn); returns its message rows."""
    conn = sqlite3.connect(path, isolation_level=None)
    migrate(conn, PREVIOUS)
    assert "shown" not in [r[1] for r in conn.execute("PRAGMA table_info(messages)")]
    for c in range(conversations):
        conn.execute("INSERT INTO conversations (title, mode, system_prompt, created_at, "
                     "updated_at) VALUES (?, ?, ?, ?, ?)", (f"old {c}", "chat", "be brief",
                                                           1000.0 + c, 2000.0 + c))
        conv_id = conn.execute("SELECT max(id) FROM conversations").fetchone()[0]
        for i in range(per_conversation):
            role = "user" if i % 2 == 0 else "assistant"
            stats = json.dumps({"output_tokens": i, "reasoning_tokens": 3}) \
                if role == "assistant" else None
            conn.execute(
                "INSERT INTO messages (conversation_id, role, content, mode, model, sampling, "
                "stats, complete, finish_reason, created_at, reasoning) "
                "VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                (conv_id, role, f"message {i} of {c}: <b>ünïcode</b>\n", "chat", "old.gguf",
                 json.dumps({"temperature": 0.7}), stats, int(i != per_conversation - 1),
                 "stop" if role == "assistant" else None, 3000.0 + i,
                 f"thought {i}" if role == "assistant" else ""))
    rows = conn.execute(f"SELECT {OLD_COLUMNS} FROM messages ORDER BY id").fetchall()
    conn.close()
    return rows


def _as_old_row(m) -> tuple:
    return (m.id, m.conversation_id, m.role, m.content, m.mode, m.model, json.dumps(m.sampling),
            None if m.stats is None else json.dumps(m.stats), int(m.complete), m.finish_reason,
            m.created_at, m.reasoning)


def test_a_database_of_the_previous_version_is_upgraded_with_every_message(
        tmp_path: Path) -> None:
    path = tmp_path / "parley.sqlite3"
    before = _old_database(path)
    assert len(before) == 90
    with Store(path) as store:
        assert schema_version(store._conn) == len(MIGRATIONS)
        convs = sorted(store.list_conversations(), key=lambda c: c.id)
        after = [m for conv in convs for m in store.messages(conv.id)]
        assert [_as_old_row(m) for m in after] == before
        assert all(m.shown and m.alternative_of is None and m.alternatives == Alternatives()
                   for m in after)
        reply = after[-1]                                  # an old reply gets alternatives
        assert reply.role == "assistant"
        alt = store.add_alternative(reply.id, model="new.gguf")
        assert alt.alternatives == Alternatives(1, 2) and alt.alternative_of == reply.id
        store.update_message(alt.id, "a new answer", complete=True, finish_reason="stop")
        shown = store.messages(reply.conversation_id)
        assert len(shown) == 30 and shown[-1].id == alt.id
        assert [_as_old_row(m) for m in shown[:-1]] == before[60:89]
    with Store(path) as again:                              # nothing re-run on the next open
        assert schema_version(again._conn) == len(MIGRATIONS)
        assert sum(len(again.alternatives(m.id)) for m in after) == 91
        assert [m.content for m in again.alternatives(reply.id)] == [reply.content,
                                                                      "a new answer"]
        old_turns = [m for c in convs for m in again.messages(c.id)]
        assert len(old_turns) == 90 and alt.id in {m.id for m in old_turns}


def test_the_step_adds_two_columns_and_one_index(tmp_path: Path) -> None:
    conn = sqlite3.connect(tmp_path / "m.db", isolation_level=None)
    migrate(conn, PREVIOUS)
    assert migrate(conn, MIGRATIONS[:STEP + 1]) == ["add_reply_alternatives"]
    columns = {r[1]: (r[2], r[3], r[4]) for r in conn.execute("PRAGMA table_info(messages)")}
    assert columns["alternative_of"] == ("INTEGER", 0, None)
    assert columns["shown"] == ("INTEGER", 1, "1")                 # NOT NULL DEFAULT 1
    indexes = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'index'")}
    assert "messages_one_shown_per_turn" in indexes
    conn.execute("INSERT INTO conversations (title, created_at, updated_at) VALUES ('t', 0, 0)")
    conn.execute("INSERT INTO messages (conversation_id, role, created_at) "
                 "VALUES (1, 'assistant', 0)")
    conn.execute("INSERT INTO messages (conversation_id, role, created_at, alternative_of, "
                 "shown) VALUES (1, 'assistant', 0, 1, 0)")
    with pytest.raises(sqlite3.IntegrityError, match="UNIQUE"):      # two shown in one turn
        conn.execute("INSERT INTO messages (conversation_id, role, created_at, "
                     "alternative_of) VALUES (1, 'assistant', 0, 1)")
    with pytest.raises(sqlite3.IntegrityError, match="CHECK"):
        conn.execute("UPDATE messages SET shown = 2 WHERE id = 2")
    conn.close()


def test_an_old_damaged_files_rows_are_recovered_into_the_new_schema(tmp_path: Path) -> None:
    old = tmp_path / "old.sqlite3"
    before = _old_database(old, conversations=2, per_conversation=6)
    with Store(tmp_path / "new.sqlite3") as store:
        store.import_rows(old)
        got = [m for c in sorted(store.list_conversations(), key=lambda c: c.id)
               for m in store.messages(c.id)]
        assert [_as_old_row(m) for m in got] == before
        assert all(m.shown and m.alternatives == Alternatives() for m in got)


@pytest.fixture
def store(tmp_path: Path):
    with Store(tmp_path / "parley.sqlite3") as s:
        yield s


def _turn(store: Store, replies: int = 3):
    """A conversation: a question and `replies` versions of its answer (the newest shown)."""
    conv = store.create_conversation()
    store.add_message(conv.id, "user", "q")
    first = store.add_message(conv.id, "assistant", "r0", reasoning="t0")
    alts = [first] + [store.add_alternative(first.id) for _ in range(replies - 1)]
    for i, alt in enumerate(alts[1:], 1):
        store.update_message(alt.id, f"r{i}", complete=True, reasoning=f"t{i}")
    return conv.id, [m.id for m in alts]


def test_alternatives_are_added_shown_and_keep_their_own_thinking(store: Store) -> None:
    conv, ids = _turn(store)
    shown = store.messages(conv)
    assert [(m.content, m.reasoning, m.alternatives) for m in shown] == [
        ("q", "", Alternatives(0, 1)), ("r2", "t2", Alternatives(2, 3))]
    chosen = store.show_alternative(ids[2], 0)
    assert (chosen.id, chosen.reasoning, chosen.alternatives) == (ids[0], "t0",
                                                                  Alternatives(0, 3))
    assert [(m.content, m.reasoning) for m in store.messages(conv)] == [("q", ""), ("r0", "t0")]
    assert [m.shown for m in store.alternatives(ids[1])] == [True, False, False]
    with pytest.raises(NotFoundError, match="no alternative 4"):
        store.show_alternative(ids[0], 3)
    with pytest.raises(StoreError, match="is not a reply"):
        store.add_alternative(store.messages(conv)[0].id)
    with pytest.raises(NotFoundError):
        store.alternatives(99_999)
    assert [m.shown for m in store.alternatives(ids[0])] == [True, False, False]   # unchanged


def test_deleting_from_a_reply_shows_the_one_asked_for_or_the_newest_left(store: Store) -> None:
    conv, ids = _turn(store, 4)
    store.delete_messages_from(conv, ids[3], show=ids[1])   # a regenerate that failed empty
    assert store.messages(conv)[1].id == ids[1]
    assert store.messages(conv)[1].alternatives == Alternatives(1, 3)
    store.show_alternative(ids[1], 2)
    store.delete_messages_from(conv, ids[2])                # no preference: the newest left
    assert store.messages(conv)[1].id == ids[1]
    assert [m.id for m in store.alternatives(ids[0])] == ids[:2]
    store.delete_messages_from(conv, ids[0])                 # the whole turn
    assert [m.content for m in store.messages(conv)] == ["q"]


def test_delete_takes_every_alternative_and_undo_restores_the_choice(
        store: Store, tmp_path: Path) -> None:
    conv, ids = _turn(store)
    store.show_alternative(ids[0], 1)
    before = store.messages(conv)
    deleted = store.delete(conv)
    assert len(deleted.messages) == 4
    conn = sqlite3.connect(tmp_path / "parley.sqlite3")
    assert conn.execute("SELECT count(*) FROM messages").fetchone() == (0,)
    conn.close()
    store.restore(deleted)
    assert store.messages(conv) == before
    assert [m.shown for m in store.alternatives(ids[0])] == [False, True, False]


def test_a_read_only_history_refuses_a_switch(tmp_path: Path) -> None:
    from app.data.store import Access

    path = tmp_path / "parley.sqlite3"
    with Store(path) as writable:
        conv, ids = _turn(writable, 2)
    with Store(path, Access.READ_ONLY, refusal="This history is read-only.") as ro:
        with pytest.raises(StoreError, match="read-only"):
            ro.show_alternative(ids[1], 0)
        assert [m.content for m in ro.messages(conv)] == ["q", "r1"]
