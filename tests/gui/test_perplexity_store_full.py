"""The perplexity history on a database that refuses writes (a full disk): the page says so in
one line and keeps working; nothing raises out of a Qt slot."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from app.perplexity.history import PplHistory
from app.perplexity.store import NewRun, PplStore

pytestmark = pytest.mark.gui


def _run(text: str) -> NewRun:
    return NewRun(model_file="m-Q4_K_M.gguf", model_path="/models/m-Q4_K_M.gguf", quant="Q4_K_M",
                  text=text, n_ctx=512, method="chunked", ppl=12.5, ppl_se=0.25,
                  tokens_total=2048, tokens_scored=1020, seconds=3.0)


def _set_max_pages(conn: sqlite3.Connection, pages: int | None) -> None:
    if pages is None:
        pages = conn.execute("PRAGMA page_count").fetchone()[0]
    conn.execute(f"PRAGMA max_page_count = {pages}")


def test_a_run_the_full_disk_refuses_is_told_and_the_next_one_saves(qtbot,
                                                                     tmp_path: Path) -> None:
    store = PplStore(tmp_path / "db.sqlite3")
    history = PplHistory(store)
    qtbot.addWidget(history)
    assert history.add(_run("first text")) is not None
    _set_max_pages(store._conn, None)                 # SQLite's own SQLITE_FULL at this size
    assert history.add(_run("a long text " * 5000)) is None
    assert history.note.text().startswith("This run was not saved (")
    assert "disk full" in history.note.text() and "\n" not in history.note.text()
    assert history.table.rowCount() == 1               # the table still shows what is saved
    _set_max_pages(store._conn, 1073741823)            # space again
    assert history.add(_run("a long text " * 5000)) is not None
    assert history.table.rowCount() == 2
    store.close()


def test_a_closed_database_does_not_break_selecting_using_or_deleting(qtbot,
                                                                       tmp_path: Path) -> None:
    store = PplStore(tmp_path / "db.sqlite3")
    history = PplHistory(store)
    qtbot.addWidget(history)
    history.add(_run("some text"))
    store._conn.close()                                # every call now fails in sqlite3
    history.table.selectRow(0)                         # asks for the run's text
    assert not history.use_button.isEnabled()
    history.delete_selected()
    assert history.note.text().startswith("The run")
    history.refresh()
    assert history.note.text().startswith("Past runs cannot be read (")
