"""A very long message folds: past FOLD_LINES lines it shows its first lines and "Show more";
a click shows it whole ("Show less"). Its bubble stays inside its own row (under its header, above
the next message) folded, unfolded, while it streams and after the conversation is reopened:
checked on the geometry and on the pixels the real window paints."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QRect, QRectF, Qt
from PySide6.QtGui import QColor, QFontMetricsF, QImage

from app.chat.render.layout import GAP, ROLE_H
from app.chat.render.markdown import FOLD_LINES
from app.chat.transcript import Role
from app.shell.theme import LIGHT
from app.shell.window import MainWindow
from tests.support.fake_engine import FakeEngine
from tests.support.gui_window import MakeWindow, load_fake, send_and_wait

pytestmark = pytest.mark.gui

LONG = "\n".join(f"Line {i} of a long answer." for i in range(200))


def _line_h(window: MainWindow) -> float:
    return QFontMetricsF(window.chat_view.delegate.font).lineSpacing()


def _background_only(image: QImage, area: QRectF) -> bool:
    """Nothing but the transcript's background in `area` (viewport pixels)."""
    bg = QColor(LIGHT.window)
    r = area.toRect().intersected(QRect(0, 0, image.width(), image.height()))
    return all(image.pixelColor(x, y) == bg for y in range(r.top(), r.bottom() + 1)
               for x in range(r.left(), r.right() + 1, 2))


def _check_row(window: MainWindow, row: int, image: QImage | None = None) -> QRectF:
    """The row's bubble is inside its row, below its header line; returns the bubble."""
    view = window.chat_view
    index = view.model().index(row, 0)
    rect = view.visualRect(index)
    geo = view.delegate.geometry(index, rect)
    assert geo.bubble.top() >= rect.top() + GAP + ROLE_H - 0.5
    assert geo.footer.bottom() <= rect.bottom() + 1
    if row + 1 < view.model().rowCount():
        below = view.visualRect(view.model().index(row + 1, 0))
        assert below.top() >= geo.footer.bottom()
    if image is not None:
        left = max([r.right() for _, r in geo.actions] + [geo.bubble.left() + 90]) + 4
        header = QRectF(left, rect.top() + 1, geo.bubble.right() - 40 - left,
                        GAP + ROLE_H - 5)             # right of the role label and actions
        assert _background_only(image, header)
        gap = QRectF(rect.left(), geo.footer.bottom() + 1, rect.width(),
                     rect.bottom() - geo.footer.bottom() - 1)
        assert _background_only(image, gap)
    return geo.bubble


def _folded_height_ok(window: MainWindow, row: int) -> None:
    view = window.chat_view
    index = view.model().index(row, 0)
    geo = view.delegate.geometry(index, view.visualRect(index))
    assert geo.fold is not None
    assert FOLD_LINES * _line_h(window) * 0.8 <= geo.text.height() <= \
        FOLD_LINES * _line_h(window) + 1


def test_a_long_reply_folds_and_unfolds_inside_its_row(qtbot, make_window: MakeWindow) -> None:
    window = make_window(FakeEngine(words=[LONG], delay=0.001))
    window.resize(1400, 1000)
    load_fake(qtbot, window)
    send_and_wait(qtbot, window, "Short question")
    send_and_wait(qtbot, window, "And another")
    view = window.chat_view
    view.scrollTo(view.model().index(1, 0), view.ScrollHint.PositionAtTop)
    qtbot.wait(50)
    _folded_height_ok(window, 1)
    _check_row(window, 1, view.viewport().grab().toImage())
    index = view.model().index(1, 0)
    geo = view.delegate.geometry(index, view.visualRect(index))
    assert not view.delegate.geometry(view.model().index(0, 0),
                                      view.visualRect(view.model().index(0, 0))).fold
    qtbot.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, pos=geo.fold.center().toPoint())
    assert index.data(Role.UnfoldedRole)
    qtbot.waitUntil(lambda: view.visualRect(index).height() > 150 * _line_h(window),
                    timeout=2000)
    opened = view.delegate.geometry(index, view.visualRect(index))
    assert opened.text.height() > 190 * _line_h(window)
    _check_row(window, 1)
    view.scrollTo(index, view.ScrollHint.PositionAtBottom)
    qtbot.wait(50)
    _check_row(window, 1, view.viewport().grab().toImage())
    opened = view.delegate.geometry(index, view.visualRect(index))
    qtbot.mouseClick(view.viewport(), Qt.MouseButton.LeftButton,
                     pos=opened.fold.center().toPoint())          # Show less
    assert not index.data(Role.UnfoldedRole)
    qtbot.waitUntil(lambda: view.visualRect(index).height() < 60 * _line_h(window),
                    timeout=2000)
    _folded_height_ok(window, 1)


def test_a_long_message_of_yours_folds_too_and_the_menu_unfolds_it(
        qtbot, make_window: MakeWindow) -> None:
    window = make_window()
    window.resize(1400, 1000)
    load_fake(qtbot, window)
    send_and_wait(qtbot, window, LONG)
    view = window.chat_view
    view.scrollToTop()
    qtbot.wait(50)
    _folded_height_ok(window, 0)
    _check_row(window, 0, view.viewport().grab().toImage())
    menu = view.message_menu(0)
    [show] = [a for a in menu.actions() if a.text() == "Show more"]
    show.trigger()
    assert view.model().index(0, 0).data(Role.UnfoldedRole)
    assert "Show less" in [a.text() for a in view.message_menu(0).actions()]
    assert view.code_blocks(0) == []          # folding changes what shows, never the text
    assert window.transcript.message_at(0).content == LONG


def test_a_long_reply_stays_in_its_row_while_it_streams_and_after_reopening(
        qtbot, make_window: MakeWindow) -> None:
    words = [f"Line {i} of a long answer.\n" for i in range(160)]
    window = make_window(FakeEngine(words=words, delay=0.01))
    window.resize(1400, 1000)
    load_fake(qtbot, window)
    window.composer.set_text("Tell me a lot")
    qtbot.keyClick(window.composer.input, Qt.Key.Key_Return)
    view = window.chat_view
    index = view.model().index(1, 0)
    qtbot.waitUntil(lambda: view.delegate.foldable(index), timeout=5000)
    assert window.controller.busy
    _folded_height_ok(window, 1)
    _check_row(window, 1)
    qtbot.waitUntil(lambda: not window.controller.busy, timeout=10_000)
    conv = window.controller.conversation_id
    window.wiring.new_conversation()
    window.wiring.open_conversation(conv, "chat")
    view.scrollToTop()
    qtbot.wait(50)
    _folded_height_ok(window, 1)
    _check_row(window, 0)
    _check_row(window, 1, view.viewport().grab().toImage())
