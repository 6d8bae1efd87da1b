"""Drafts belong to their conversation: New conversation starts empty, the old chat keeps its
unsent text (also across a restart), and a send takes the text into the conversation it made."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt

from tests.support.gui_window import MakeWindow, load_fake, send_and_wait

pytestmark = pytest.mark.gui


def test_new_conversation_does_not_carry_the_old_draft(qtbot, make_window: MakeWindow) -> None:
    window = make_window()
    load_fake(qtbot, window)
    send_and_wait(qtbot, window, "First question")
    first = window.controller.conversation_id
    qtbot.keyClicks(window.composer.input, "half a thought")
    qtbot.mouseClick(window.sidebar.new_button, Qt.MouseButton.LeftButton)
    assert window.controller.conversation_id == 0
    assert window.composer.text() == ""                   # the new chat starts empty
    send_and_wait(qtbot, window, "Second question")
    second = window.controller.conversation_id
    assert second != first
    assert [m.content for m in window.ctx.store.messages(second)
            if m.role == "user"] == ["Second question"]
    window.wiring.open_conversation(first, "chat")
    assert window.composer.text() == "half a thought"     # the old chat kept its draft
    window.wiring.open_conversation(second, "chat")
    assert window.composer.text() == ""


def test_each_draft_comes_back_with_its_conversation_after_a_restart(
        qtbot, make_window: MakeWindow) -> None:
    window = make_window()
    load_fake(qtbot, window)
    send_and_wait(qtbot, window, "One")
    first = window.controller.conversation_id
    qtbot.keyClicks(window.composer.input, "for the first")
    window.wiring.new_conversation()
    send_and_wait(qtbot, window, "Two")
    second = window.controller.conversation_id
    qtbot.keyClicks(window.composer.input, "for the second")
    window.close()                                         # saved on close
    again = make_window()
    load_fake(qtbot, again)
    assert again.controller.conversation_id == second      # the last one opens again
    assert again.composer.text() == "for the second"
    again.wiring.open_conversation(first, "chat")
    assert again.composer.text() == "for the first"


def test_an_edit_in_progress_stays_with_its_conversation(qtbot, make_window: MakeWindow) -> None:
    window = make_window()
    load_fake(qtbot, window)
    send_and_wait(qtbot, window, "Original")
    first = window.controller.conversation_id
    window.composer.begin_edit(0, "Original, edited")
    window.wiring.new_conversation()
    assert window.composer.editing_row == -1 and window.composer.text() == ""
    window.wiring.open_conversation(first, "chat")
    assert window.composer.editing_row == 0
    assert window.composer.text() == "Original, edited"
