"""The window's pages on a scripted fake engine: the navigation rail switches pages by mouse and
by keyboard (Alt+1…6, Tab, arrows, Space), every control is named and focusable, Library's Load
goes through the window's model flow, errors reach the banner, and closing shuts pages down."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QAbstractButton,
    QAbstractItemView,
    QAbstractSpinBox,
    QComboBox,
    QHeaderView,
    QLineEdit,
    QPlainTextEdit,
    QTabBar,
    QTextBrowser,
    QWidget,
)

from app.compare.page import ComparePage
from app.hub.page import HubPage
from app.library.page import LibraryPage
from app.perplexity.page import PerplexityPage
from app.server.page import ServerPage
from app.shell.context import AppContext
from app.shell.pages import NAMES
from app.shell.theme import ThemeManager
from app.shell.window import MainWindow
from tests.support.fake_engine import FakeEngine

pytestmark = pytest.mark.gui
KINDS = {"library": LibraryPage, "hub": HubPage, "perplexity": PerplexityPage,
         "compare": ComparePage, "server": ServerPage}


@pytest.fixture
def window(qtbot, qapp, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    home = tmp_path / "home"                  # the library looks in ~ (LM Studio, HF cache …)
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    for key in ("HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE", "HF_HOME", "XDG_CACHE_HOME",
                "XDG_DATA_HOME"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    engine = FakeEngine()
    ctx = AppContext.create(lambda: engine, resolver=Path)
    win = MainWindow(ctx, ThemeManager(qapp, "light"))
    win.engine = engine                       # for the tests
    qtbot.addWidget(win)
    win.show()
    win.activateWindow()
    qtbot.waitUntil(lambda: qapp.activeWindow() is win, timeout=5000)
    yield win
    win.close()
    ctx.store.close()


def _current(window: MainWindow) -> QWidget:
    return window.page_stack.currentWidget()


def _is_page(window: MainWindow, name: str) -> bool:
    page = _current(window)
    ok = page is window.splitter if name == "chat" else isinstance(page, KINDS[name])
    return ok and window.nav.buttons[name].isChecked() and window.switcher.current == name


def test_nav_clicks_switch_pages(qtbot, window: MainWindow) -> None:
    assert _is_page(window, "chat")
    for name in (*NAMES[1:], "chat"):
        qtbot.mouseClick(window.nav.buttons[name], Qt.MouseButton.LeftButton)
        assert _is_page(window, name)
    library = window.switcher.page("library")
    qtbot.mouseClick(window.nav.buttons["library"], Qt.MouseButton.LeftButton)
    assert window.switcher.page("library") is library        # built once, then reused


def test_every_page_is_reachable_by_keyboard(qtbot, window: MainWindow) -> None:
    for i, name in enumerate(NAMES):                           # Alt+1 … Alt+6
        qtbot.keyClick(window, Qt.Key(Qt.Key.Key_1 + i), Qt.KeyboardModifier.AltModifier)
        assert _is_page(window, name)
        assert window.nav.buttons[name].hasFocus()             # the keyboard is on the rail
    first = window.nav.buttons["chat"]
    first.setFocus(Qt.FocusReason.TabFocusReason)
    for name in NAMES[1:]:                                     # Down walks the rail
        qtbot.keyClick(window.focusWidget(), Qt.Key.Key_Down)
        assert _is_page(window, name) and window.nav.buttons[name].hasFocus()
    qtbot.keyClick(window.focusWidget(), Qt.Key.Key_Down)       # and wraps around
    assert _is_page(window, "chat")
    qtbot.keyClick(window.focusWidget(), Qt.Key.Key_Up)
    assert _is_page(window, NAMES[-1])
    window.nav.buttons["hub"].setFocus(Qt.FocusReason.TabFocusReason)
    qtbot.keyClick(window.nav.buttons["hub"], Qt.Key.Key_Space)
    assert _is_page(window, "hub")
    window.nav.buttons["chat"].setFocus(Qt.FocusReason.TabFocusReason)
    qtbot.keyClick(window.nav.buttons["chat"], Qt.Key.Key_Tab)  # Tab leaves the rail for the page
    assert window.focusWidget() not in window.nav.buttons.values()


@pytest.mark.parametrize("name", NAMES)
def test_every_control_on_every_page_is_named_and_focusable(window: MainWindow,
                                                           name: str) -> None:
    window.switcher.show(name)
    page = _current(window)
    missing = []
    kinds = (QLineEdit, QPlainTextEdit, QComboBox, QAbstractSpinBox, QAbstractItemView,
             QTextBrowser)
    widgets = page.findChildren(QAbstractButton) + [
        w for kind in kinds for w in page.findChildren(kind)]
    for widget in widgets + list(window.nav.buttons.values()):
        if isinstance(widget.parent(), QAbstractSpinBox | QComboBox | QLineEdit | QTabBar
                      | QAbstractItemView) or isinstance(widget, QHeaderView) \
                or widget.window() is not window:
            continue                          # Qt's own parts: inner edits, headers, popups
        label = widget.accessibleName() or (
            widget.text() if isinstance(widget, QAbstractButton) else "")
        if not label.strip():
            missing.append(f"{type(widget).__name__} {widget.objectName()!r}: no name")
        if widget.focusPolicy() == Qt.FocusPolicy.NoFocus:
            missing.append(f"{type(widget).__name__} {widget.objectName()!r}: no focus")
    assert not missing, "\n".join(missing)


def test_library_load_goes_through_the_window(qtbot, window: MainWindow) -> None:
    window.switcher.show("library")
    library = _current(window)
    assert isinstance(library, LibraryPage)
    library.loadRequested.emit("/models/fake-Q4_K_M.gguf")
    qtbot.waitUntil(lambda: window.ctx.client.loaded is not None, timeout=5000)
    assert window.engine.configs[-1].path == Path("/models/fake-Q4_K_M.gguf")
    assert window.model_panel.choice() == "/models/fake-Q4_K_M.gguf"
    assert "fake-Q4_K_M" in window.nav.status.text()
    assert _is_page(window, "library")                         # the user stays where they are


def test_page_errors_downloads_and_shutdown(qtbot, window: MainWindow,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    pages = {name: window.switcher.page(name) for name in KINDS}
    pages["compare"].errorOccurred.emit("Add the GGUF files to compare first.")
    assert window.banner.kind == "error"
    assert window.banner.text() == "Add the GGUF files to compare first."
    refreshed: list[bool] = []
    monkeypatch.setattr(pages["library"], "refresh", lambda: refreshed.append(True))
    pages["hub"].downloaded.emit("/models/new.gguf")
    assert refreshed == [True] and "/models/new.gguf" in window.banner.text()
    closed: list[str] = []
    for name, page in pages.items():
        original = page.shutdown

        def record(name: str = name, original=original) -> None:
            closed.append(name)
            original()
        monkeypatch.setattr(page, "shutdown", record)
    window.close()
    assert sorted(closed) == sorted(KINDS)


def test_escape_cancels_a_measurement_state(window: MainWindow) -> None:
    window.ctx.client._set_state("measuring")                  # as while perplexity runs
    window.escape()
    assert window.ctx.client._cancel.cancelled
    window.ctx.client._set_state("unloaded")


def test_every_page_implements_the_page_protocol(window: MainWindow) -> None:
    from app.chat.page import ChatPage
    from app.shell.pages import Page

    for cls in (ChatPage, *KINDS.values()):                  # each page class, built or not
        assert all(hasattr(cls, m) for m in ("errorOccurred", "set_palette", "shutdown")), cls
    pages = {name: window.switcher.page(name) for name in NAMES}
    assert isinstance(pages["chat"], ChatPage) and pages["chat"] is window.splitter
    for name, page in pages.items():
        assert isinstance(page, Page), name
        page.errorOccurred.emit(f"{name} went wrong")          # reaches the banner
        assert window.banner.text() == f"{name} went wrong"
