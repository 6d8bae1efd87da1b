"""The disk fills while a reply streams (issue 16, item 6): nothing hangs and nothing is lost.

The database is made "full" with SQLite's own `PRAGMA max_page_count` on the store's connection:
a real SQLITE_FULL from the real engine at a known size; raising it again frees the space. The
reply streams through the real controller and window on the FakeEngine.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from PySide6.QtCore import Qt

from app.data.store import Store, StoreError
from app.data.store_errors import Problem
from tests.support.fake_engine import FakeEngine
from tests.support.gui_window import MakeWindow, load_fake, send_and_wait

pytestmark = pytest.mark.gui
WORDS = [f" {i:02d}" + "w" * 200 for i in range(60)]          # about 12 KB: several pages
AGAIN = "And another, longer question. " * 400                  # needs new pages too


def _fill(conn: sqlite3.Connection) -> None:
    """No page more than the file has now."""
    pages = conn.execute("PRAGMA page_count").fetchone()[0]
    conn.execute(f"PRAGMA max_page_count = {pages}")


def _free(conn: sqlite3.Connection) -> None:
    conn.execute("PRAGMA max_page_count = 1073741823")


def test_a_write_to_a_full_database_is_a_store_error(tmp_path: Path) -> None:
    with Store(tmp_path / "db.sqlite3") as store:
        conv = store.create_conversation()
        _fill(store._conn)
        with pytest.raises(StoreError, match=r"^Could not save to the history database "
                                             r"\(disk full: database or disk is full\)\.$") as err:
            store.add_message(conv.id, "user", "x" * 20_000)   # a transaction, rolled back
        assert err.value.problem is Problem.FULL
        msg = store.add_message(conv.id, "user", "short")      # fits: the store still works
        with pytest.raises(StoreError, match="disk full"):
            store.update_message(msg.id, "y" * 20_000, durable=False)
        _free(store._conn)
        store.update_message(msg.id, "y" * 20_000)
        assert store.messages(conv.id)[-1].content == "y" * 20_000


def test_a_reply_streaming_into_a_full_disk_is_kept_and_saved_when_space_returns(
        qtbot, make_window: MakeWindow) -> None:
    window = make_window(FakeEngine(words=WORDS, delay=0.02))
    load_fake(qtbot, window)
    conn, controller = window.ctx.store._conn, window.controller
    told: list[str] = []
    controller.recorder.saveFailed.connect(told.append)
    window.composer.set_text("Tell me a long story")
    qtbot.keyClick(window.composer.input, Qt.Key.Key_Return)
    assert controller.busy
    _fill(conn)                                       # the disk fills as the reply streams
    qtbot.waitUntil(lambda: not controller.busy, timeout=10_000)   # the generation ends
    whole = "".join(WORDS)
    conv = controller.conversation_id
    stored = window.ctx.store.messages(conv)[-1]
    assert stored.content != whole and not stored.complete        # the store could not take it
    assert [r.text for r in controller.recorder.unsaved] == [whole]   # but it is in memory
    row = window.transcript.rowCount() - 1
    assert window.transcript.message_at(row).content == whole
    assert not window.transcript.message_at(row).streaming       # not "streaming" for ever
    assert len(told) == 1 and "disk full" in told[0]             # told once, not per token
    assert "disk full" in window.banner.text()

    window.composer.set_text(AGAIN)                               # still full: refused, said
    qtbot.keyClick(window.composer.input, Qt.Key.Key_Return)
    assert window.composer.text() == AGAIN and not controller.busy
    assert "disk full" in window.banner.text()

    _free(conn)                                                   # space returns
    qtbot.waitUntil(lambda: not controller.recorder.unsaved, timeout=5000)
    stored = window.ctx.store.messages(conv)[-1]
    assert stored.content == whole and stored.complete and stored.finish_reason == "stop"
    assert "every reply is saved" in window.banner.text()
    send_and_wait(qtbot, window, AGAIN)                           # sending works again
    last = window.ctx.store.messages(conv)
    assert last[-2].content == AGAIN and last[-1].content == whole
    assert last[-1].complete and len(told) == 1
