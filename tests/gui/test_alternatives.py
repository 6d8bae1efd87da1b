"""Regenerate keeps the earlier replies: ◀ 2/3 ▶ between a turn's alternatives in the real
window (mouse, keyboard, context menu), the choice stored in the real SQLite file and kept by a
new window, the next prompt made of the alternatives shown, a failed or streaming regenerate,
edit-and-resend, delete with undo, export. On the scripted FakeEngine, and once on the real
starter model."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import QPointF, Qt
from PySide6.QtGui import QImage
from PySide6.QtWidgets import QStyleOptionViewItem

from app.chat.message_actions import MessageAction
from app.chat.reply_recorder import SAVE_INTERVAL_MS
from app.data.records import Alternatives
from app.shell.window import MainWindow
from inference.engine.engine import Engine
from inference.engine.events import GenerationEvent, PromptRendered
from inference.engine.requests import GenerationRequest
from tests.support.fake_engine import FakeEngine
from tests.support.gui_window import MakeWindow, load_fake, send_and_wait
from tests.support.recording_painter import RecordingPainter

pytestmark = pytest.mark.gui

QUESTION = "Tell me something."
REPLIES = (["First", " reply."], ["Second", " reply."], ["Third", " reply."])
TEXTS = ["First reply.", "Second reply.", "Third reply."]


def _painted(window: MainWindow, row: int) -> list[str]:
    """The texts the delegate paints for `row`, left to right on the label line first."""
    view = window.chat_view
    index = view.model().index(row, 0)
    option = QStyleOptionViewItem()
    option.rect = view.visualRect(index)
    image = QImage(view.viewport().size(), QImage.Format.Format_ARGB32)
    painter = RecordingPainter(image)
    view.delegate.paint(painter, option, index)
    painter.end()
    return [text for _rect, text in sorted(painter.texts,
                                           key=lambda t: (t[0].top(), t[0].left()))]


def _chip(window: MainWindow, row: int, action: MessageAction) -> QPointF:
    view = window.chat_view
    index = view.model().index(row, 0)
    geo = view.delegate.geometry(index, view.visualRect(index))
    return next(r for name, r in geo.actions if name is action).center()


def _click(qtbot, window: MainWindow, row: int, action: MessageAction) -> None:
    view = window.chat_view
    qtbot.waitUntil(lambda: not view.visualRect(view.model().index(row, 0)).isEmpty())
    qtbot.mouseClick(view.viewport(), Qt.MouseButton.LeftButton,
                     pos=_chip(window, row, action).toPoint())


def _idle(qtbot, window: MainWindow) -> None:
    qtbot.waitUntil(lambda: not window.controller.busy and window.ctx.client.state == "idle",
                    timeout=60_000)


def _send(qtbot, window: MainWindow, text: str) -> None:
    window.composer.set_text(text)
    qtbot.keyClick(window.composer.input, Qt.Key.Key_Return)
    assert window.controller.busy
    _idle(qtbot, window)


def _regenerate(qtbot, window: MainWindow) -> None:
    """Ctrl+R in the conversation, as a person does, and wait for the reply."""
    window.chat_view.setFocus()
    qtbot.keyClick(window.chat_view, Qt.Key.Key_R, Qt.KeyboardModifier.ControlModifier)
    assert window.controller.busy
    _idle(qtbot, window)


def _three_replies(qtbot, make_window: MakeWindow) -> tuple[MainWindow, FakeEngine]:
    """A window whose conversation asked once and regenerated twice: 3 alternatives."""
    engine = FakeEngine(words=list(REPLIES[0]), delay=0.001)
    window = make_window(engine)
    load_fake(qtbot, window)
    send_and_wait(qtbot, window, QUESTION)
    for words in REPLIES[1:]:
        engine.words = list(words)
        _regenerate(qtbot, window)
    return window, engine


def _rows(path: Path, conv_id: int) -> list[tuple]:
    """What the SQLite file itself holds: (role, content, shown, complete), by id."""
    conn = sqlite3.connect(path)
    try:
        return conn.execute("SELECT role, content, shown, complete FROM messages "
                            "WHERE conversation_id = ? ORDER BY id", (conv_id,)).fetchall()
    finally:
        conn.close()


def _keys(qtbot, window: MainWindow, row: int, key: Qt.Key) -> None:
    view = window.chat_view
    view.setFocus()
    view.setCurrentIndex(view.model().index(row, 0))
    qtbot.keyClick(view, key, Qt.KeyboardModifier.AltModifier)


def test_regenerating_twice_keeps_three_replies_and_the_arrows_switch_them(
        qtbot, make_window: MakeWindow) -> None:
    window, engine = _three_replies(qtbot, make_window)
    t, store, conv = window.transcript, window.ctx.store, window.controller.conversation_id
    assert t.rowCount() == 2
    assert (t.message_at(1).content, t.message_at(1).alternatives) == (TEXTS[2],
                                                                       Alternatives(2, 3))
    alts = store.alternatives(t.message_at(1).message_id)
    assert [(m.content, m.shown, m.complete) for m in alts] == [
        (TEXTS[0], False, True), (TEXTS[1], False, True), (TEXTS[2], True, True)]
    assert all([m.content for m in r.messages] == [QUESTION] for r in engine.requests)
    painted = _painted(window, 1)
    assert painted[:4] == ["Assistant", "◀", "3/3", "▶"]          # shown without hovering
    assert _painted(window, 0)[:1] == ["You"] and "3/3" not in _painted(window, 0)

    _click(qtbot, window, 1, MessageAction.PREVIOUS)                # the mouse: ◀
    assert (t.message_at(1).content, t.message_at(1).alternatives) == (TEXTS[1],
                                                                       Alternatives(1, 3))
    assert "2/3" in _painted(window, 1)
    assert [m.content for m in store.messages(conv)] == [QUESTION, TEXTS[1]]
    _keys(qtbot, window, 1, Qt.Key.Key_Left)                         # the keyboard
    assert t.message_at(1).content == TEXTS[0]
    _keys(qtbot, window, 1, Qt.Key.Key_Left)                         # the first: stays
    assert t.message_at(1).alternatives == Alternatives(0, 3)
    labels = {a.text(): a.isEnabled() for a in window.chat_view.message_menu(1).actions()}
    assert labels["Previous reply (1/3)\tAlt+Left"] is False
    assert labels["Next reply (1/3)\tAlt+Right"] is True
    next(a for a in window.chat_view.message_menu(1).actions()
         if a.text().startswith("Next reply")).trigger()             # the context menu
    assert t.message_at(1).content == TEXTS[1]
    _click(qtbot, window, 1, MessageAction.NEXT)
    _click(qtbot, window, 1, MessageAction.NEXT)                     # the newest: stays
    assert (t.message_at(1).content, t.message_at(1).alternatives) == (TEXTS[2],
                                                                       Alternatives(2, 3))
    assert [m.shown for m in store.alternatives(alts[0].id)] == [False, False, True]
    assert len(_rows(store.path, conv)) == 4


def test_the_choice_survives_a_new_window_on_the_same_file(
        qtbot, make_window: MakeWindow) -> None:
    window, _engine = _three_replies(qtbot, make_window)
    conv, path = window.controller.conversation_id, window.ctx.store.path
    _click(qtbot, window, 1, MessageAction.PREVIOUS)
    window.close()
    window.ctx.store.close()
    assert [r[:3] for r in _rows(path, conv)] == [
        ("user", QUESTION, 1), ("assistant", TEXTS[0], 0), ("assistant", TEXTS[1], 1),
        ("assistant", TEXTS[2], 0)]
    again = make_window()
    if again.controller.conversation_id != conv:
        again.wiring.open_conversation(conv, "chat")
    t = again.transcript
    assert (t.message_at(1).content, t.message_at(1).alternatives) == (TEXTS[1],
                                                                       Alternatives(1, 3))
    qtbot.waitUntil(lambda: not again.chat_view.visualRect(t.index(1, 0)).isEmpty())
    assert "2/3" in _painted(again, 1)
    _click(qtbot, again, 1, MessageAction.PREVIOUS)
    assert [r[2] for r in _rows(path, conv)] == [1, 1, 0, 0]


def test_the_next_prompt_is_made_of_the_replies_shown(qtbot, make_window: MakeWindow) -> None:
    window, engine = _three_replies(qtbot, make_window)
    _keys(qtbot, window, 1, Qt.Key.Key_Left)
    _keys(qtbot, window, 1, Qt.Key.Key_Left)
    assert window.transcript.message_at(1).content == TEXTS[0]
    engine.words = ["Fourth", "."]
    send_and_wait(qtbot, window, "And then?")
    request = engine.requests[-1]
    assert [(m.role, m.content) for m in request.messages] == [
        ("user", QUESTION), ("assistant", TEXTS[0]), ("user", "And then?")]
    prompt = engine.render(request).text               # the prompt as the engine renders it
    assert TEXTS[0] in prompt and TEXTS[1] not in prompt and TEXTS[2] not in prompt
    t = window.transcript
    assert t.rowCount() == 4 and t.message_at(3).alternatives == Alternatives(0, 1)
    assert "◀" not in _painted(window, 3)                             # one reply: no arrows
    assert "1/3" in _painted(window, 1)                               # an earlier reply keeps
    _click(qtbot, window, 1, MessageAction.NEXT)                      # its choice, and can
    assert t.message_at(1).content == TEXTS[1] and t.rowCount() == 4    # still switch
    engine.words = ["Fifth", "."]
    send_and_wait(qtbot, window, "More?")
    assert [m.content for m in engine.requests[-1].messages] == [
        QUESTION, TEXTS[1], "And then?", "Fourth.", "More?"]


def test_a_regenerate_that_fails_before_any_text_shows_the_earlier_reply_again(
        qtbot, make_window: MakeWindow) -> None:
    window, engine = _three_replies(qtbot, make_window)
    conv, t = window.controller.conversation_id, window.transcript
    _click(qtbot, window, 1, MessageAction.PREVIOUS)
    _click(qtbot, window, 1, MessageAction.PREVIOUS)                 # 1/3 shown
    engine.fail_generate = "too long"
    _regenerate(qtbot, window)
    assert "5000 tokens" in window.banner.text()
    reply = t.message_at(1)
    assert (reply.content, reply.alternatives, reply.streaming) == (TEXTS[0],
                                                                    Alternatives(0, 3), False)
    assert [r[1:3] for r in _rows(window.ctx.store.path, conv)] == [
        (QUESTION, 1), (TEXTS[0], 1), (TEXTS[1], 0), (TEXTS[2], 0)]
    assert window.composer.text() == ""               # nothing of yours was taken back


def test_a_regenerated_reply_is_on_disk_as_it_streams_and_nothing_switches_meanwhile(
        qtbot, make_window: MakeWindow) -> None:
    engine = FakeEngine(words=list(REPLIES[0]), delay=0.001)
    window = make_window(engine)
    load_fake(qtbot, window)
    send_and_wait(qtbot, window, QUESTION)
    conv, t = window.controller.conversation_id, window.transcript
    engine.words, engine.delay = [f" w{i}" for i in range(200)], 0.02
    window.chat_view.setFocus()
    qtbot.keyClick(window.chat_view, Qt.Key.Key_R, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(lambda: len(t.message_at(1).content) > 10, timeout=5000)
    qtbot.wait(SAVE_INTERVAL_MS + 200)                   # a partial save has happened
    rows = _rows(window.ctx.store.path, conv)             # what a crash now would leave
    assert [r[2:] for r in rows] == [(1, 1), (0, 1), (1, 0)]
    assert rows[1][1] == TEXTS[0] and rows[2][1].startswith(" w0 w1")
    assert t.message_at(1).streaming and t.message_at(1).alternatives == Alternatives(1, 2)
    assert not window.controller.regenerate()            # as before: not while it streams
    assert not window.controller.switch_alternative(1, -1)
    _keys(qtbot, window, 1, Qt.Key.Key_Left)
    assert t.message_at(1).streaming and t.message_at(1).content.startswith(" w0")
    window.controller.stop()
    _idle(qtbot, window)
    assert t.message_at(1).finish_reason == "cancelled"
    assert t.message_at(1).alternatives == Alternatives(1, 2)
    _click(qtbot, window, 1, MessageAction.PREVIOUS)
    assert t.message_at(1).content == TEXTS[0]


def test_edit_and_resend_drops_the_later_turns_with_their_alternatives(
        qtbot, make_window: MakeWindow) -> None:
    engine = FakeEngine(words=["A1"], delay=0.001)
    window = make_window(engine)
    load_fake(qtbot, window)
    send_and_wait(qtbot, window, "A")
    engine.words = ["A2"]
    _regenerate(qtbot, window)
    engine.words = ["B1"]
    send_and_wait(qtbot, window, "B")
    engine.words = ["B2"]
    _regenerate(qtbot, window)
    conv, path, t = window.controller.conversation_id, window.ctx.store.path, window.transcript
    assert [r[1] for r in _rows(path, conv)] == ["A", "A1", "A2", "B", "B1", "B2"]
    engine.words = ["C1"]
    assert window.controller.edit_and_resend(2, "C")
    _idle(qtbot, window)
    assert [r[1] for r in _rows(path, conv)] == ["A", "A1", "A2", "C", "C1"]
    assert [t.message_at(r).content for r in range(4)] == ["A", "A2", "C", "C1"]
    assert t.message_at(1).alternatives == Alternatives(1, 2)          # an earlier turn keeps
    assert t.message_at(3).alternatives == Alternatives(0, 1)
    assert [m.content for m in engine.requests[-1].messages] == ["A", "A2", "C"]
    engine.words = ["D1"]
    assert window.controller.edit_and_resend(0, "D")
    _idle(qtbot, window)
    assert [r[1] for r in _rows(path, conv)] == ["D", "D1"]
    assert t.message_at(1).alternatives == Alternatives(0, 1)


def test_deleting_the_conversation_removes_every_alternative_and_undo_brings_them_back(
        qtbot, make_window: MakeWindow) -> None:
    window, _engine = _three_replies(qtbot, make_window)
    _click(qtbot, window, 1, MessageAction.PREVIOUS)
    conv, path, store = window.controller.conversation_id, window.ctx.store.path, window.ctx.store
    before = store.messages(conv)
    deleted = window.sidebar.delete(conv)
    assert _rows(path, conv) == [] and window.transcript.rowCount() == 0
    assert len(deleted.messages) == 4
    window.sidebar.restore(deleted)
    assert store.messages(conv) == before
    assert [r[1:3] for r in _rows(path, conv)] == [
        (QUESTION, 1), (TEXTS[0], 0), (TEXTS[1], 1), (TEXTS[2], 0)]


def test_export_writes_the_reply_shown(qtbot, make_window: MakeWindow, tmp_path: Path) -> None:
    window, _engine = _three_replies(qtbot, make_window)
    _click(qtbot, window, 1, MessageAction.PREVIOUS)
    conv = window.controller.conversation_id
    window.sidebar.export(conv, tmp_path / "chat.md", "md")
    window.sidebar.export(conv, tmp_path / "chat.json", "json")
    md = (tmp_path / "chat.md").read_text(encoding="utf-8")
    assert f"{TEXTS[1]}\n\n_(alternative 2 of 3)_" in md
    assert TEXTS[0] not in md and TEXTS[2] not in md
    data = json.loads((tmp_path / "chat.json").read_text(encoding="utf-8"))
    assert [m["content"] for m in data["messages"]] == [QUESTION, TEXTS[1]]
    assert data["messages"][1]["alternatives"] == {"index": 1, "count": 3}
    assert data["messages"][0]["alternatives"] == {"index": 0, "count": 1}


class RecordingEngine(Engine):
    """The real in-process engine, remembering each request and the prompt it rendered."""

    def __init__(self) -> None:
        super().__init__()
        self.requests: list[GenerationRequest] = []
        self.prompts: list[str] = []

    def generate(self, request: GenerationRequest, cancel=None) -> Iterator[GenerationEvent]:
        self.requests.append(request)
        for event in super().generate(request, cancel):
            if isinstance(event, PromptRendered):
                self.prompts.append(event.prompt.text)
            yield event


def test_alternatives_on_the_real_model(qtbot, make_window: MakeWindow,
                                        starter_model_path: Path) -> None:
    engine = RecordingEngine()
    window = make_window(engine)
    window.settings_panel.fields["temperature"].set_value(0.9)
    window.settings_panel.fields["max_tokens"].set_value(8)
    window.model_panel.set_model_settings(1024, 0, n_threads=1)
    window.wiring.load_choice(str(starter_model_path))
    qtbot.waitUntil(lambda: window.ctx.client.loaded is not None, timeout=60_000)
    _idle(qtbot, window)
    _send(qtbot, window, "Name a colour.")
    _regenerate(qtbot, window)
    t = window.transcript
    assert t.message_at(1).alternatives == Alternatives(1, 2)
    alts = window.ctx.store.alternatives(t.message_at(1).message_id)
    assert all(m.content.strip() and m.complete for m in alts)
    assert engine.prompts[0] == engine.prompts[1]          # the same prompt, regenerated
    _click(qtbot, window, 1, MessageAction.PREVIOUS)
    assert t.message_at(1).content == alts[0].content
    _send(qtbot, window, "Another one.")
    assert [m.content for m in engine.requests[-1].messages] == [
        "Name a colour.", alts[0].content, "Another one."]
    assert alts[0].content.strip() in engine.prompts[-1]
