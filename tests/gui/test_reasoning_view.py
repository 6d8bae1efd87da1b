"""A reasoning reply in the real window: its thinking streams into a folded "Thinking" line
above the answer (closed `<think>`, a prompt that opened `<think>`, gpt-oss harmony: the engine
splits them all into reasoning token events, then answer events), a click or Ctrl+T unfolds it,
the answer is always painted below it, and the thinking is stored apart from the answer,
survives a restart and goes back to the template with the history."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import QModelIndex, QRectF, Qt
from PySide6.QtGui import QColor, QGuiApplication, QImage

from app.chat.render import thinking
from app.data.records import ThinkingFacts
from app.dev.screenshots import REASONING_ANSWER, reasoning_shots, seed_reasoning
from app.engine.worker import EngineWorker, LoadSpec, ReasoningPiece
from app.shell.window import MainWindow
from inference.common.cancel import CancelToken
from inference.engine.requests import GenerationRequest, Message, Mode
from inference.engine.sampling import SamplingParams
from tests.support.fake_engine import FakeEngine
from tests.support.gui_window import MakeWindow, load_fake, send_and_wait
from tests.support.paint_regions import PaintRegions

pytestmark = pytest.mark.gui


def pieces(text: str, size: int) -> list[str]:
    """`text` in pieces of `size` characters, as a model streams it."""
    return [text[i:i + size] for i in range(0, len(text), size)]


# (thinking, answer) as each format's reply reaches the window once the engine has split it
VARIANTS = {
    "closed-think": ("The user asks for **three** numbers.\nI should list them, one a line.",
                     "10\n14\n15"),
    "open-prompt": ("Okay, so they want numbers. Let me count: 10, 14, 15. Done thinking.",
                    "Here they are:\n\n10\n14\n15"),
    "harmony": ("We need to answer with a short list. No code needed.",
                "- ten\n- fourteen\n- fifteen"),
}


def _engine(thought: str, answer: str, delay: float = 0.004) -> FakeEngine:
    return FakeEngine(thoughts=pieces(thought, 3), words=pieces(answer, 2), delay=delay)


def _window(qtbot, make_window: MakeWindow, engine: FakeEngine) -> MainWindow:
    window = make_window(engine)
    window.resize(1000, 800)
    window.settings_panel.fields["max_tokens"].spin.setValue(400)
    load_fake(qtbot, window)
    return window


def _shown(window: MainWindow) -> QImage:
    """The transcript as it is on screen (the view paints itself into the image)."""
    view = window.chat_view
    view.viewport().repaint()
    return view.viewport().grab().toImage()


def _ink(image: QImage, rect: QRectF, background: str) -> int:
    """How many pixels inside `rect` differ from the `background` colour."""
    area = rect.toAlignedRect().intersected(image.rect())
    bg = QColor(background)
    return sum(image.pixelColor(x, y) != bg for y in range(area.top(), area.bottom() + 1)
               for x in range(area.left(), area.right() + 1))


def _geometry(window: MainWindow, row: int):
    view = window.chat_view
    index = view.model().index(row, 0)
    return view.delegate.geometry(index, view.visualRect(index))


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_thinking_streams_folded_above_an_answer_that_is_always_shown(
        qtbot, make_window: MakeWindow, variant: str) -> None:
    thought, answer = VARIANTS[variant]
    engine = _engine(thought, answer)
    window = _window(qtbot, make_window, engine)
    window.pages.setCurrentWidget(window.chat_page)
    view, transcript = window.chat_view, window.transcript
    live: list[tuple[str, bool, str]] = []        # (label, open, answer so far) while streaming

    def changed(top: QModelIndex, _bottom: QModelIndex, _roles: list[int]) -> None:
        msg = transcript.message_at(top.row())
        if msg.role == "assistant" and msg.streaming and msg.reasoning:
            live.append((thinking.thinking_label(msg), msg.thinking_open, msg.content))
    transcript.dataChanged.connect(changed)
    send_and_wait(qtbot, window, "Give me three numbers, one a line.")
    while_thinking = [label for label, _open, text in live if not text]
    assert len(while_thinking) >= 2, "the thinking did not stream in several updates"
    assert all(label.startswith("▸ Thinking… · ") for label in while_thinking)
    counts = [int(label.split(" · ")[1].split()[0]) for label in while_thinking]
    assert counts == sorted(counts) and counts[-1] > counts[0]        # growing as it thinks
    assert not any(is_open for _label, is_open, _text in live)       # folded all along
    msg = transcript.message_at(1)
    assert msg.content == answer and msg.reasoning == thought       # kept apart
    assert not msg.thinking_open
    tokens = len(pieces(thought, 3))
    assert msg.thinking.tokens == tokens and msg.thinking.seconds is not None
    assert thinking.thinking_label(msg) == f"▸ Thinking · {tokens} tokens · " \
        f"{msg.thinking.seconds:.1f} s"
    geo = _geometry(window, 1)
    assert geo.thinking is not None and geo.reasoning is None
    assert geo.thinking.bottom() < geo.text.top()                      # the line, above
    bubble = window.theme.palette.assistant_bubble
    folded = _shown(window)
    assert _ink(folded, geo.text, bubble) > 30, "the answer is not painted"
    assert _ink(folded, geo.thinking, bubble) > 30, "the Thinking line is not painted"
    height = view.visualRect(view.model().index(1, 0)).height()

    qtbot.mouseClick(view.viewport(), Qt.MouseButton.LeftButton,
                     pos=geo.thinking.center().toPoint())                 # unfold
    assert transcript.message_at(1).thinking_open
    qtbot.waitUntil(lambda: view.visualRect(view.model().index(1, 0)).height() > height)
    opened = _geometry(window, 1)
    assert opened.reasoning is not None
    assert opened.thinking.bottom() <= opened.reasoning.top() < opened.reasoning.bottom() \
        <= opened.text.top()                                  # line, thinking, then the answer
    image = _shown(window)
    assert _ink(image, opened.reasoning, bubble) > 30, "the unfolded thinking is not painted"
    assert _ink(image, opened.text, bubble) > 30, "the answer is not painted below it"
    assert thinking.thinking_label(transcript.message_at(1)).startswith("▾ Thinking")
    qtbot.mouseClick(view.viewport(), Qt.MouseButton.LeftButton,
                     pos=opened.thinking.center().toPoint())              # fold again
    assert not transcript.message_at(1).thinking_open
    qtbot.waitUntil(lambda: view.visualRect(view.model().index(1, 0)).height() == height)


def test_the_keyboard_folds_and_unfolds_and_copy_takes_the_answer_alone(
        qtbot, make_window: MakeWindow) -> None:
    thought, answer = VARIANTS["closed-think"]
    window = _window(qtbot, make_window, _engine(thought, answer, delay=0.001))
    send_and_wait(qtbot, window, "Numbers?")
    view = window.chat_view
    view.setFocus()
    qtbot.keyClick(view, Qt.Key.Key_End)
    assert view.currentIndex().row() == 1
    labels = [a.text() for a in view.message_menu(1).actions()]
    assert labels == ["Copy message\tCtrl+C", "Show thinking\tCtrl+T", "Regenerate\tCtrl+R",
                      "Inspect tokens…"]
    qtbot.keyClick(view, Qt.Key.Key_T, Qt.KeyboardModifier.ControlModifier)
    assert window.transcript.message_at(1).thinking_open
    assert "Hide thinking\tCtrl+T" in [a.text() for a in view.message_menu(1).actions()]
    qtbot.keyClick(view, Qt.Key.Key_T, Qt.KeyboardModifier.ControlModifier)
    assert not window.transcript.message_at(1).thinking_open
    clipboard = QGuiApplication.clipboard()
    clipboard.setText("")
    qtbot.keyClick(view, Qt.Key.Key_C, Qt.KeyboardModifier.ControlModifier)
    assert clipboard.text() == answer
    qtbot.keyClick(view, Qt.Key.Key_Home)                 # your message: nothing to unfold
    qtbot.keyClick(view, Qt.Key.Key_T, Qt.KeyboardModifier.ControlModifier)
    assert not window.transcript.message_at(0).thinking_open
    assert "Show thinking\tCtrl+T" not in [a.text() for a in view.message_menu(0).actions()]


def test_the_footer_shows_time_to_first_answer_beside_ttft_for_a_reply_that_thought(
        qtbot, make_window: MakeWindow) -> None:
    engine = _engine(*VARIANTS["harmony"])
    window = _window(qtbot, make_window, engine)
    send_and_wait(qtbot, window, "Numbers?")
    view = window.chat_view
    msg = view.delegate.message(view.model().index(1, 0))
    ttfa = msg.stats["ttfa_s"]
    assert ttfa > msg.stats["ttft_s"]
    line = view.delegate.footer(msg)
    parts = line.split(" · ")
    at = next(i for i, part in enumerate(parts) if part.startswith("TTFT"))
    assert parts[at + 1] == f"first answer {ttfa * 1000:.0f} ms"
    engine.thoughts = []                                 # a reply without thinking: no figure
    send_and_wait(qtbot, window, "Hello?")
    other = view.delegate.message(view.model().index(3, 0))
    assert other.reasoning == "" and other.stats["ttfa_s"] is not None
    assert "first answer" not in view.delegate.footer(other)
    assert _geometry(window, 3).thinking is None


def test_thinking_is_stored_apart_survives_a_restart_and_goes_back_with_the_history(
        qtbot, make_window: MakeWindow) -> None:
    thought, answer = VARIANTS["open-prompt"]
    engine = _engine(thought, answer, delay=0.001)
    window = _window(qtbot, make_window, engine)
    send_and_wait(qtbot, window, "Numbers?")
    conv_id = window.controller.conversation_id
    stored = window.ctx.store.messages(conv_id)[1]
    assert (stored.content, stored.reasoning) == (answer, thought)
    facts = ThinkingFacts.of(stored.stats)
    assert facts.tokens == len(pieces(thought, 3)) and facts.seconds is not None
    db = window.ctx.store.path
    window.close()
    window.ctx.store.close()

    again = make_window(engine)                          # a restart: the same profile
    assert again.ctx.store.path == db
    again.wiring.open_conversation(conv_id, "chat")
    msg = again.transcript.message_at(1)
    assert (msg.content, msg.reasoning, msg.thinking) == (answer, thought, facts)
    assert not msg.thinking_open
    assert thinking.thinking_label(msg) == f"▸ Thinking · {facts.describe()}"
    load_fake(qtbot, again)
    send_and_wait(qtbot, again, "And three more?")
    history = engine.requests[-1].messages
    assert [(m.role, m.content, m.reasoning) for m in history] == [
        ("user", "Numbers?", ""), ("assistant", answer, thought),
        ("user", "And three more?", "")]


def test_a_reply_stopped_while_thinking_keeps_its_thinking(qtbot,
                                                          make_window: MakeWindow) -> None:
    engine = FakeEngine(thoughts=[f" step {i}." for i in range(300)], words=["Answer."],
                        delay=0.01)
    window = _window(qtbot, make_window, engine)
    window.composer.set_text("Think hard.")
    qtbot.keyClick(window.composer.input, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: window.transcript.rowCount() == 2
                    and len(window.transcript.message_at(1).reasoning) > 40, timeout=5000)
    assert window.transcript.message_at(1).still_thinking
    window.controller.stop()
    qtbot.waitUntil(lambda: not window.controller.busy, timeout=5000)
    msg = window.transcript.message_at(1)
    assert msg.content == "" and msg.reasoning.startswith(" step 0.")
    assert msg.finish_reason == "cancelled" and not msg.still_thinking
    stored = window.ctx.store.messages(window.controller.conversation_id)[1]
    assert stored.reasoning == msg.reasoning and stored.content == ""
    assert _geometry(window, 1).thinking is not None


def test_the_worker_sends_thinking_and_answer_in_order_never_mixed() -> None:
    """The real EngineWorker over a scripted engine: reasoning events become ReasoningPiece
    updates (with tokens and seconds so far), answer events plain text; joined, each is the
    reply's own, and no update mixes the two."""
    thought, answer = VARIANTS["harmony"]
    engine = _engine(thought, answer, delay=0.0005)
    worker = EngineWorker(lambda: engine, resolver=Path)
    worker.load(LoadSpec("/models/fake.gguf"), CancelToken(), lambda _f: None)
    request = GenerationRequest(messages=(Message("user", "hi"),),
                                sampling=SamplingParams(max_tokens=400))
    stream = worker.generate(request, CancelToken())
    updates: list[object] = []
    while True:
        try:
            updates.append(next(stream))
        except StopIteration as stop:
            finished = stop.value
            break
    texts = [u for u in updates if isinstance(u, str | ReasoningPiece)]
    kinds = [isinstance(u, ReasoningPiece) for u in texts]
    assert kinds == sorted(kinds, reverse=True)             # all thinking, then all answer
    reasoning = [u for u in texts if isinstance(u, ReasoningPiece)]
    assert "".join(u.text for u in reasoning) == thought == finished.reasoning
    assert "".join(u for u in texts if isinstance(u, str)) == answer == finished.text
    assert reasoning[-1].tokens == len(pieces(thought, 3))
    assert [u.seconds for u in reasoning] == sorted(u.seconds for u in reasoning)


def test_the_screenshot_of_a_reasoning_reply_folded_and_unfolded_runs_offscreen(
        qtbot, make_window: MakeWindow, tmp_path: Path) -> None:
    """app/dev/screenshots.py's reasoning shots, on the real window: the stored reply opens
    folded, then unfolded, and both images show its answer."""
    window = make_window(FakeEngine(delay=0.001))
    window.resize(1200, 800)
    load_fake(qtbot, window)
    send_and_wait(qtbot, window, "An earlier chat")
    earlier = window.controller.conversation_id
    conv_id = seed_reasoning(window.ctx.store)
    bubble = window.theme.palette.assistant_bubble
    shots: dict[str, tuple[bool, int]] = {}              # name → (unfolded, answer's ink)

    def shot(name: str) -> None:
        row = window.transcript.last_row_of_role("assistant")
        msg = window.transcript.message_at(row)
        assert msg.content == REASONING_ANSWER
        qtbot.wait(30)
        window.grab().save(str(tmp_path / f"{name}.png"))
        shots[name] = (msg.thinking_open, _ink(_shown(window), _geometry(window, row).text,
                                               bubble))

    reasoning_shots(window, conv_id, shot)
    assert list(shots) == ["chat-reasoning", "chat-reasoning-open"]
    assert [unfolded for unfolded, _ink in shots.values()] == [False, True]
    assert all(ink > 100 for _unfolded, ink in shots.values())
    assert all((tmp_path / f"{name}.png").stat().st_size > 10_000 for name in shots)
    assert window.controller.conversation_id == earlier        # left as it was found


def test_a_streamed_thinking_piece_repaints_the_thinking_line_alone(
        qtbot, make_window: MakeWindow) -> None:
    """Folded, the thinking keeps the row's height: each piece repaints its Thinking line, not
    the row, let alone the viewport; the first answer piece repaints the line too (it stops
    saying "Thinking…")."""
    window = make_window()
    window.pages.setCurrentWidget(window.chat_page)
    view, transcript = window.chat_view, window.transcript
    transcript.append_message("user", "Think.", 1)
    transcript.append_message("assistant", "", 2, streaming=True)
    transcript.append_reasoning(1, "First,", 2, 0.1)
    qtbot.waitUntil(lambda: _geometry(window, 1).thinking is not None)
    qtbot.wait(50)
    regions = PaintRegions()
    view.viewport().installEventFilter(regions)
    for i in range(5):
        regions.rects.clear()
        transcript.append_reasoning(1, f" step {i}", 3 + i, 0.2 + i / 10)
        qtbot.waitUntil(lambda: bool(regions.rects))
        line = _geometry(window, 1).thinking
        painted = regions.rects[-1]
        assert painted.height() <= line.height() + 8, "a thinking piece repainted too much"
        assert painted.top() <= line.top() and painted.bottom() >= line.bottom()
    regions.rects.clear()
    transcript.append_text(1, "The answer")
    qtbot.waitUntil(lambda: bool(regions.rects))
    line = _geometry(window, 1).thinking
    assert any(r.top() <= line.top() and r.bottom() >= line.bottom() for r in regions.rects)
    assert thinking.thinking_label(transcript.message_at(1)).startswith("▸ Thinking · ")


def test_an_instruct_run_that_thinks_says_so_and_stores_its_thinking(
        qtbot, make_window: MakeWindow) -> None:
    engine = FakeEngine(thoughts=[f" step {i}." for i in range(40)], words=["Blue."],
                        delay=0.01)
    window = _window(qtbot, make_window, engine)
    window.set_mode(Mode.INSTRUCT)
    page = window.instruct_page
    said: list[str] = []
    window.instruct_run.reasoningReceived.connect(lambda _p: said.append(page.stats.text()))
    page.instruction.setPlainText("What colour is the sky?")
    page.run_instruction()
    qtbot.waitUntil(lambda: not window.instruct_run.busy, timeout=10_000)
    assert said and said[-1].startswith("Thinking… ") and " tokens · " in said[-1]
    assert page.response.toPlainText() == "Blue."                # the answer alone
    assert "first answer" in page.stats.text()
    conv = window.ctx.store.list_conversations()[0]
    reply = window.ctx.store.messages(conv.id)[-1]
    assert reply.content == "Blue." and reply.reasoning == "".join(engine.thoughts)
