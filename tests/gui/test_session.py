"""The window as a session on a scripted fake engine: Esc stops Text and Instruct replies, the
welcome view's buttons, what survives a restart (geometry, theme, unsent drafts), the theme
following the system, and Help → About."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from PySide6.QtCore import Qt, QUrl
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QFileDialog, QLabel

import app.shell.theme
from app.engine.build_read import read_build
from app.shell.about import BUILD_ROWS, FOLDER_ROWS
from inference.common.paths import parley_paths
from inference.engine.requests import Mode
from tests.support.fake_engine import FakeEngine
from tests.support.gui_window import (
    MakeWindow,
    load_fake,
    send_and_wait,
)

pytestmark = pytest.mark.gui


def _slow() -> FakeEngine:
    return FakeEngine(words=[f" w{i}" for i in range(400)], delay=0.01)


@pytest.mark.parametrize("mode", [Mode.TEXT, Mode.INSTRUCT])
def test_escape_in_the_editor_stops_the_run_and_keeps_the_text(
        qtbot, make_window: MakeWindow, mode: Mode) -> None:
    window = make_window(_slow())
    load_fake(qtbot, window)
    window.set_mode(mode)
    if mode is Mode.TEXT:
        run, page, editor = window.text_run, window.text_page, window.text_page.editor
        editor.setPlainText("Once upon a time")
        page.continue_text()
    else:
        run, page, editor = (window.instruct_run, window.instruct_page,
                             window.instruct_page.instruction)
        editor.setPlainText("Tell a story.")
        page.run_instruction()
    assert run.busy
    editor.setFocus()
    qtbot.waitUntil(lambda: editor.hasFocus() and len(run.text) > 20, timeout=5000)
    qtbot.keyClick(editor, Qt.Key.Key_Escape)
    qtbot.waitUntil(lambda: not run.busy, timeout=3000)
    stored = window.ctx.store.messages(run.conv_id)[-1]
    assert stored.finish_reason == "cancelled" and stored.complete
    assert 20 < len(stored.content) < len(" w0" * 400)        # stopped early, partial kept
    if mode is Mode.TEXT:
        assert editor.toPlainText() == "Once upon a time" + stored.content
    else:
        assert stored.content.split()[:3] == ["w0", "w1", "w2"]
        assert window.instruct_page.response.toPlainText().startswith("w0 w1 w2")


def test_escape_in_the_composer_cancels_an_edit(qtbot, make_window: MakeWindow) -> None:
    window = make_window()
    load_fake(qtbot, window)
    send_and_wait(qtbot, window, "First words")
    window.chat_view.actionTriggered.emit("edit", 0)
    assert window.composer.editing_row == 0 and window.composer.text() == "First words"
    qtbot.keyClick(window.composer.input, Qt.Key.Key_Escape)
    assert window.composer.editing_row == -1 and window.composer.text() == ""
    assert window.transcript.message_at(0).content == "First words"


def test_welcome_buttons_do_what_they_say(qtbot, make_window: MakeWindow,
                                          monkeypatch: pytest.MonkeyPatch,
                                          tmp_path: Path) -> None:
    window = make_window()
    welcome = window.welcome
    assert window.pages.currentWidget() is welcome
    opened: list[QUrl] = []
    monkeypatch.setattr("app.shell.welcome.QDesktopServices.openUrl",
                        lambda url: opened.append(url))
    qtbot.mouseClick(welcome.folder_button, Qt.MouseButton.LeftButton)
    assert [u.toLocalFile() for u in opened] == [str(window.ctx.models_dir)]
    asked: list[str] = []
    chosen = str(tmp_path / "picked.gguf")

    def dialog(_parent, caption: str, _dir: str, _filter: str) -> tuple[str, str]:
        asked.append(caption)
        return chosen, "GGUF models (*.gguf)"
    monkeypatch.setattr(QFileDialog, "getOpenFileName", dialog)
    qtbot.mouseClick(welcome.open_button, Qt.MouseButton.LeftButton)
    assert asked == ["Open a GGUF model"]
    qtbot.waitUntil(lambda: window.ctx.client.loaded is not None, timeout=5000)
    assert window.ctx.client.last_spec.model == chosen
    window.wiring.client.unload()
    qtbot.waitUntil(lambda: window.ctx.client.loaded is None
                    and window.pages.currentWidget() is welcome, timeout=5000)
    qtbot.mouseClick(welcome.starter_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: window.ctx.client.loaded is not None, timeout=5000)
    assert window.ctx.client.last_spec.model == "starter"
    assert window.model_panel.choice() == "starter"


def test_the_theme_comes_back_after_a_restart(qtbot, make_window: MakeWindow) -> None:
    window = make_window(theme=None)                      # the theme from the preferences
    assert window.theme.choice == "system" and not window.theme.palette.dark
    combo = window.settings_panel.theme
    combo.setFocus()
    qtbot.keyClick(combo, Qt.Key.Key_End)                 # "Dark", picked by keyboard
    assert window.theme.palette.dark
    window.close()
    again = make_window(theme=None)
    assert again.theme.choice == "dark" and again.theme.palette.dark
    assert again.settings_panel.theme.currentData() == "dark"


# Two real windows, one after the other, on an offscreen screen big enough for the window (the
# default 800 × 800 one makes Qt shrink a restored geometry to fit it).
RESTART = """
import json, sys
from pathlib import Path
from PySide6.QtCore import QRect
from app.shell.context import AppContext
from app.shell.main import create_app
from app.shell.theme import ThemeManager
from app.shell.window import MainWindow
from tests.support.fake_engine import FakeEngine
from tests.support.gui_window import this_build
app = create_app(sys.argv[:1])
ctx = AppContext.create(FakeEngine, resolver=Path, build_reader=this_build)
window = MainWindow(ctx, ThemeManager(app, ctx.prefs.theme))
window.show()
app.processEvents()
if sys.argv[1] == "first":
    window.setGeometry(QRect(120, 90, 1500, 950))
    window.wiring._theme_chosen("dark")
    app.processEvents()
    window.splitter.setSizes([300, 700, 400])
    app.processEvents()
g = window.geometry()
print(json.dumps({"geometry": [g.x(), g.y(), g.width(), g.height()],
                  "splitter": window.splitter.sizes(),
                  "theme": window.theme.choice, "dark": window.theme.palette.dark}))
window.close()
ctx.store.close()
"""


def test_window_geometry_and_theme_come_back_after_a_restart(tmp_path: Path) -> None:
    screen = tmp_path / "screen.json"
    screen.write_text(json.dumps({"screens": [{"name": "big", "x": 0, "y": 0, "width": 2560,
                                               "height": 1440, "logicalDpi": 96,
                                               "logicalBaseDpi": 96, "dpr": 1}]}))
    env = {**os.environ, "QT_QPA_PLATFORM": f"offscreen:configfile={screen}"}
    root = Path(__file__).parents[2]

    def run(step: str) -> dict:
        out = subprocess.run([sys.executable, "-c", RESTART, step], capture_output=True,
                             text=True, cwd=root, env=env, timeout=120)
        assert out.returncode == 0, out.stderr
        return json.loads(out.stdout.strip().splitlines()[-1])

    first = run("first")
    assert first["geometry"] == [120, 90, 1500, 950] and first["dark"]
    assert first["splitter"][0] == 300
    second = run("second")                                 # the same PARLEY_HOME
    assert second == first


def test_the_system_theme_is_followed(qtbot, make_window: MakeWindow,
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    window = make_window(theme="system")
    hints = QGuiApplication.styleHints()
    assert not window.theme.palette.dark                 # offscreen reports no scheme: light
    monkeypatch.setattr(app.shell.theme, "system_is_dark", lambda: True)
    hints.colorSchemeChanged.emit(Qt.ColorScheme.Dark)   # the desktop switched to dark
    assert window.theme.palette.dark and window.chat_view.delegate.palette.dark
    monkeypatch.setattr(app.shell.theme, "system_is_dark", lambda: False)
    hints.colorSchemeChanged.emit(Qt.ColorScheme.Light)
    assert not window.theme.palette.dark
    window.theme.set_choice("dark")                      # a fixed choice ignores the system
    hints.colorSchemeChanged.emit(Qt.ColorScheme.Light)
    assert window.theme.palette.dark


def test_unsent_words_survive_a_restart(qtbot, make_window: MakeWindow) -> None:
    window = make_window()
    load_fake(qtbot, window)
    qtbot.keyClicks(window.composer.input, "a message I have not sent")
    window.set_mode(Mode.TEXT)
    qtbot.keyClicks(window.text_page.editor, "A story I am still writing")
    window.set_mode(Mode.INSTRUCT)
    qtbot.keyClicks(window.instruct_page.instruction, "An instruction not yet run")
    drafts = window.ctx.drafts.path
    qtbot.waitUntil(lambda: drafts.exists() and "not yet run" in drafts.read_text(),
                    timeout=3000)                          # saved by itself, after a second
    assert "a message I have not sent" in drafts.read_text()
    qtbot.keyClicks(window.instruct_page.instruction, "!")
    window.close()                                        # within the second: saved on close
    again = make_window()
    assert again.composer.text() == "a message I have not sent"
    assert again.text_page.editor.toPlainText() == "A story I am still writing"
    assert again.instruct_page.instruction.toPlainText() == "An instruction not yet run!"


def test_a_text_document_edited_after_continue_survives_a_restart(
        qtbot, make_window: MakeWindow) -> None:
    window = make_window()
    load_fake(qtbot, window)
    window.set_mode(Mode.TEXT)
    window.text_page.editor.setPlainText("Dear diary,")
    window.text_page.continue_text()
    qtbot.waitUntil(lambda: not window.text_run.busy, timeout=5000)
    conv = window.text_run.conv_id
    editor = window.text_page.editor
    editor.moveCursor(editor.textCursor().MoveOperation.End)
    qtbot.keyClicks(editor, " Then I edited it.")
    assert editor.toPlainText() == "Dear diary,Hello there, friend. Then I edited it."
    window.wiring.open_conversation(conv, "text")          # clicking it in the sidebar again
    assert editor.toPlainText().endswith("Then I edited it.")   # … keeps the edit
    window.set_mode(Mode.CHAT)
    window.close()
    again = make_window()
    assert again.text_run.conv_id == conv
    assert again.text_page.editor.toPlainText() == (
        "Dear diary,Hello there, friend. Then I edited it.")
    stored = [m.content for m in again.ctx.store.messages(conv)]
    assert stored == ["Dear diary,", "Hello there, friend."]    # the run itself, unchanged


def test_about_shows_the_build_and_the_data_folders(qtbot, make_window: MakeWindow) -> None:
    window = make_window()
    window.activateWindow()
    qtbot.waitUntil(lambda: QGuiApplication.focusWindow() is not None, timeout=3000)
    window.menus.actions["about"].trigger()               # Help → About Parley (not F1)
    about = window.about
    assert about is not None and about.isVisible()
    info = read_build().info                              # what inference/llama/version.py reports
    qtbot.waitUntil(lambda: about.values["cpu"].text() != "…", timeout=20_000)
    assert info.llama_cpp_commit and info.llama_cpp_commit in about.values["llama_cpp"].text()
    assert about.values["cpu"].text().startswith(info.cpu_backend)
    assert about.values["llama_cpp_python"].text() == info.llama_cpp_python
    assert about.values["parley"].text().startswith(info.parley)
    assert about.values["gpu"].text().startswith(info.gpu_backend)
    paths = parley_paths()
    assert about.values["database"].text() == str(paths.database)
    assert about.values["models"].text() == str(paths.models)
    for key, title in BUILD_ROWS + FOLDER_ROWS:
        assert about.values[key].accessibleName() == title
    named = [w for w in about.findChildren(QLabel) if w.accessibleName()]
    assert len(named) >= len(BUILD_ROWS + FOLDER_ROWS)
    assert about.accessibleName() == "About Parley"
    assert all(b.accessibleName() for b in about.findChildren(type(about.copy_button)))
    about.copy_details()
    assert info.cpu_backend in QGuiApplication.clipboard().text()
    about.close()
    qtbot.mouseClick(window.nav.about_button, Qt.MouseButton.LeftButton)  # the rail, too
    assert window.about is about and about.isVisible()


def test_the_app_reads_the_build_in_a_child_process() -> None:
    from app.engine.build_read import read_build_in_child
    from inference.common.cancel import CancelToken
    from inference.common.errors import Cancelled

    assert read_build_in_child(CancelToken()) == read_build()    # the same facts as here
    cancel = CancelToken()
    cancel.cancel()
    with pytest.raises(Cancelled):                         # closing the window stops it
        read_build_in_child(cancel)
