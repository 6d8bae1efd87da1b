"""Beam search in the window, on the real engine (EngineHost) and the starter model: the
settings' box greys the sampling sliders out with the reason, Text and Instruct modes show the
best beam as the reply and the others beside it with their scores, and a picked beam is kept."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import Qt

from app.chat.request_builder import RunSettings, chat_request
from app.settings.beam_fields import GREYED_REASON, SAMPLING_ONLY
from app.shell.context import AppContext
from app.shell.theme import ThemeManager
from app.shell.window import MainWindow
from inference.engine.requests import Message, Mode
from inference.engine.sampling import SamplingParams
from inference.host.host import EngineHost

pytestmark = pytest.mark.gui
WIDTH = 3


@pytest.fixture(scope="module")
def window(qapp, tmp_path_factory, starter_model_path: Path):
    mp = pytest.MonkeyPatch()
    mp.setenv("PARLEY_HOME", str(tmp_path_factory.mktemp("gui-beam-home")))
    ctx = AppContext.create(EngineHost)
    win = MainWindow(ctx, ThemeManager(qapp, "light"))
    win.settings_panel.fields["max_tokens"].set_value(6)
    win.model_panel.set_model_settings(512, 0, n_threads=2)
    win.show()
    win.wiring.load_choice(str(starter_model_path))
    yield win
    win.close()
    ctx.store.close()
    mp.undo()


def _turn_on(qtbot, window: MainWindow) -> None:
    box = window.settings_panel.beam_search
    if not box.switch.isChecked():
        qtbot.mouseClick(box.switch, Qt.MouseButton.LeftButton)
    box.width_field.set_value(WIDTH)
    box.width_field.valueChanged.emit(WIDTH)


def _wait_loaded(qtbot, window: MainWindow) -> None:
    qtbot.waitUntil(lambda: window.ctx.client.loaded is not None
                    and window.ctx.client.state == "idle", timeout=240_000)


def test_beam_search_greys_the_sampling_sliders_out_with_the_reason(qtbot, window):
    panel = window.settings_panel
    _turn_on(qtbot, window)
    assert panel.sampling().beams == WIDTH
    for key in SAMPLING_ONLY:
        assert not panel.fields[key].isEnabled()
        assert panel.fields[key].slider.toolTip() == GREYED_REASON
    assert panel.fields["max_tokens"].isEnabled()           # still bounds the search
    qtbot.mouseClick(panel.beam_search.switch, Qt.MouseButton.LeftButton)
    assert panel.sampling().beams == 0
    for key in SAMPLING_ONLY:
        assert panel.fields[key].isEnabled()
        assert panel.fields[key].slider.toolTip() == panel.fields[key].spec.tooltip
    panel.set_sampling(SamplingParams(beams=5, length_penalty=0.5, max_tokens=6))  # a preset
    assert panel.beam_search.switch.isChecked() and not panel.fields["top_k"].isEnabled()
    assert panel.sampling().beams == 5 and panel.sampling().length_penalty == 0.5


def test_a_chat_reply_samples_even_with_beam_search_on():
    request = chat_request([Message("user", "hi")], RunSettings(SamplingParams(beams=4)))
    assert request.sampling.beams == 0


def test_text_mode_shows_the_beams_and_keeps_the_one_picked(qtbot, window):
    _wait_loaded(qtbot, window)
    _turn_on(qtbot, window)
    qtbot.mouseClick(window.mode_buttons[Mode.TEXT], Qt.MouseButton.LeftButton)
    page = window.text_page
    page.editor.setPlainText("The capital of France is")
    qtbot.mouseClick(page.continue_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not window.text_run.busy and page.beams.isVisible(),
                    timeout=120_000)
    rows = [page.beams.list.item(i).text() for i in range(page.beams.list.count())]
    assert len(rows) == WIDTH and all(" score -" in row for row in rows)
    options = page.beams._options                             # noqa: SLF001 - what it lists
    assert page.editor.toPlainText() == "The capital of France is" + options[0].text
    store, reply_id = window.ctx.store, window.text_run._kept_id   # noqa: SLF001
    assert [m.content for m in store.alternatives(reply_id)] == [o.text for o in options]
    page.beams.list.itemClicked.emit(page.beams.list.item(2))
    assert page.editor.toPlainText() == "The capital of France is" + options[2].text
    shown = store.messages(window.text_run.conv_id)[-1]
    assert shown.content == options[2].text and shown.alternatives.index == 2


def test_instruct_mode_shows_the_beams_beside_the_response(qtbot, window):
    _wait_loaded(qtbot, window)
    _turn_on(qtbot, window)
    qtbot.mouseClick(window.mode_buttons[Mode.INSTRUCT], Qt.MouseButton.LeftButton)
    page = window.instruct_page
    page.instruction.setPlainText("Name a colour.")
    qtbot.mouseClick(page.run_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not window.instruct_run.busy and page.beams.isVisible(),
                    timeout=120_000)
    options = page.beams._options                             # noqa: SLF001
    assert len(options) == WIDTH
    assert [o.score for o in options] == sorted((o.score for o in options), reverse=True)
    page.beams.list.itemClicked.emit(page.beams.list.item(1))
    assert page.response.toPlainText().strip() == options[1].text.strip()
