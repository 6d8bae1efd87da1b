"""The menu bar on the real window: File, Edit, View, Help with standard keys; F1 opens the help
dialog, which lists every shortcut from the one table the shortcuts are made from; About is in
the Help menu."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QGuiApplication, QKeySequence
from PySide6.QtWidgets import QApplication

from app.shell.menus import LISTED_ONLY, SHORTCUTS, shortcut
from app.shell.pages import NAMES
from tests.support.gui_window import MakeWindow, load_fake

pytestmark = pytest.mark.gui


def _active(qtbot, window) -> None:
    window.activateWindow()
    qtbot.waitUntil(lambda: QGuiApplication.focusWindow() is window.windowHandle(),
                    timeout=3000)


def test_menus_hold_the_standard_actions(make_window: MakeWindow) -> None:
    window = make_window()
    titles = [a.text() for a in window.menuBar().actions()]
    assert titles == ["&File", "&Edit", "&View", "&Help"]
    menus = {a.text(): [x.text() for x in a.menu().actions() if x.text()]
             for a in window.menuBar().actions()}
    assert menus["&File"] == ["&New conversation", "&Open model…", "&Quit"]
    assert menus["&Edit"] == ["&Copy", "&Find…", "&Preferences…"]
    assert menus["&Help"] == ["Parley &Help", "&About Parley"]
    assert {"Chat", "Library", "Hub", "Perplexity", "Compare", "&Theme"} <= set(menus["&View"])
    actions = window.menus.actions
    std = QKeySequence.StandardKey
    for key, standard, written in (("quit", std.Quit, "Ctrl+Q"), ("find", std.Find, "Ctrl+F"),
                                   ("help", std.HelpContents, "F1"), ("new", std.New, "Ctrl+N"),
                                   ("preferences", std.Preferences, "Ctrl+,")):
        own = QKeySequence.keyBindings(standard)   # the platform's standard key, if it has one
        assert actions[key].shortcuts() == (own or [QKeySequence(written)])
        assert actions[key].shortcut().toString() == written
    assert actions["about"].shortcut().isEmpty()                      # F1 is help, not About


def test_f1_opens_help_listing_every_shortcut_of_the_table(qtbot, make_window: MakeWindow
                                                           ) -> None:
    window = make_window()
    _active(qtbot, window)
    qtbot.keyClick(window, Qt.Key.Key_F1)
    dialog = window.help
    assert dialog is not None and dialog.isVisible()
    assert window.about is None                                       # not the About box
    rows = dialog.rows()
    assert rows == [(s.text(), s.what) for s in SHORTCUTS]
    assert ("Ctrl+Q", "Quit Parley") in rows and ("F1", "Help: these shortcuts") in rows
    made = {k for k in window.menus.actions if k != "about"}
    assert made == {s.key for s in SHORTCUTS} - LISTED_ONLY           # each row is a real key
    for key in made:                                                  # … made from the table
        assert window.menus.actions[key].shortcuts() == shortcut(key).sequences()


def test_find_focuses_the_conversation_search_from_any_page(qtbot, make_window: MakeWindow
                                                            ) -> None:
    window = make_window()
    _active(qtbot, window)
    qtbot.keyClick(window, Qt.Key.Key_3, Qt.KeyboardModifier.AltModifier)     # the Hub page
    assert window.switcher.current == NAMES[2]
    qtbot.keyClick(window, Qt.Key.Key_F, Qt.KeyboardModifier.ControlModifier)
    assert window.switcher.current == "chat"
    qtbot.waitUntil(lambda: window.sidebar.search.hasFocus(), timeout=3000)


def test_new_conversation_and_preferences_and_theme(qtbot, make_window: MakeWindow) -> None:
    window = make_window()
    load_fake(qtbot, window)
    window.composer.set_text("hello")
    qtbot.keyClick(window.composer.input, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: not window.controller.busy, timeout=5000)
    assert window.controller.conversation_id
    window.menus.actions["new"].trigger()
    assert window.controller.conversation_id in (0, None)
    window.switcher.show("library")
    window.menus.actions["preferences"].trigger()
    assert window.switcher.current == "chat" and window.tabs.currentIndex() == 0
    window.menus.theme_actions["dark"].trigger()
    assert window.theme.palette.dark and window.ctx.prefs.theme == "dark"
    assert window.settings_panel.theme.currentData() == "dark"
    window.settings_panel.themeChosen.emit("light")                   # the panel's own way
    assert window.menus.theme_actions["light"].isChecked()


def test_copy_copies_the_focused_selection(qtbot, make_window: MakeWindow) -> None:
    window = make_window()
    _active(qtbot, window)
    box = window.composer.input
    window.composer.set_text("copied words")
    box.setFocus()
    box.selectAll()
    qtbot.waitUntil(box.hasFocus, timeout=3000)
    QApplication.clipboard().clear()
    window.menus.actions["copy"].trigger()
    assert QApplication.clipboard().text() == "copied words"
