"""The main window on a scripted fake engine: persistence, sidebar, keys, themes, accessibility,
a 1,000-message conversation, closing mid-reply. (Real-model flows: test_gui_model.py.)"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from PySide6.QtCore import QPoint, Qt
from PySide6.QtWidgets import (
    QAbstractButton,
    QAbstractItemView,
    QAbstractSpinBox,
    QComboBox,
    QLineEdit,
    QMenuBar,
    QPlainTextEdit,
    QSlider,
    QTabBar,
    QTextBrowser,
)

from app.data.store import Store
from inference.common.paths import parley_paths
from tests.support.fake_engine import FakeEngine
from tests.support.gui_window import MakeWindow
from tests.support.gui_window import load_fake as _load
from tests.support.gui_window import send_and_wait as _send_and_wait

pytestmark = pytest.mark.gui


def test_no_model_keeps_the_draft_and_says_why(qtbot, make_window: MakeWindow) -> None:
    window = make_window()
    assert window.pages.currentWidget() is window.welcome
    window.pages.setCurrentWidget(window.chat_page)
    window.composer.set_text("hello there")
    qtbot.keyClick(window.composer.input, Qt.Key.Key_Return)
    assert window.composer.text() == "hello there"
    assert "No model is loaded" in window.banner.text()


def test_composer_keys(qtbot, make_window: MakeWindow) -> None:
    window = make_window()
    _load(qtbot, window)
    window.composer.input.setFocus()
    qtbot.keyClicks(window.composer.input, "line one")
    qtbot.keyClick(window.composer.input, Qt.Key.Key_Return, Qt.KeyboardModifier.ShiftModifier)
    qtbot.keyClicks(window.composer.input, "line two")
    assert window.composer.text() == "line one\nline two"
    qtbot.keyClick(window.composer.input, Qt.Key.Key_Return)
    assert window.composer.text() == ""
    assert window.transcript.message_at(0).content == "line one\nline two"
    qtbot.waitUntil(lambda: not window.controller.busy, timeout=5000)


def test_restart_with_same_home_restores_conversations_and_settings(
        qtbot, make_window: MakeWindow) -> None:
    window = make_window()
    _load(qtbot, window)
    _send_and_wait(qtbot, window, "Remember this conversation")
    window.settings_panel.fields["temperature"].spin.setValue(1.25)
    window.settings_panel.fields["top_k"].slider.setValue(13)
    window.settings_panel.system_prompt.setPlainText("You are a pirate.")
    qtbot.wait(400)                       # the system prompt is debounced
    window.settings_panel.save_preset("Pirate")
    window.close()
    again = make_window()
    assert again.sidebar.model.rowCount() == 1
    assert again.sidebar.model.conversation_at(0).title == "Remember this conversation"
    assert again.transcript.rowCount() == 2              # the last conversation reopens
    assert again.transcript.message_at(1).content == "Hello there, friend."
    sampling = again.settings_panel.sampling()
    assert sampling.temperature == 1.25 and sampling.top_k == 13
    assert again.settings_panel.system_prompt_text() == "You are a pirate."
    assert again.settings_panel.presets.findData("Pirate") >= 0
    assert again.ctx.prefs.recent_models[0] == "/models/fake.gguf"


def test_sidebar_search_rename_delete_undo_export(qtbot, make_window: MakeWindow,
                                                  tmp_path: Path) -> None:
    window = make_window()
    _load(qtbot, window)
    _send_and_wait(qtbot, window, "About apples")
    first = window.controller.conversation_id
    window.wiring.new_conversation()
    _send_and_wait(qtbot, window, "About pears")
    assert [c.title for c in window.ctx.store.list_conversations()] == ["About pears",
                                                                        "About apples"]
    window.sidebar.search.setText("apples")
    qtbot.waitUntil(lambda: window.sidebar.model.rowCount() == 1, timeout=2000)
    window.sidebar.search.setText("friend")               # matches message content
    qtbot.waitUntil(lambda: window.sidebar.model.rowCount() == 2, timeout=2000)
    window.sidebar.search.clear()
    window.sidebar.rename(first, "Fruit")
    assert window.ctx.store.get_conversation(first).title == "Fruit"
    window.sidebar.export(first, tmp_path / "fruit.md", "md")
    window.sidebar.export(first, tmp_path / "fruit.json", "json")
    assert "About apples" in (tmp_path / "fruit.md").read_text()
    assert json.loads((tmp_path / "fruit.json").read_text())
    window.sidebar.delete(first)
    assert window.sidebar.model.row_of(first) == -1
    assert window.banner.action.text() == "Undo"
    qtbot.mouseClick(window.banner.action, Qt.MouseButton.LeftButton)
    assert window.sidebar.model.row_of(first) >= 0
    assert window.controller.conversation_id == first
    assert window.transcript.message_at(0).content == "About apples"


def test_close_mid_reply_keeps_the_partial_reply(qtbot, make_window: MakeWindow) -> None:
    engine = FakeEngine(words=[f" word{i}" for i in range(300)], delay=0.02)
    window = make_window(engine)
    _load(qtbot, window)
    window.composer.set_text("Go on")
    window.composer.submit()
    qtbot.waitUntil(lambda: window.transcript.rowCount() == 2
                    and len(window.transcript.message_at(1).content) > 20, timeout=5000)
    conv = window.controller.conversation_id
    window.close()
    assert engine.closed
    stored = Store(parley_paths().database).messages(conv)[-1]
    assert stored.finish_reason == "cancelled" and stored.complete
    assert stored.content.startswith(" word0 word1")


def test_thousand_messages_open_and_scroll(qtbot, make_window: MakeWindow) -> None:
    store = Store(parley_paths().ensure().database)
    conv = store.create_conversation("Long one")
    body = "Some **markdown** with `code`.\n\n```python\nprint('x')\n```\n"
    for i in range(500):
        store.add_message(conv.id, "user", f"Question {i}?")
        store.add_message(conv.id, "assistant", f"Answer {i}. {body}")
    store.close()
    window = make_window()
    window.wiring.open_conversation(conv.id, "chat")
    view = window.chat_view
    view.doItemsLayout()
    last = window.transcript.index(999, 0)
    # the batched layout reaches the last row (how fast: tests/perf/gui_stream_bench.py)
    qtbot.waitUntil(lambda: view.visualRect(last).isValid(), timeout=5000)
    assert window.transcript.rowCount() == 1000
    bar = view.verticalScrollBar()
    top_rows = []                 # the row at the top of the viewport at each scroll step
    for step in range(40):
        bar.setValue(bar.maximum() * step // 39)
        view.viewport().repaint()
        top_rows.append(view.indexAt(QPoint(view.viewport().width() // 2, 1)).row())
    assert top_rows[0] == 0 and top_rows == sorted(top_rows), top_rows
    assert len(set(top_rows)) == len(top_rows), top_rows     # every step shows new rows
    assert view.viewport().rect().intersects(view.visualRect(last))   # the end is on screen


def test_every_control_is_named_and_reachable(make_window: MakeWindow) -> None:
    window = make_window()
    kinds = (QAbstractButton, QLineEdit, QPlainTextEdit, QComboBox, QSlider, QAbstractSpinBox,
             QAbstractItemView, QTextBrowser)
    missing = []
    for widget in window.findChildren(QAbstractButton) + [
            w for kind in kinds[1:] for w in window.findChildren(kind)]:
        if isinstance(widget.parent(), QAbstractSpinBox | QComboBox | QLineEdit | QTabBar
                      | QMenuBar) or widget.window() is not window:
            continue                      # Qt's own parts: inner edits, clear buttons, popups,
                                          # the menu bar's overflow button (menus: Alt, F10)
        name = widget.accessibleName() or (
            widget.text() if isinstance(widget, QAbstractButton) else "")
        if not name.strip():
            missing.append(f"{type(widget).__name__} {widget.objectName()!r}: no name")
        if widget.focusPolicy() == Qt.FocusPolicy.NoFocus:
            missing.append(f"{type(widget).__name__} {widget.objectName()!r}: no focus")
    assert not missing, "\n".join(missing)


def test_dark_theme_and_system_following(qapp, make_window: MakeWindow) -> None:
    window = make_window(theme="dark")
    assert window.theme.palette.dark
    assert window.chat_view.delegate.palette.dark
    assert "#1b1d21" in qapp.styleSheet()
    window.theme.set_choice("light")
    assert not window.chat_view.delegate.palette.dark
    window.theme.set_choice("system")       # offscreen: no scheme reported → light
    assert window.theme.choice == "system"


def test_importing_the_launcher_imports_no_qt() -> None:
    code = "import sys, app.shell.launcher; print('PySide6' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         cwd=Path(__file__).parents[2], check=True)
    assert out.stdout.strip() == "False"
