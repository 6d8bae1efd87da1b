"""Code blocks coloured by their language (Pygments), in the palette's colours, on the real
window: the pixels of a ```python block carry the keyword, string and comment colours, in the
light and the dark theme; a block with no language, or one Pygments does not know, stays plain;
the Copy chip still copies exactly the code."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QRect, Qt
from PySide6.QtGui import QColor, QGuiApplication, QImage

from app.chat.render.highlight import Highlighter, lexer_for, spans
from app.shell.theme import DARK, LIGHT, Palette
from app.shell.window import MainWindow
from tests.support.fake_engine import FakeEngine
from tests.support.gui_window import MakeWindow, load_fake, send_and_wait

pytestmark = pytest.mark.gui

CODE = 'def greet(name):\n    # say hello\n    return "Hello " + name\n\nprint(greet("x"))'


def _reply(language: str) -> list[str]:
    return [f"Here:\n\n```{language}\n{CODE}\n```\n\nDone."]


def _near(pixel: QColor, target: QColor, tolerance: int = 40) -> bool:
    return (abs(pixel.red() - target.red()) + abs(pixel.green() - target.green())
            + abs(pixel.blue() - target.blue())) <= tolerance


def _code_pixels(window: MainWindow) -> QImage:
    """The reply's code block as painted on screen, without its Copy chip."""
    view = window.chat_view
    index = view.model().index(1, 0)
    rect = view.visualRect(index)
    geo = view.delegate.geometry(index, rect)
    item = view.delegate.rendered(index, rect.width())
    assert len(item.code_blocks) == 1
    block = item.code_blocks[0].rect.translated(geo.text.topLeft()).toRect()
    image = view.viewport().grab().toImage()
    return image.copy(QRect(block.left() + 4, block.top() + 30, block.width() - 70,
                            block.height() - 34))


def _count(image: QImage, target: QColor) -> int:
    return sum(1 for y in range(0, image.height(), 1) for x in range(0, image.width(), 1)
               if _near(image.pixelColor(x, y), target))


def _show(qtbot, make_window: MakeWindow, language: str, theme: str) -> MainWindow:
    window = make_window(FakeEngine(words=_reply(language), delay=0.001), theme=theme)
    window.resize(1400, 900)
    load_fake(qtbot, window)
    send_and_wait(qtbot, window, "Show me code")
    window.chat_view.scrollToBottom()
    qtbot.wait(50)
    return window


@pytest.mark.parametrize("theme, palette", [("light", LIGHT), ("dark", DARK)])
def test_a_python_block_is_coloured_from_the_palette(qtbot, make_window: MakeWindow,
                                                     theme: str, palette: Palette) -> None:
    window = _show(qtbot, make_window, "python", theme)
    image = _code_pixels(window)
    for name in ("accent", "chart_b", "muted"):          # keywords, strings, the comment
        assert _count(image, QColor(getattr(palette, name))) > 15, name
    clipboard = QGuiApplication.clipboard()
    clipboard.setText("something else")
    view = window.chat_view
    index = view.model().index(1, 0)
    geo = view.delegate.geometry(index, view.visualRect(index))
    chip = view.delegate.code_chip_rects(geo, view.delegate.rendered(
        index, view.visualRect(index).width()))[0]
    qtbot.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, pos=chip.center().toPoint())
    assert clipboard.text() == CODE


@pytest.mark.parametrize("language", ["", "no-such-language"])
def test_no_language_or_an_unknown_one_stays_plain(qtbot, make_window: MakeWindow,
                                                   language: str) -> None:
    window = _show(qtbot, make_window, language, "light")
    image = _code_pixels(window)
    assert _count(image, QColor(LIGHT.text)) > 40         # the code is there, in text colour
    for name in ("accent", "chart_b"):
        assert _count(image, QColor(getattr(LIGHT, name))) == 0, name
    assert window.chat_view.code_blocks(1) == [CODE]


def test_languages_are_looked_up_not_guessed() -> None:
    assert lexer_for("python") is not None and lexer_for("Python3 extra words") is not None
    assert lexer_for("") is None and lexer_for("no-such-language") is None
    assert list(spans(CODE, "")) == [] and list(spans(CODE, "klingon")) == []
    found = list(spans(CODE, "python"))
    assert CODE[found[0].start:found[0].start + found[0].length] == "def"
    highlighter = Highlighter(size=2)
    first = highlighter.spans(CODE, "python")
    assert first == tuple(found) and highlighter.spans(CODE, "python") is first   # remembered
