"""A damaged history database never stops the window from opening (issue 16, item 8).

Each case is a real SQLite file crafted in tmp: truncated mid-page, a garbage header, one bad
page, a folder at its path, a newer Parley's schema, a 0-byte file, a folder that cannot be
written and a disk that is full. For each the real window starts (make_window, or the same in a
child process where the file system must refuse writes), shows what happened, keeps the damaged
file, and shows the rows that could still be read.
"""

from __future__ import annotations

import json
import os
import resource
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from PySide6.QtCore import Qt

from app.data.history_open import HistoryState, open_history
from app.data.migrations import MIGRATIONS
from app.data.store import Access, Store
from inference.common.paths import parley_paths
from tests.support.gui_window import MakeWindow, load_fake, send_and_wait

pytestmark = pytest.mark.gui
REPO = Path(__file__).resolve().parents[2]
CONVS, PER_CONV = 5, 40


def _history(path: Path) -> dict[int, str]:
    """A real multi-page history: CONVS conversations of PER_CONV messages; {id: content}."""
    contents: dict[int, str] = {}
    with Store(path) as store:
        for c in range(CONVS):
            conv = store.create_conversation(f"chat {c}")
            for i in range(PER_CONV):
                msg = store.add_message(conv.id, "user", f"message {c}-{i} " + "x" * 300)
                contents[msg.id] = msg.content
    return contents


def _aside(path: Path) -> Path:
    found = [p for p in path.parent.iterdir() if p.name.startswith(f"{path.name}.damaged-")
             and not p.name.endswith(("-wal", "-shm"))]
    assert len(found) == 1, found
    return found[0]


def _stored(window) -> dict[int, str]:
    store = window.ctx.store
    return {m.id: m.content for c in store.list_conversations() for m in store.messages(c.id)}


@pytest.fixture
def db() -> Path:
    path = parley_paths().ensure().database
    return path


def test_a_truncated_database_is_moved_aside_and_its_readable_rows_kept(
        make_window: MakeWindow, db: Path) -> None:
    original = _history(db)
    os.truncate(db, db.stat().st_size // 2 + 100)            # mid-page
    damaged = db.read_bytes()
    window = make_window()
    aside = _aside(db)
    assert aside.read_bytes() == damaged                       # kept as it was, not deleted
    notice = window.banner.text()
    assert "damaged" in notice and str(aside) in notice and "could still be read" in notice
    stored = _stored(window)
    assert stored and stored.items() <= original.items()       # what is there is what was
    assert window.sidebar.model.rowCount() == CONVS


def test_a_garbage_header_starts_a_new_history_and_sending_works(
        qtbot, make_window: MakeWindow, db: Path) -> None:
    _history(db)
    with open(db, "r+b") as f:
        f.write(b"this is not SQLite at all" * 4)
    damaged = db.read_bytes()
    window = make_window()
    assert _aside(db).read_bytes() == damaged
    assert "nothing could be read" in window.banner.text()
    assert window.sidebar.model.rowCount() == 0
    load_fake(qtbot, window)
    send_and_wait(qtbot, window, "Still here?")
    assert [m.content for m in window.ctx.store.messages(window.controller.conversation_id)
            ][0] == "Still here?"


def test_one_bad_page_loses_only_its_rows(make_window: MakeWindow, db: Path) -> None:
    original = _history(db)
    conn = sqlite3.connect(db)
    leaves = [r[0] for r in conn.execute("SELECT pageno FROM dbstat WHERE name = 'messages' "
                                         "AND pagetype = 'leaf' ORDER BY pageno")]
    page_size = conn.execute("PRAGMA page_size").fetchone()[0]
    conn.close()
    assert len(leaves) > 4
    with open(db, "r+b") as f:                                # flip the bytes of one page
        f.seek((leaves[len(leaves) // 2] - 1) * page_size)
        head = f.read(16)
        f.seek(-16, os.SEEK_CUR)
        f.write(bytes(b ^ 0xFF for b in head))
    window = make_window()                                    # used to abort (rc 134)
    stored = _stored(window)
    assert stored.items() <= original.items()
    assert len(original) - 30 < len(stored) < len(original)   # one page's rows, no more
    assert window.sidebar.model.rowCount() == CONVS
    assert str(_aside(db)) in window.banner.text()


def test_a_folder_at_the_path_is_moved_aside(qtbot, make_window: MakeWindow, db: Path) -> None:
    db.mkdir()
    (db / "keep.txt").write_text("mine")
    window = make_window()
    aside = _aside(db)
    assert (aside / "keep.txt").read_text() == "mine"
    assert "is a folder" in window.banner.text() and str(aside) in window.banner.text()
    load_fake(qtbot, window)
    send_and_wait(qtbot, window, "Hello")
    assert window.ctx.store.messages(window.controller.conversation_id)


def test_a_newer_schema_opens_read_only_and_refuses_to_send(
        qtbot, make_window: MakeWindow, db: Path) -> None:
    original = _history(db)
    conn = sqlite3.connect(db)
    conn.execute("PRAGMA user_version = 99")
    conn.close()
    window = make_window()
    assert window.ctx.store.access is Access.READ_ONLY
    assert "newer Parley" in window.banner.text() and "read-only" in window.banner.text()
    assert _stored(window) == original and window.sidebar.model.rowCount() == CONVS
    load_fake(qtbot, window)
    window.composer.set_text("Can I write?")
    qtbot.keyClick(window.composer.input, Qt.Key.Key_Return)
    assert "newer Parley" in window.banner.text()
    assert window.composer.text() == "Can I write?" and not window.controller.busy
    window.close()
    window.ctx.store.close()
    conn = sqlite3.connect(db)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == 99
    assert conn.execute("SELECT count(*) FROM messages").fetchone()[0] == len(original)
    conn.close()


def test_an_empty_file_is_said_and_used(make_window: MakeWindow, db: Path) -> None:
    db.touch()
    window = make_window()
    assert "was empty" in window.banner.text()
    assert not list(db.parent.glob("*.damaged-*"))
    conn = sqlite3.connect(db)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS)
    conn.close()


def test_a_sound_database_says_nothing(db: Path) -> None:
    _history(db)
    opened = open_history(db)
    assert opened.state is HistoryState.SOUND and opened.notice == ""
    opened.store.close()


# -- a full disk: the window in a child process with a file-size limit of 0 -------------

_WINDOW = """
import json, sys
from pathlib import Path
from PySide6.QtWidgets import QApplication
from app.shell.context import AppContext
from app.shell.theme import ThemeManager
from app.shell.window import MainWindow
from tests.support.fake_engine import FakeEngine
from tests.support.gui_window import this_build
app = QApplication([])
engine = FakeEngine()
ctx = AppContext.create(lambda: engine, resolver=Path, build_reader=this_build)
window = MainWindow(ctx, ThemeManager(app, "light"))
window.show()
app.processEvents()
conv = ctx.store.create_conversation("written in memory")
print(json.dumps({"notice": window.banner.text(), "access": ctx.store.access.value,
                  "rows": window.sidebar.model.rowCount(), "written": conv.id > 0}))
window.shutdown()
ctx.store.close()
"""


def _run_window(home: Path, fsize: int) -> dict:
    env = {**os.environ, "PARLEY_HOME": str(home), "QT_QPA_PLATFORM": "offscreen",
           "HOME": str(home), "PYTHONDONTWRITEBYTECODE": "1"}

    def limit() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)        # writes fail with EFBIG instead
        resource.setrlimit(resource.RLIMIT_FSIZE, (fsize, fsize))

    done = subprocess.run([sys.executable, "-c", _WINDOW], cwd=REPO, env=env,
                          preexec_fn=limit, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def _read_only_folder(folder: Path) -> None:
    """Make `folder` refuse new files: its mode, or (root ignores modes) the immutable flag."""
    if os.geteuid() != 0:
        folder.chmod(0o500)
        return
    done = subprocess.run(["chattr", "+i", str(folder)], capture_output=True, check=False)
    if done.returncode != 0:
        pytest.skip("running as root, where a folder's mode does not stop writes, and "
                    f"chattr +i is not allowed here: {done.stderr.decode().strip()}")


def _writable_again(folder: Path) -> None:
    if os.geteuid() == 0:
        subprocess.run(["chattr", "-i", str(folder)], capture_output=True, check=False)
    folder.chmod(0o755)


def test_a_folder_that_cannot_be_written_opens_in_memory(
        qtbot, make_window: MakeWindow, db: Path) -> None:
    original = _history(db)
    before = db.read_bytes()
    _read_only_folder(db.parent)
    try:
        window = make_window()
        assert window.ctx.store.access is Access.MEMORY
        assert "history will not be saved" in window.banner.text()
        assert _stored(window) == original                    # the file's rows, shown
        load_fake(qtbot, window)
        send_and_wait(qtbot, window, "Only in memory")        # the app works on
        assert window.ctx.store.messages(window.controller.conversation_id)
        assert db.read_bytes() == before
        assert not list(db.parent.glob("*.damaged-*"))
    finally:
        _writable_again(db.parent)


def test_a_full_disk_at_start_opens_in_memory(tmp_path: Path) -> None:
    (tmp_path / "data" / "models").mkdir(parents=True)
    (tmp_path / "logs").mkdir()
    got = _run_window(tmp_path, fsize=1000)           # no file grows past 1000 bytes
    assert got["access"] == "memory" and got["written"]
    # SQLite reports EFBIG as a write error (only ENOSPC is "database or disk is full")
    assert "disk I/O error" in got["notice"] and "history will not be saved" in got["notice"]
