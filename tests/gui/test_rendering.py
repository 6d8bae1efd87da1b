"""What a reply looks like while and after it streams, on a scripted fake engine: the stats line
under each message, Markdown code blocks and their Copy chip (mouse and keyboard), token
coalescing, the metrics panel's live refresh, and the figures' definitions."""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest
from PySide6.QtCore import QModelIndex, QPoint, QRectF, Qt
from PySide6.QtGui import QGuiApplication, QImage, QPainter
from PySide6.QtWidgets import QStyleOptionViewItem

from app.chat.transcript import Role
from app.settings.metrics_panel import FIGURE_DEFINITIONS, FIGURES
from app.shell.window import MainWindow
from inference.engine.metrics import GenerationStats
from tests.support.fake_engine import FakeEngine
from tests.support.gui_window import (
    MakeWindow,
    load_fake,
    send_and_wait,
)
from tests.support.paint_regions import PaintRegions
from tests.support.recording_painter import RecordingPainter

pytestmark = pytest.mark.gui
README = Path(__file__).parents[2] / "README.md"
CODE = "def double(x):\n    return x * 2"
REPLY = ["Here", " is", " the", " code:\n\n", "```python\n", "def double(x):\n",
         "    return x * 2\n", "```\n", "\nDone."]


def _paint(window: MainWindow, row: int) -> list[tuple[QRectF, str]]:
    view = window.chat_view
    index = view.model().index(row, 0)
    option = QStyleOptionViewItem()
    option.rect = view.visualRect(index)
    image = QImage(view.viewport().size(), QImage.Format.Format_ARGB32)
    painter = RecordingPainter(image)
    view.delegate.paint(painter, option, index)
    painter.end()
    return painter.texts


def test_each_finished_reply_shows_its_own_stats_line(qtbot, make_window: MakeWindow) -> None:
    window = make_window(FakeEngine(delay=0.02))
    load_fake(qtbot, window)
    send_and_wait(qtbot, window, "First")
    window.settings_panel.fields["max_tokens"].spin.setValue(3)
    send_and_wait(qtbot, window, "Second")
    view = window.chat_view
    for row, tokens in ((1, 5), (3, 3)):
        index = view.model().index(row, 0)
        stats = GenerationStats.from_dict(index.data(Role.StatsRole))
        assert stats.output_tokens == tokens and stats.ttft_s and stats.tpot_s
        line = view.delegate.footer(view.delegate.message(index))
        assert f"TTFT {stats.ttft_s * 1000:.0f} ms" in line
        assert f"TPOT {stats.tpot_s * 1000:.1f} ms" in line
        assert f"output {tokens} tok" in line and "prompt 12 tok" in line
        geo = view.delegate.geometry(index, view.visualRect(index))
        painted = [rect for rect, text in _paint(window, row) if text == line]
        assert painted == [geo.footer]                  # painted once, under the bubble
    footer = view.delegate.footer
    assert "max tokens reached" in footer(view.delegate.message(view.model().index(3, 0)))
    user = view.delegate.message(view.model().index(0, 0))
    assert footer(user) == ""                          # your own messages have no stats


def test_code_block_is_detected_and_its_copy_chip_copies_exactly_the_code(
        qtbot, make_window: MakeWindow) -> None:
    window = make_window(FakeEngine(words=REPLY, delay=0.1))
    load_fake(qtbot, window)
    view = window.chat_view
    mid_stream: list[list[str]] = []

    def changed(top: QModelIndex, _bottom: QModelIndex, _roles: list[int]) -> None:
        content = top.data(Role.ContentRole) or ""
        if top.data(Role.StreamingRole) and "def double" in content \
                and content.count("```") == 1:                 # the fence is still open
            mid_stream.append(view.code_blocks(top.row()))
    window.transcript.dataChanged.connect(changed)
    send_and_wait(qtbot, window, "Show me code")
    assert mid_stream and mid_stream[0][0].startswith("def double(x):")
    assert view.code_blocks(1) == [CODE]
    index = view.model().index(1, 0)
    geo = view.delegate.geometry(index, view.visualRect(index))
    item = view.delegate.rendered(index, view.visualRect(index).width())
    chips = view.delegate.code_chip_rects(geo, item)
    assert len(chips) == 1 and item.code_blocks[0].text == CODE
    assert [t for r, t in _paint(window, 1) if r == chips[0]] == ["Copy"]
    clipboard = QGuiApplication.clipboard()
    clipboard.setText("something else")
    qtbot.mouseClick(view.viewport(), Qt.MouseButton.LeftButton,
                     pos=chips[0].center().toPoint())
    assert clipboard.text() == CODE
    assert window.banner.text() == "Code copied"


def test_copy_code_is_on_the_keyboard(qtbot, make_window: MakeWindow) -> None:
    window = make_window(FakeEngine(words=REPLY, delay=0.001))
    load_fake(qtbot, window)
    send_and_wait(qtbot, window, "Show me code")
    view = window.chat_view
    clipboard = QGuiApplication.clipboard()
    view.setFocus()
    qtbot.keyClick(view, Qt.Key.Key_End)                 # select the last message
    assert view.currentIndex().row() == 1
    clipboard.setText("")
    qtbot.keyClick(view, Qt.Key.Key_C, Qt.KeyboardModifier.ControlModifier
                   | Qt.KeyboardModifier.ShiftModifier)
    assert clipboard.text() == CODE
    qtbot.keyClick(view, Qt.Key.Key_F10, Qt.KeyboardModifier.ShiftModifier)   # context menu
    menu = view.menu
    assert menu is not None and menu.isVisible()
    labels = [a.text() for a in menu.actions()]
    assert labels == ["Copy message\tCtrl+C", "Copy code\tCtrl+Shift+C", "Regenerate\tCtrl+R",
                      "Inspect tokens…"]
    clipboard.setText("")
    menu.actions()[1].trigger()
    assert clipboard.text() == CODE
    menu.close()
    qtbot.keyClick(view, Qt.Key.Key_Home)                # your message: no code in it
    qtbot.keyClick(view, Qt.Key.Key_C, Qt.KeyboardModifier.ControlModifier
                   | Qt.KeyboardModifier.ShiftModifier)
    assert "no code block" in window.banner.text()
    assert [a.text() for a in view.message_menu(0).actions()] == [
        "Copy message\tCtrl+C", "Edit and resend\tF2"]


def test_a_burst_of_tokens_reaches_the_view_in_few_updates(qtbot,
                                                            make_window: MakeWindow) -> None:
    words = [f" t{i}" for i in range(300)]
    window = make_window(FakeEngine(words=words, delay=0.001))
    window.settings_panel.fields["max_tokens"].spin.setValue(300)
    load_fake(qtbot, window)
    updates: list[int] = []

    def changed(top: QModelIndex, _bottom: QModelIndex, roles: list[int]) -> None:
        if int(Role.ContentRole) in roles and top.data(Role.StreamingRole):
            updates.append(len(top.data(Role.ContentRole)))
    window.transcript.dataChanged.connect(changed)
    started = time.perf_counter()
    send_and_wait(qtbot, window, "Go")
    elapsed = time.perf_counter() - started
    assert window.transcript.message_at(1).content == "".join(words)
    assert updates == sorted(updates) and updates[-1] == len("".join(words))
    assert 2 <= len(updates) <= len(words) // 5, f"{len(updates)} updates for 300 tokens"
    assert len(updates) <= elapsed / 0.030 + 2          # at most one per ~30 ms


def test_a_streamed_token_repaints_its_row_and_finished_rows_are_blitted(
        qtbot, make_window: MakeWindow) -> None:
    """While a reply streams, a token that keeps the row's height repaints that row alone, from
    its changed line down (Qt's own handler repaints the whole viewport), a new line lays out
    and follows, and a finished message's text is drawn into a pixmap once and reused."""
    window = make_window()
    window.pages.setCurrentWidget(window.chat_page)
    view, transcript = window.chat_view, window.transcript
    transcript.append_message("user", "A question of some length. " * 20, 1)
    transcript.append_message("assistant", "", 2, streaming=True)
    qtbot.waitUntil(lambda: view.visualRect(transcript.index(1, 0)).height() > 0)
    qtbot.wait(50)
    regions = PaintRegions()
    view.viewport().installEventFilter(regions)
    qtbot.wait(50)
    rendered_before = len(view.delegate.pixmaps)
    regions.rects.clear()
    for _ in range(5):
        transcript.append_text(1, "word ")
        qtbot.waitUntil(lambda: bool(regions.rects))
        row = view.visualRect(transcript.index(1, 0))
        painted = regions.rects[-1]
        assert row.contains(painted) and painted.bottom() == row.bottom(), \
            "a same-height token repainted more than its row"
        assert painted.top() > row.top() + 20           # not the role line above the text
        regions.rects.clear()
    height = view.visualRect(transcript.index(1, 0)).height()
    transcript.append_text(1, "\n\nA new paragraph.\n\nAnd another.")
    qtbot.waitUntil(lambda: view.visualRect(transcript.index(1, 0)).height() > height)
    transcript.finish(1, None, "stop")
    qtbot.wait(50)
    view.viewport().repaint()
    view.viewport().repaint()
    assert len(view.delegate.pixmaps) == rendered_before + 1      # the finished reply, once
    assert len(view.delegate.pixmaps) == 2                         # both rows come from pixmaps


def test_repainting_only_the_changed_lines_gives_the_pixels_of_a_full_repaint(
        qtbot, make_window: MakeWindow) -> None:
    """Token by token — words that wrap onto a new line, a bold run that closes, a list, a code
    block — the screen after each partial repaint equals a repaint of the whole viewport."""
    window = make_window()
    window.resize(900, 700)
    window.pages.setCurrentWidget(window.chat_page)
    view, transcript = window.chat_view, window.transcript
    transcript.append_message("user", "Tell me.", 1)
    transcript.append_message("assistant", "", 2, streaming=True)
    qtbot.waitUntil(lambda: view.visualRect(transcript.index(1, 0)).height() > 0)
    reply = ("Here is the plan, with **the part that matters most to the team** first and the "
             "rest after it, in order:\n\n1. Read the notes\n2. Write `the summary` down\n\n"
             "```python\nprint('done')\n```\nThat is all.")
    pieces = [reply[i:i + 7] for i in range(0, len(reply), 7)]
    screen = QGuiApplication.primaryScreen()

    def shown() -> QImage:
        top_left = view.viewport().mapTo(window, view.viewport().rect().topLeft())
        size = view.viewport().size()
        return screen.grabWindow(window.winId(), top_left.x(), top_left.y(),
                                 size.width(), size.height()).toImage()

    partial = 0
    regions = PaintRegions()
    view.viewport().installEventFilter(regions)
    for piece in pieces:
        regions.rects.clear()
        transcript.append_text(1, piece)
        qtbot.waitUntil(lambda: bool(regions.rects))
        qtbot.wait(5)
        partial += regions.rects[-1].height() < view.viewport().height()
        after_update = shown()
        assert not after_update.isNull()
        view.viewport().repaint()
        assert shown() == after_update, f"stale pixels after {piece!r}"
    assert partial >= len(pieces) // 3                 # most updates were partial


@pytest.mark.parametrize("theme", ["light", "dark"])
def test_the_transcript_paints_its_own_background_in_the_theme(
        qtbot, make_window: MakeWindow, theme: str) -> None:
    """The viewport is opaque (a streamed token repaints it alone, not the widgets under it),
    so it must fill its background itself, in the theme's window colour."""
    window = make_window()
    window.wiring._theme_chosen(theme)
    window.pages.setCurrentWidget(window.chat_page)
    view = window.chat_view
    window.transcript.append_message("user", "Tell me.", 1)
    qtbot.waitUntil(lambda: view.visualRect(window.transcript.index(0, 0)).height() > 0)
    qtbot.wait(20)
    view.viewport().repaint()
    viewport = view.viewport()
    origin = viewport.mapTo(window, QPoint(0, 0))
    image = QGuiApplication.primaryScreen().grabWindow(
        window.winId(), origin.x(), origin.y(), viewport.width(), viewport.height()).toImage()
    assert not image.isNull()
    corner = QPoint(4, image.height() - 4)                # below the last message
    assert image.pixelColor(corner).name() == window.theme.palette.window.lower()


def test_a_short_message_paints_nothing_outside_its_bubble(qtbot,
                                                          make_window: MakeWindow) -> None:
    """Your short message's bubble is narrower than the width its text was laid out at; the
    cached pixmap of its text must not spill past the bubble (it once did, as a sliver)."""
    window = make_window()
    window.pages.setCurrentWidget(window.chat_page)
    view = window.chat_view
    window.transcript.append_message("user", "A short question.", 1)
    qtbot.waitUntil(lambda: view.visualRect(window.transcript.index(0, 0)).height() > 0)
    index = view.model().index(0, 0)
    option = QStyleOptionViewItem()
    option.rect = view.visualRect(index)
    image = QImage(view.viewport().size(), QImage.Format.Format_ARGB32)
    image.fill(0)
    for _ in range(2):                                 # drawn, then from the pixmap cache
        painter = QPainter(image)
        view.delegate.paint(painter, option, index)
        painter.end()
    bubble = view.delegate.geometry(index, option.rect).bubble
    assert len(view.delegate.pixmaps) == 1
    y = int(bubble.center().y())
    assert image.pixelColor(int(bubble.center().x()), y).alpha() == 255   # the bubble is there
    outside = range(int(bubble.right()) + 2, option.rect.right() - 1)
    assert all(image.pixelColor(x, y).alpha() == 0 for x in outside)


def test_metrics_panel_refreshes_four_times_a_second_while_streaming(
        qtbot, make_window: MakeWindow) -> None:
    window = make_window(FakeEngine(words=[f" w{i}" for i in range(80)], delay=0.025))
    window.settings_panel.fields["max_tokens"].spin.setValue(80)
    load_fake(qtbot, window)
    client = window.ctx.client
    seen: list[tuple[float, str]] = []
    window.metrics.refreshed.connect(lambda: seen.append(
        (time.perf_counter(), window.metrics.values["output_tokens"].text()))
        if client.state == "generating" else None)
    spans: list[float] = []
    client.stateChanged.connect(lambda state: spans.append(time.perf_counter()))
    send_and_wait(qtbot, window, "Count")
    assert len(spans) >= 2
    streamed = spans[-1] - spans[-2]                    # generating → idle
    assert streamed > 1.5
    assert len(seen) >= int(streamed * 4) - 1, f"{len(seen)} refreshes in {streamed:.2f} s"
    gaps = [b[0] - a[0] for a, b in zip(seen, seen[1:], strict=False)]
    assert max(gaps) < 0.5
    counts = [int(text) for _t, text in seen if text.isdigit()]
    assert len(set(counts)) >= 4 and counts == sorted(counts)   # live figures, growing


def _readme_definitions() -> dict[str, str]:
    text = README.read_text(encoding="utf-8")
    section = text.split("## What the numbers mean", 1)[1].split("\n## ", 1)[0]
    rows = re.findall(r"^\| (.+?) \| (.+?) \|$", section, flags=re.MULTILINE)
    return {name: definition for name, definition in rows if name not in ("figure", "---")}


README_NAMES = {"ttft_s": "TTFT", "ttfa_s": "TTFA", "tpot_s": "TPOT", "gen_tps": "tokens/s",
                "prefill_tps": "prefill tokens/s", "prompt_tokens": "prompt tokens",
                "output_tokens": "output tokens", "context_used": "context used",
                "ram": "RAM", "vram": "VRAM"}


def _same(a: str, b: str) -> bool:
    def norm(t: str) -> str:
        t = t.strip().rstrip(".")
        return t[:1].lower() + t[1:]
    return norm(a) == norm(b)


def test_every_figure_has_its_definition_as_tooltip(make_window: MakeWindow) -> None:
    window = make_window()
    metrics = window.metrics
    readme = _readme_definitions()
    assert set(readme) == set(README_NAMES.values())
    for key, name in README_NAMES.items():                # one source: README says the same
        assert _same(readme[name], FIGURE_DEFINITIONS[key]), name
    for key, title in FIGURES:
        value = metrics.values[key]
        tile = value.parentWidget()
        assert tile.objectName() == "metricTile"
        assert tile.toolTip() == FIGURE_DEFINITIONS[key] == value.accessibleDescription()
        assert _same(tile.toolTip(), readme[README_NAMES[key]]), title
    assert metrics.context_bar.toolTip() == FIGURE_DEFINITIONS["context_used"]
    assert metrics.ram.toolTip() == FIGURE_DEFINITIONS["ram"]
    assert metrics.vram.toolTip() == FIGURE_DEFINITIONS["vram"]
    assert FIGURE_DEFINITIONS["tpot_s"] == (
        "Time per output token: (last token − first token) ÷ (output tokens − 1).")
