"""The live token count under the message box: the engine's tokenizer counts the text on the
engine's thread (never the GUI thread), once after a pause in typing, against the context the
conversation leaves ("3 / 4,087 tokens left"); blank with nothing typed or no model."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

import pytest

from app.chat.token_count import COUNT_DELAY_MS
from tests.support.fake_engine import FakeEngine
from tests.support.gui_window import MakeWindow, load_fake, send_and_wait

pytestmark = pytest.mark.gui


@dataclass
class CountingEngine(FakeEngine):
    """The fake engine, noting each text it tokenizes and on which thread."""

    counted: list[tuple[str, bool]] = field(default_factory=list)

    def tokenize(self, text: str, add_bos: bool = True) -> list[int]:
        self.counted.append((text, threading.current_thread() is threading.main_thread()))
        return super().tokenize(text, add_bos)


def test_the_message_is_counted_on_the_engine_thread_against_the_context_left(
        qtbot, make_window: MakeWindow) -> None:
    engine = CountingEngine()
    window = make_window(engine)
    label = window.composer.token_label
    qtbot.keyClicks(window.composer.input, "no model yet")
    qtbot.wait(COUNT_DELAY_MS + 150)
    assert label.text() == "" and engine.counted == []
    window.composer.clear()
    load_fake(qtbot, window)
    n_ctx = window.ctx.client.loaded.n_ctx
    qtbot.keyClicks(window.composer.input, "one two three")        # 13 keystrokes
    qtbot.waitUntil(lambda: "tokens left" in label.text(), timeout=3000)
    # the fake renders every prompt as 12 tokens: 12 - 3 are the conversation's
    assert label.text() == f"3 / {n_ctx - 9:,} tokens left"
    assert [text for text, _ in engine.counted] == ["one two three"]   # once, after the pause
    assert not any(on_gui for _, on_gui in engine.counted)
    send_and_wait(qtbot, window, "one two three")
    qtbot.waitUntil(lambda: label.text() == "", timeout=2000)        # sent: nothing to count
    qtbot.keyClicks(window.composer.input, "four five")
    qtbot.waitUntil(lambda: label.text().startswith("2 / "), timeout=3000)


def test_a_count_for_an_older_text_is_dropped(qtbot, make_window: MakeWindow) -> None:
    window = make_window()
    load_fake(qtbot, window)
    label = window.composer.token_label
    window.composer.set_text("a b c d")
    qtbot.waitUntil(lambda: label.text().startswith("4 / "), timeout=3000)
    window.composer.set_text("a")
    qtbot.waitUntil(lambda: label.text().startswith("1 / "), timeout=3000)
    qtbot.wait(COUNT_DELAY_MS)
    assert label.text().startswith("1 / ")
