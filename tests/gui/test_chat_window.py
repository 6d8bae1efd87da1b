"""The Chat page's small promises, on the real window and a scripted engine: a rejected
over-long prompt leaves no conversation behind, a quick second click on Send does not stop the
reply just sent (Esc still stops at once), and a search that finds nothing says so."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt

from app.chat.busy_buttons import STOP_DELAY_MS
from tests.support.fake_engine import FakeEngine
from tests.support.gui_window import MakeWindow, load_fake, send_and_wait

pytestmark = pytest.mark.gui


def test_a_rejected_long_prompt_leaves_no_conversation(qtbot, make_window: MakeWindow) -> None:
    engine = FakeEngine(fail_generate="too long")
    window = make_window(engine)
    load_fake(qtbot, window)
    before = window.ctx.store.list_conversations()
    send_and_wait(qtbot, window, "An enormous question that does not fit")
    assert window.ctx.store.list_conversations() == before == []
    assert window.sidebar.model.rowCount() == 0
    assert window.controller.conversation_id == 0
    assert window.composer.text() == "An enormous question that does not fit"
    assert "5000 tokens" in window.banner.text()


def test_a_rejected_prompt_in_an_open_conversation_keeps_it(
        qtbot, make_window: MakeWindow) -> None:
    engine = FakeEngine()
    window = make_window(engine)
    load_fake(qtbot, window)
    send_and_wait(qtbot, window, "Short")
    conv = window.controller.conversation_id
    engine.fail_generate = "too long"
    send_and_wait(qtbot, window, "Now too long")
    assert [c.id for c in window.ctx.store.list_conversations()] == [conv]
    assert [m.content for m in window.ctx.store.messages(conv)] == ["Short", "Hello there, "
                                                                    "friend."]
    assert window.composer.text() == "Now too long"


def _click_the_shared_place(qtbot, window) -> None:
    """A click where Send was: on Stop when Stop shows there now, else on Send."""
    composer = window.composer
    target = composer.stop_button if composer.stop_button.isVisible() else composer.send_button
    qtbot.mouseClick(target, Qt.MouseButton.LeftButton)


def test_a_double_click_on_send_does_not_stop_the_reply(qtbot, make_window: MakeWindow) -> None:
    window = make_window(FakeEngine(words=[f" w{i}" for i in range(40)], delay=0.02))
    load_fake(qtbot, window)
    composer = window.composer
    composer.set_text("Tell me something")
    qtbot.mouseClick(composer.send_button, Qt.MouseButton.LeftButton)
    assert window.controller.busy
    qtbot.wait(80)                                       # a double click's second press
    _click_the_shared_place(qtbot, window)
    qtbot.waitUntil(lambda: not window.controller.busy, timeout=5000)
    reply = window.transcript.message_at(1)
    assert reply.finish_reason == "stop" and reply.content.endswith(" w39")


def test_stop_appears_after_the_guard_and_esc_stops_at_once(
        qtbot, make_window: MakeWindow) -> None:
    window = make_window(FakeEngine(words=[f" w{i}" for i in range(400)], delay=0.01))
    load_fake(qtbot, window)
    composer = window.composer
    composer.set_text("Go on")
    qtbot.mouseClick(composer.send_button, Qt.MouseButton.LeftButton)
    assert composer.send_button.isVisible() and not composer.send_button.isEnabled()
    assert not composer.stop_button.isVisible()
    qtbot.waitUntil(composer.stop_button.isVisible, timeout=STOP_DELAY_MS + 1000)
    assert not composer.send_button.isVisible()
    qtbot.mouseClick(composer.stop_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not window.controller.busy, timeout=5000)
    assert window.transcript.message_at(1).finish_reason == "cancelled"
    assert composer.send_button.isVisible() and composer.send_button.isEnabled()
    composer.set_text("Again")
    qtbot.keyClick(composer.input, Qt.Key.Key_Return)
    assert window.controller.busy
    qtbot.keyClick(composer.input, Qt.Key.Key_Escape)     # no guard on the keyboard
    qtbot.waitUntil(lambda: not window.controller.busy, timeout=5000)
    assert window.transcript.message_at(3).finish_reason == "cancelled"


@pytest.mark.parametrize("mode_page", ["text_page", "instruct_page"])
def test_the_text_and_instruct_buttons_have_the_same_guard(
        qtbot, make_window: MakeWindow, mode_page: str) -> None:
    window = make_window(FakeEngine(words=[f" w{i}" for i in range(30)], delay=0.02))
    load_fake(qtbot, window)
    page = getattr(window, mode_page)
    row = page.row
    row.set_busy(True)
    assert row.go.isEnabled() is False and not row.stop.isVisibleTo(page)
    qtbot.waitUntil(lambda: row.stop.isVisibleTo(page), timeout=STOP_DELAY_MS + 1000)
    row.set_busy(False)
    assert row.go.isVisibleTo(page) and row.go.isEnabled() and not row.stop.isVisibleTo(page)


def test_a_search_that_finds_nothing_says_so(qtbot, make_window: MakeWindow) -> None:
    window = make_window()
    load_fake(qtbot, window)
    send_and_wait(qtbot, window, "About apples")
    sidebar = window.sidebar
    assert not sidebar.no_results.isVisible()
    qtbot.keyClicks(sidebar.search, "zebra")
    qtbot.waitUntil(lambda: sidebar.model.search == "zebra", timeout=2000)
    assert sidebar.model.rowCount() == 0
    assert sidebar.no_results.isVisible() and sidebar.no_results.text() == "No results"
    sidebar.search.clear()
    qtbot.waitUntil(lambda: sidebar.model.rowCount() == 1, timeout=2000)
    assert not sidebar.no_results.isVisible()
    qtbot.keyClicks(sidebar.search, "apples")
    qtbot.waitUntil(lambda: sidebar.model.search == "apples", timeout=2000)
    assert sidebar.model.rowCount() == 1 and not sidebar.no_results.isVisible()


def test_a_search_typed_just_before_closing_does_not_touch_the_closed_history(
        qtbot, make_window: MakeWindow) -> None:
    """The search box refreshes 200 ms after typing stops; a window closed in between closes
    the history database, and the delayed refresh must not run on it."""
    window = make_window()
    load_fake(qtbot, window)
    send_and_wait(qtbot, window, "About apples")
    sidebar = window.sidebar
    qtbot.keyClicks(sidebar.search, "app")
    window.close()                                  # shuts down; the store closes after
    window.ctx.store.close()
    qtbot.wait(400)                                 # past the timer: an error here fails
    assert sidebar.model.search != "app"
