"""Show prompt after a reply shows the prompt of that reply (the history up to your last
message), on the real window and the real engine with the starter model: the conversation
ending with the model's turn no longer fails with "must end with a message from you"."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.chat.request_builder import chat_request, preview_history
from inference.engine.api import RenderedPrompt
from inference.engine.requests import Message
from tests.support.gui_window import MakeWindow

pytestmark = pytest.mark.gui


def test_preview_history_is_the_next_turn_or_the_last_replys_prompt() -> None:
    history = [Message("user", "Hi"), Message("assistant", "Hello"), Message("user", "More"),
               Message("assistant", "Sure")]
    assert preview_history(history, "Next") == [*history, Message("user", "Next")]
    assert preview_history(history, "  \n") == history[:3]
    assert preview_history(history[:3], "") == history[:3]
    assert preview_history([], "") == [] and preview_history([], "A") == [Message("user", "A")]


def _render(qtbot, window, request) -> RenderedPrompt | str:
    results: list[RenderedPrompt | str] = []
    window.ctx.client.render(request, results.append)
    qtbot.waitUntil(lambda: bool(results), timeout=20_000)
    return results[0]


def test_show_prompt_after_a_reply_renders_that_replys_prompt(
        qtbot, make_window: MakeWindow, engine, starter_model_path: Path) -> None:
    window = make_window(engine)
    window.settings_panel.fields["temperature"].set_value(0)
    window.settings_panel.fields["max_tokens"].set_value(6)
    window.wiring.load_choice(str(starter_model_path))
    qtbot.waitUntil(lambda: window.ctx.client.loaded is not None
                    and window.ctx.client.state == "idle", timeout=60_000)
    assert window.controller.send("Name a colour.")
    window.composer.clear()
    qtbot.waitUntil(lambda: not window.controller.busy, timeout=60_000)
    history = window.controller.history()
    assert history[-1].role == "assistant" and window.composer.text() == ""
    refused = _render(qtbot, window, chat_request(history, window.run_settings()))
    assert isinstance(refused, str) and "must end with a message from you" in refused
    shown = _render(qtbot, window, chat_request(
        preview_history(history, window.composer.text()), window.run_settings()))
    assert isinstance(shown, RenderedPrompt), shown
    assert "Name a colour." in shown.text and shown.prompt_tokens > 0
    reply = history[-1].content
    assert not reply.strip() or reply.strip() not in shown.text
