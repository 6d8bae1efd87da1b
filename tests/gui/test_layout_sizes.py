"""The real window at the sizes people use, and at 200 %: every page laid out (no widget over a
sibling, no text cut; `test_layout_checks.layout_problems`), the side panels folded into their
toggles where there is no room for them, and sizes that change only when the person drags them
(modes, an edit and a restart leave them as they were)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from PySide6.QtCore import QEvent, QPoint, QPointF, QSize, Qt
from PySide6.QtGui import QFontMetrics, QMouseEvent
from PySide6.QtWidgets import QApplication, QLineEdit, QSplitter, QWidget

from app.chat.footer import FOOTER_WIDTH
from app.chat.sidebar import rename_dialog
from app.data.prefs import PrefsStore
from app.shell.panel_layout import CENTER_MIN, PanelLayoutState, Place, Side
from app.shell.window import MIN_WINDOW, MainWindow
from inference.engine.requests import Mode
from tests.gui.test_layout_checks import Report, layout_problems
from tests.support.fake_engine import FakeEngine
from tests.support.gui_window import MakeWindow

pytestmark = pytest.mark.gui

SIZES = ((800, 500), (900, 600), (1024, 768), (1366, 768), (1920, 1080))
VIEWS = ("chat", "text", "instruct", "library", "hub", "perplexity", "compare", "server")
LONG_TITLE = "Planning a two-week rail trip through the Alps with a tight budget and kids"
ROOT = Path(__file__).parents[2]


def show_view(window: MainWindow, view: str) -> None:
    """One of the rail's pages, or one of the Chat page's modes."""
    if view in ("chat", "text", "instruct"):
        window.switcher.show("chat")
        window.set_mode(Mode(view))
    else:
        window.switcher.show(view)


def furnish(window: MainWindow, wait: Callable[[Callable[[], bool]], None]) -> None:
    """A loaded model, a reply cut at max tokens (its stats line), and a long-titled chat."""
    window.wiring.load_choice("/models/fake.gguf")
    wait(lambda: window.ctx.client.loaded is not None and window.ctx.client.state == "idle")
    window.settings_panel.fields["max_tokens"].spin.setValue(3)
    window.composer.set_text("Hello there")
    window.composer.submit()
    wait(lambda: window.transcript.rowCount() == 2 and not window.controller.busy)
    window.sidebar.rename(window.controller.conversation_id, LONG_TITLE)


def sweep(window: MainWindow, sizes: tuple[tuple[int, int], ...],
          settle: Callable[[], None]) -> Report:
    """Every view at every size, and at sizes that fold the panels each one opened over the
    chat: all the problems found, and how many texts were measured."""
    total = Report([], 0)
    for width, height in sizes:
        window.resize(width, height)
        settle()
        for view in VIEWS:
            show_view(window, view)
            settle()
            found = layout_problems(window)
            total.problems += [f"{view} at {width}×{height}: {p}" for p in found.problems]
            total.checked += found.checked
            if view != "chat":
                continue
            for side in Side:
                if window.panel_layout.places[side] is Place.FOLDED:
                    window.panel_layout.toggle(side)           # opens over the chat
                    settle()
                    found = layout_problems(window)
                    total.problems += [f"{side.value} open over the chat at {width}×{height}: "
                                       f"{p}" for p in found.problems]
                    total.checked += found.checked
                    window.panel_layout.close_overlays()
    return total


def _settle(qtbot) -> Callable[[], None]:
    return lambda: qtbot.wait(60)


def _wait(qtbot) -> Callable[[Callable[[], bool]], None]:
    return lambda cond: qtbot.waitUntil(cond, timeout=5000)


@pytest.fixture(name="window")
def furnished_window(qtbot, make_window: MakeWindow) -> MainWindow:
    window = make_window(FakeEngine(delay=0.0))
    furnish(window, _wait(qtbot))
    return window


@pytest.mark.parametrize("size", SIZES, ids=[f"{w}x{h}" for w, h in SIZES])
def test_every_page_is_laid_out_at_common_window_sizes(qtbot, window: MainWindow,
                                                      size: tuple[int, int]) -> None:
    report = sweep(window, (size,), _settle(qtbot))
    assert window.size() == QSize(*size)               # the window took the size asked
    assert report.checked > 150                        # texts were really measured
    assert not report.problems, "\n".join(report.problems)


def test_the_first_run_view_is_laid_out_at_common_window_sizes(qtbot, make_window: MakeWindow
                                                               ) -> None:
    window = make_window()                             # no model yet: the welcome view
    assert window.pages.currentWidget() is window.welcome
    for size in SIZES:
        window.resize(*size)
        qtbot.wait(60)
        report = layout_problems(window)
        assert report.checked > 30, size
        assert not report.problems, "\n".join(report.problems)


def test_the_window_is_never_smaller_than_its_decided_minimum(qtbot, window: MainWindow
                                                             ) -> None:
    window.resize(500, 300)
    qtbot.wait(60)
    assert window.size() == MIN_WINDOW
    assert window.minimumSizeHint().width() <= MIN_WINDOW.width()   # nothing asks for more
    for view in VIEWS:
        show_view(window, view)
        qtbot.wait(30)
        assert window.size() == MIN_WINDOW, view


def test_a_narrow_window_folds_the_side_panels_into_toggles(qtbot, window: MainWindow) -> None:
    layout, bar, menu = window.panel_layout, window.mode_bar, window.menus.actions
    window.resize(1366, 768)
    qtbot.wait(60)
    assert layout.shown(Side.SIDEBAR) and layout.shown(Side.PANEL)
    docked = window.splitter.sizes()
    window.resize(1024, 768)                           # the settings fold first
    qtbot.wait(60)
    assert layout.places == {Side.SIDEBAR: Place.DOCKED, Side.PANEL: Place.FOLDED}
    assert window.splitter.sizes()[0] == docked[0]     # the sidebar kept its width
    window.resize(800, 500)
    qtbot.wait(60)
    assert not window.sidebar.isVisible() and not window.right_splitter.isVisible()
    assert not bar.sidebar_toggle.isChecked() and not menu["panel:sidebar"].isChecked()
    assert window.splitter.sizes()[1] >= CENTER_MIN
    qtbot.mouseClick(bar.sidebar_toggle, Qt.MouseButton.LeftButton)
    assert layout.places[Side.SIDEBAR] is Place.OVERLAY and window.sidebar.isVisible()
    assert bar.sidebar_toggle.isChecked() and menu["panel:sidebar"].isChecked()
    over = window.sidebar.geometry()
    assert over.top() >= bar.geometry().bottom() and over.left() == 0
    assert layout_problems(window).problems == []
    first = window.sidebar.model.index(0, 0)
    qtbot.mouseClick(window.sidebar.list.viewport(), Qt.MouseButton.LeftButton,
                     pos=window.sidebar.list.visualRect(first).center())
    assert layout.places[Side.SIDEBAR] is Place.FOLDED   # choosing a chat closes it
    menu["panel:panel"].trigger()                        # View → Settings and metrics
    assert layout.places[Side.PANEL] is Place.OVERLAY and window.right_splitter.isVisible()
    window.escape()                                      # Esc closes it
    assert layout.places[Side.PANEL] is Place.FOLDED
    qtbot.mouseClick(bar.panel_toggle, Qt.MouseButton.LeftButton)
    window.resize(1366, 768)                             # room again: both dock, as they were
    qtbot.wait(60)
    assert layout.places == {Side.SIDEBAR: Place.DOCKED, Side.PANEL: Place.DOCKED}
    assert window.splitter.sizes() == docked


def test_an_open_panel_has_a_shadow_and_a_click_on_the_chat_beside_it_closes_it(
        qtbot, window: MainWindow) -> None:
    layout, bar = window.panel_layout, window.mode_bar
    window.resize(800, 500)
    qtbot.wait(60)
    qtbot.mouseClick(bar.panel_toggle, Qt.MouseButton.LeftButton)
    panel = window.right_splitter
    assert layout.places[Side.PANEL] is Place.OVERLAY and panel.graphicsEffect() is not None
    inside = panel.rect().center()
    qtbot.mouseClick(panel, Qt.MouseButton.LeftButton, pos=inside)
    assert layout.places[Side.PANEL] is Place.OVERLAY     # a click inside keeps it open
    beside, at = layout.center, QPoint(20, layout.center.height() // 2)
    assert not panel.geometry().contains(at)
    qtbot.mouseClick(beside, Qt.MouseButton.LeftButton, pos=at)
    assert layout.places[Side.PANEL] is Place.FOLDED and not panel.isVisible()
    assert panel.graphicsEffect() is None                  # folded panels draw no shadow
    qtbot.mouseClick(beside, Qt.MouseButton.LeftButton, pos=at)
    assert layout.places[Side.PANEL] is Place.FOLDED       # and later clicks change nothing


def test_a_panel_the_person_closed_stays_closed_when_the_window_grows(qtbot, window: MainWindow
                                                                     ) -> None:
    layout = window.panel_layout
    window.resize(1366, 768)
    qtbot.wait(60)
    width = window.splitter.sizes()[0]
    window.menus.actions["panel:sidebar"].trigger()      # View → Conversations: hide it
    assert layout.places[Side.SIDEBAR] is Place.FOLDED
    for size in ((800, 500), (1920, 1080)):
        window.resize(*size)
        qtbot.wait(60)
        assert layout.places[Side.SIDEBAR] is Place.FOLDED
    qtbot.mouseClick(window.mode_bar.sidebar_toggle, Qt.MouseButton.LeftButton)
    assert layout.places[Side.SIDEBAR] is Place.DOCKED
    assert window.splitter.sizes()[0] == width


def test_modes_and_an_edit_leave_the_window_and_panel_sizes_alone(qtbot, window: MainWindow
                                                                 ) -> None:
    window.resize(1360, 860)
    qtbot.wait(60)

    def sizes() -> tuple[QSize, list[int], list[int]]:
        return window.size(), window.splitter.sizes(), window.right_splitter.sizes()

    before = sizes()
    for mode in (Mode.TEXT, Mode.INSTRUCT, Mode.CHAT):
        window.set_mode(mode)
        qtbot.wait(60)
        assert sizes() == before, mode
    window.wiring.actions.trigger("edit", 0)             # Edit on your message
    qtbot.wait(60)
    assert window.composer.editing_row == 0 and window.composer.edit_banner.isVisible()
    assert sizes() == before
    assert layout_problems(window).problems == []
    window.escape()
    window.mode_bar.set_template("Template: " + "a very long template name " * 8)
    qtbot.wait(60)
    assert sizes() == before


def _drag(handle: QWidget, by: QPoint) -> None:
    """Press on a splitter handle, move the mouse by `by` with the button held, release."""
    start = QPointF(handle.rect().center())
    end = start + QPointF(by)
    for kind, pos, buttons in ((QEvent.Type.MouseButtonPress, start, Qt.MouseButton.LeftButton),
                               (QEvent.Type.MouseMove, end, Qt.MouseButton.LeftButton),
                               (QEvent.Type.MouseButtonRelease, end, Qt.MouseButton.NoButton)):
        event = QMouseEvent(kind, pos, QPointF(handle.mapToGlobal(pos.toPoint())),
                            Qt.MouseButton.LeftButton, buttons, Qt.KeyboardModifier.NoModifier)
        QApplication.sendEvent(handle, event)


def test_dragged_sizes_come_back_after_closing_and_reopening(qtbot, make_window: MakeWindow
                                                             ) -> None:
    window = make_window()
    window.resize(1500, 900)
    qtbot.wait(60)
    start, right = window.splitter.sizes(), window.right_splitter.sizes()
    splitter: QSplitter = window.splitter
    _drag(splitter.handle(1), QPoint(70, 0))            # a wider sidebar
    _drag(splitter.handle(2), QPoint(-50, 0))           # a wider settings panel
    _drag(window.right_splitter.handle(1), QPoint(0, 40))
    dragged, dragged_right = window.splitter.sizes(), window.right_splitter.sizes()
    # (a handle's grip is wider than its line, so a drag lands a pixel or two short)
    assert dragged[0] > start[0] + 60 and dragged[2] > start[2] + 40
    assert dragged_right[0] > right[0] + 30
    for mode in (Mode.TEXT, Mode.CHAT):
        window.set_mode(mode)
        qtbot.wait(30)
        assert window.splitter.sizes() == dragged
    window.close()
    again = make_window()
    again.resize(1500, 900)           # the offscreen screen is smaller: restored, then sized
    qtbot.wait(60)
    assert again.splitter.sizes() == dragged
    assert again.right_splitter.sizes() == dragged_right


def test_the_stats_line_under_a_reply_fits_in_whole_figures(qtbot, window: MainWindow) -> None:
    window.resize(800, 500)
    qtbot.wait(60)
    view = window.chat_view
    index = view.model().index(1, 0)
    geo = view.delegate.geometry(index, view.visualRect(index))
    text = view.delegate.footer(view.delegate.message(index))
    metrics = QFontMetrics(view.delegate.small)
    lines = text.split("\n")
    assert geo.footer.width() >= FOOTER_WIDTH
    assert all(metrics.horizontalAdvance(line) <= geo.footer.width() for line in lines)
    assert geo.footer.height() >= len(lines) * metrics.lineSpacing()
    assert any(line.endswith("max tokens reached") for line in lines)
    assert "TTFT" in text and "output 3 tok" in text


def test_the_rename_field_shows_the_whole_title(qtbot, window: MainWindow) -> None:
    dialog = rename_dialog(window.sidebar, LONG_TITLE)
    qtbot.addWidget(dialog)
    dialog.show()
    qtbot.waitExposed(dialog)
    field = dialog.findChild(QLineEdit)
    chrome = field.sizeHint().width() - 17 * field.fontMetrics().horizontalAdvance("x")
    assert field.width() - chrome >= field.fontMetrics().horizontalAdvance(LONG_TITLE)
    assert layout_problems(dialog).problems == []
    dialog.reject()


def test_the_compare_library_picker_shows_names_and_filters_whole(qtbot) -> None:
    from app.compare.library_picker import ANY_ARCHITECTURE, LibraryPicker
    from inference.common.paths import parley_paths
    from inference.library.library import Library
    from tests.support.gguf_factory import write_tiny_model

    models = parley_paths().ensure().models
    name = "gemma-3-27b-it-qat-Q4_K_M.gguf"
    write_tiny_model(models / name)
    own = Library()
    picker = LibraryPicker(Library(own.paths, sources=own.sources()[:1]))
    qtbot.addWidget(picker)
    picker.show()
    qtbot.waitUntil(lambda: picker.listed, timeout=20_000)
    qtbot.wait(60)
    assert picker.architecture.currentText() == ANY_ARCHITECTURE
    table = picker.table
    cell = table.fontMetrics().horizontalAdvance(name) + 16
    assert table.columnWidth(0) >= cell                  # "gemma-3-27b-it-qat-Q4_K_M.gguf"
    report = layout_problems(picker)
    assert report.checked > 10 and report.problems == []
    picker.reject()


# -- 200 %: a fresh QApplication with QT_SCALE_FACTOR=2, in a child process --------------------
SCALED = """
import json, sys, time
from pathlib import Path
from PySide6.QtCore import QCoreApplication
from app.shell.context import AppContext
from app.shell.main import create_app
from app.shell.theme import ThemeManager
from app.shell.window import MainWindow
from tests.gui import test_layout_sizes as t
from tests.support.fake_engine import FakeEngine
from tests.support.gui_window import this_build
app = create_app(sys.argv[:1])
ctx = AppContext.create(lambda: FakeEngine(delay=0.0), resolver=Path, build_reader=this_build)
window = MainWindow(ctx, ThemeManager(app, "light"))
window.show()
def spin(ms=60):
    end = time.monotonic() + ms / 1000
    while time.monotonic() < end:
        app.processEvents()
        time.sleep(0.005)
def wait(cond):
    end = time.monotonic() + 10
    while not cond():
        if time.monotonic() > end:
            raise TimeoutError("the window did not get there")
        spin(20)
t.furnish(window, wait)
report = t.sweep(window, t.SIZES, spin)
print(json.dumps({"ratio": window.devicePixelRatioF(), "problems": report.problems,
                  "checked": report.checked}))
window.close()
ctx.store.close()
"""


def test_every_page_is_laid_out_at_200_percent(tmp_path: Path) -> None:
    screen = tmp_path / "screen.json"                 # 3840 × 2160 pixels: 1920 × 1080 at 2×
    screen.write_text(json.dumps({"screens": [{"name": "hidpi", "x": 0, "y": 0, "width": 3840,
                                               "height": 2160, "logicalDpi": 96,
                                               "logicalBaseDpi": 96, "dpr": 1}]}))
    env = {**os.environ, "QT_QPA_PLATFORM": f"offscreen:configfile={screen}",
           "QT_SCALE_FACTOR": "2"}
    out = subprocess.run([sys.executable, "-c", SCALED], capture_output=True, text=True,
                         cwd=ROOT, env=env, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["ratio"] == 2.0                      # it really ran at 200 %
    assert result["checked"] > len(SIZES) * 150
    assert result["problems"] == []


def test_the_saved_layout_reads_back_and_damage_is_ignored() -> None:
    state = PanelLayoutState(300, 420, [500, 300], {Side.SIDEBAR})
    assert PanelLayoutState.from_text(state.to_text()) == state
    for bad in ("", "not json", "[]", '{"version": 1}', "AAAA/w=="):
        assert PanelLayoutState.from_text(bad) is None
    odd = PanelLayoutState.from_text('{"version": 2, "sidebar": -5, "panel": "wide", '
                                     '"right": [1], "closed": ["nothing", "panel"]}')
    assert odd == PanelLayoutState(closed={Side.PANEL})   # what is wrong falls back


def test_an_older_windows_splitter_state_keeps_its_widths(qtbot, make_window: MakeWindow
                                                           ) -> None:
    old = QSplitter()
    for _ in range(3):
        old.addWidget(QWidget())
    old.resize(1372, 600)
    old.setSizes([300, 670, 400])
    store = PrefsStore()
    prefs = store.load()
    prefs.splitter_state = bytes(old.saveState().toBase64().data()).decode()
    store.save(prefs)
    window = make_window()
    window.resize(1500, 900)
    qtbot.wait(60)
    sizes = window.splitter.sizes()
    assert (sizes[0], sizes[2]) == (300, 400)
