"""The token inspector in the window, on real records of the real starter model: the inspector
of one token (stages in the chain's order, the drawn token marked, the sliders' own tooltip
text as definitions, "what if" re-shaping at once and giving the reply's own distribution back
with its own settings), the Text view's tokens coloured by probability and opening it, and the
record stored with the message."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QPlainTextEdit

from app.inspector import InspectorDialog, TokenHeat
from app.inspector.chart import WHAT_IF
from app.inspector.heat import token_spans
from app.settings.settings_panel import _help as slider_tooltip
from inference.engine.engine import Engine
from inference.engine.events import Finished
from inference.engine.requests import GenerationRequest, Mode
from inference.engine.sampling import SamplingParams, sampling_help
from inference.inspector.choice import Stage
from inference.inspector.codec import decode

pytestmark = pytest.mark.gui
PROMPT = "The old lighthouse keeper"


@pytest.fixture(scope="module")
def reply(engine: Engine) -> Finished:
    request = GenerationRequest(Mode.TEXT, text=PROMPT, inspect_top=20,
                                sampling=SamplingParams(seed=3, max_tokens=12))
    return next(e for e in engine.generate(request) if isinstance(e, Finished))


def test_the_inspector_shows_each_stage_and_marks_the_drawn_token(qtbot, reply) -> None:
    inspection = reply.inspection
    dialog = InspectorDialog(inspection, 2)
    qtbot.addWidget(dialog)
    dialog.show()
    choice = inspection.choices[2]
    chart = dialog.chart
    assert chart.columns == [Stage.RAW, *choice.stages]
    assert choice.drawn_index in chart.rows
    assert chart.value(0, choice.drawn_index) == pytest.approx(np.exp(choice.logprob))
    for key in ("temperature", "top_k", "top_p", "min_p"):
        # the definitions are the settings panel's slider tooltips, word for word
        assert sampling_help(key) == slider_tooltip(key)
        assert sampling_help(key) in dialog.definitions.text()
        assert dialog.sliders[key].toolTip() == slider_tooltip(key)
    chart.grab()                                              # it paints


def test_what_if_reshapes_at_once_and_gives_the_reply_back_with_its_settings(
        qtbot, reply) -> None:
    choice = reply.inspection.choices[0]
    dialog = InspectorDialog(reply.inspection, 0)
    qtbot.addWidget(dialog)
    assert np.array_equal(dialog.chart.what_if, choice.final_probs)   # own settings: exact
    dialog.sliders["temperature"].setValue(0)                          # greedy
    greedy = dialog.chart.what_if
    assert greedy.max() == 1.0 and np.count_nonzero(greedy) == 1
    dialog.sliders["temperature"].setValue(150)
    dialog.sliders["top_k"].setValue(2)
    assert np.count_nonzero(dialog.chart.what_if) <= 2
    assert dialog.chart.columns[-1] != WHAT_IF and dialog.chart.sizeHint().width() > 0


def test_the_text_views_tokens_are_coloured_and_a_click_opens_one(qtbot, reply) -> None:
    editor = QPlainTextEdit()
    qtbot.addWidget(editor)
    editor.setPlainText(PROMPT + reply.text)
    editor.resize(700, 300)
    editor.show()
    heat = TokenHeat(editor)
    heat.show(reply.inspection, len(PROMPT))
    spans = token_spans(reply.inspection, len(PROMPT), len(PROMPT) + len(reply.text))
    assert heat.spans == spans and spans[-1][1] == len(PROMPT) + len(reply.text)
    begin, end, index = spans[3]
    assert heat.token_at(begin) == index and heat.token_at(len(PROMPT) - 1) is None
    cursor = editor.textCursor()
    cursor.setPosition(begin + (end - begin) // 2)
    point = editor.cursorRect(cursor).center()
    with qtbot.waitSignal(heat.tokenClicked) as clicked:
        qtbot.mouseClick(editor.viewport(), Qt.MouseButton.LeftButton, pos=point)
    assert clicked.args[0] in (index, spans[2][2], spans[4][2])    # the token under the click
    heat.clear()
    assert heat.spans == []


def test_text_mode_records_colours_and_stores_the_tokens(qtbot, qapp,
                                                         starter_model_path: Path) -> None:
    """The real window on the real engine: "Colour tokens" on, Continue; the continuation is
    coloured token by token, a click opens the inspector, and the record is stored with the
    message (the conversation now records them)."""
    from app.shell.context import AppContext
    from app.shell.theme import ThemeManager
    from app.shell.window import MainWindow
    from inference.common.paths import parley_paths
    from inference.host.host import EngineHost
    from tests.support.gui_window import this_build

    models = parley_paths().ensure().models
    (models / starter_model_path.name).symlink_to(starter_model_path)
    ctx = AppContext.create(EngineHost, build_reader=this_build)
    window = MainWindow(ctx, ThemeManager(qapp, "light"))
    qtbot.addWidget(window)
    window.model_panel.set_model_settings(512, 0, n_threads=1)
    window.show()
    try:
        qtbot.mouseClick(window.welcome.starter_button, Qt.MouseButton.LeftButton)
        qtbot.waitUntil(lambda: ctx.client.loaded is not None, timeout=120_000)
        window.settings_panel.fields["max_tokens"].set_value(8)
        page = window.text_page
        page.editor.setPlainText(PROMPT)
        page.colour_tokens.setChecked(True)
        page.continue_text()
        qtbot.waitUntil(lambda: page.inspection is not None and not page.run.busy,
                        timeout=120_000)
        assert page.heat.spans and page.heat.spans[0][0] == len(PROMPT)
        page.inspect_token(0)
        assert page.inspector is not None and page.inspector.isVisible()
        assert page.inspector.continue_button.isVisible()
        conv = page.run.conv_id
        assert ctx.store.inspect_tokens(conv)
        reply_msg = ctx.store.messages(conv)[-1]
        stored = decode(ctx.store.inspection(reply_msg.id))
        assert [c.token for c in stored.choices] == [c.token for c in page.inspection.choices]
        # branch at the second token with another candidate: the text up to it stays
        first = page.inspection.pieces[0].decode()
        page.inspect_token(1)
        dialog = page.inspector
        other = next(i for i in range(dialog.candidates.count())
                     if dialog.candidates.itemData(i) != dialog.choice.token)
        dialog.candidates.setCurrentIndex(other)
        chosen = page.inspection.texts[dialog.candidates.itemData(other)].decode()
        old = page.inspection
        qtbot.mouseClick(dialog.continue_button, Qt.MouseButton.LeftButton)
        qtbot.waitUntil(lambda: page.inspection is not None and page.inspection is not old
                        and not page.run.busy, timeout=120_000)
        assert page.editor.toPlainText().startswith(PROMPT + first + chosen)
        assert page.heat.spans[0][0] == len(PROMPT + first + chosen)
        page.colour_tokens.setChecked(False)
        assert page.heat.spans == []
        # opened again later, the stored record colours the last continuation again
        last = page.inspection
        page.load_conversation(0, "")
        assert page.inspection is None and page.heat.spans == []
        document = PROMPT + first + chosen + ctx.store.messages(conv)[-1].content
        page.load_conversation(conv, document)
        assert page.inspection is not None and page.colour_tokens.isChecked()
        assert [c.token for c in page.inspection.choices] == [c.token for c in last.choices]
        assert page.heat.spans and page.heat.spans[-1][1] == len(document)
    finally:
        window.close()
        ctx.store.close()


def test_chat_records_a_conversation_once_asked_and_inspects_its_replies(
        qtbot, qapp, starter_model_path: Path) -> None:
    """Inspect tokens on a reply that was not recorded turns recording on for the
    conversation (off by default); the next reply is recorded, and Inspect tokens then shows
    its tokens coloured, a click opening the token's inspector."""
    from app.chat.message_actions import MessageAction
    from app.shell.context import AppContext
    from app.shell.theme import ThemeManager
    from app.shell.window import MainWindow
    from inference.common.paths import parley_paths
    from inference.host.host import EngineHost
    from tests.support.gui_window import this_build

    models = parley_paths().ensure().models
    (models / starter_model_path.name).symlink_to(starter_model_path)
    ctx = AppContext.create(EngineHost, build_reader=this_build)
    window = MainWindow(ctx, ThemeManager(qapp, "light"))
    qtbot.addWidget(window)
    window.model_panel.set_model_settings(512, 0, n_threads=1)
    window.show()
    try:
        qtbot.mouseClick(window.welcome.starter_button, Qt.MouseButton.LeftButton)
        qtbot.waitUntil(lambda: ctx.client.loaded is not None, timeout=120_000)
        window.set_mode(Mode.CHAT)
        window.settings_panel.fields["max_tokens"].set_value(6)
        controller, actions = window.controller, window.wiring.actions

        def send(text: str) -> None:
            window.composer.set_text(text)
            qtbot.keyClick(window.composer.input, Qt.Key.Key_Return)
            qtbot.waitUntil(lambda: controller.busy, timeout=10_000)
            qtbot.waitUntil(lambda: not controller.busy, timeout=120_000)

        send("Hello")
        conv = controller.conversation_id
        assert not ctx.store.inspect_tokens(conv)                   # off by default
        last = window.transcript.rowCount() - 1
        actions.trigger(MessageAction.INSPECT, last)
        assert ctx.store.inspect_tokens(conv)                       # asked: now on
        send("Tell me more")
        last = window.transcript.rowCount() - 1
        reply_id = window.transcript.message_at(last).message_id
        assert ctx.store.inspection(reply_id) is not None
        actions.trigger(MessageAction.INSPECT, last)
        tokens = actions.tokens
        assert tokens.isVisible() and tokens.heat.spans
        tokens.inspect_token(0)
        assert tokens.inspector is not None and tokens.inspector.isVisible()
        assert tokens.inspector.continue_button.isVisible()         # the last reply branches
        # Continue from here at the second token with another candidate: a new alternative of
        # the reply that begins with the first token and the candidate; the original is kept
        original = window.transcript.message_at(last).content
        inspection = tokens.inspection
        first = inspection.pieces[0].decode()
        tokens.inspect_token(1)
        dialog = tokens.inspector
        other = next(i for i in range(dialog.candidates.count())
                     if dialog.candidates.itemData(i) != dialog.choice.token)
        dialog.candidates.setCurrentIndex(other)
        chosen = inspection.texts[dialog.candidates.itemData(other)].decode()
        qtbot.mouseClick(dialog.continue_button, Qt.MouseButton.LeftButton)
        qtbot.waitUntil(lambda: controller.busy, timeout=10_000)
        qtbot.waitUntil(lambda: not controller.busy, timeout=120_000)
        branched = window.transcript.message_at(last)
        assert branched.content.startswith(first + chosen)
        assert len(branched.content) > len(first + chosen)          # the model went on
        assert branched.alternatives.label == "2/2"
        stored = ctx.store.messages(conv)[-1]
        assert (stored.id, stored.content) == (branched.message_id, branched.content)
        # its own record holds only what the model added; Inspect tokens maps it back
        actions.trigger(MessageAction.INSPECT, last)
        assert actions.tokens.head == first + chosen
        assert controller.switch_alternative(last, -1)
        assert window.transcript.message_at(last).content == original
    finally:
        window.close()
        ctx.store.close()
