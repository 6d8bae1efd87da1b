"""Base models in the window: the welcome view, the model panel and Model info say so, the
starter opens in Text mode until the user has chosen a mode, and the first Chat or Instruct
reply of a base model says once what suits it.

The engine is the scripted FakeEngine, but what it reports about the model is the real file's
header (`HeaderEngine`), as the real engine reports it; one test runs the real engine.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import pytest
from PySide6.QtCore import Qt

from app.engine.worker import STARTER
from app.shell.context import AppContext
from app.shell.theme import ThemeManager
from app.shell.welcome import STARTER_NOTE
from app.shell.window import MainWindow
from inference.engine.requests import Mode
from inference.gguf.file import read_gguf
from inference.host.host import EngineHost
from inference.library.model_kind import BASE_MODEL_NOTICE
from tests.support.fake_engine import FakeEngine
from tests.support.gguf_factory import SIMPLE_CHAT_TEMPLATE, write_tiny_model
from tests.support.gui_window import MakeWindow, send_and_wait, this_build

pytestmark = pytest.mark.gui
HeaderWindow = Callable[..., MainWindow]


@dataclass
class HeaderEngine(FakeEngine):
    """FakeEngine whose LoadedModel carries the file's real header, as Engine.load reports it."""

    def load(self, config, progress=None, cancel=None):
        loaded = super().load(config, progress, cancel)
        info = read_gguf(config.path)
        self._loaded = replace(loaded, info=info.to_dict(), n_ctx_train=info.context_length)
        return self._loaded


@pytest.fixture(name="header_window")
def header_window_fixture(make_window: MakeWindow,
                          starter_model_path: Path) -> Iterator[HeaderWindow]:
    """`make(engine)`: a shown window whose "starter" is the real starter file, where the app
    keeps it (a link: no 253 MB copy); the same PARLEY_HOME each call in a test, so a second
    call is a restart."""
    from inference.common.paths import parley_paths

    starter = parley_paths().ensure().models / starter_model_path.name
    starter.symlink_to(starter_model_path)

    def resolve(choice: str) -> Path:
        return starter if choice == STARTER else Path(choice)

    def make(engine: FakeEngine | None = None) -> MainWindow:
        return make_window(engine or HeaderEngine(), resolver=resolve)

    yield make


def load(qtbot, window: MainWindow, choice: str) -> None:
    window.wiring.load_choice(choice)
    qtbot.waitUntil(lambda: window.ctx.client.loaded is not None
                    and window.ctx.client.state == "idle", timeout=10_000)


@pytest.fixture(scope="module")
def tuned(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_tiny_model(tmp_path_factory.mktemp("tuned") / "tiny-chat.gguf",
                            chat_template=SIMPLE_CHAT_TEMPLATE)


def test_the_starter_opens_in_text_mode_and_says_it_is_a_base_model(qtbot, header_window):
    window = header_window()
    welcome = window.welcome
    assert window.pages.currentWidget() is welcome
    assert welcome.starter_note.isVisible() and welcome.starter_note.text() == STARTER_NOTE
    assert window.mode is Mode.CHAT and not window.ctx.prefs.mode_chosen
    qtbot.mouseClick(welcome.starter_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: window.ctx.client.loaded is not None, timeout=10_000)
    assert window.mode is Mode.TEXT and window.pages.currentWidget() is window.text_page
    assert window.mode_bar.buttons[Mode.TEXT].isChecked()
    panel = window.model_panel
    assert not panel.base_note.isHidden() and panel.base_note.text() == BASE_MODEL_NOTICE
    kind = window.model_info.values["kind"].text()
    assert kind.startswith("base model (no chat template")
    assert not window.ctx.prefs.mode_chosen                   # the default, not the user's


def test_a_mode_the_user_chose_is_kept_across_a_restart(qtbot, header_window):
    window = header_window()
    qtbot.mouseClick(window.mode_bar.buttons[Mode.CHAT], Qt.MouseButton.LeftButton)
    assert window.ctx.prefs.mode_chosen
    load(qtbot, window, STARTER)
    assert window.mode is Mode.CHAT                            # chosen: not switched
    window.close()
    again = header_window()
    assert again.ctx.prefs.mode_chosen and again.mode is Mode.CHAT
    load(qtbot, again, STARTER)
    assert again.mode is Mode.CHAT and not again.model_panel.base_note.isHidden()


def test_a_shortcut_is_a_choice_too(qtbot, qapp, header_window):
    window = header_window()
    window.activateWindow()
    qtbot.waitUntil(lambda: qapp.activeWindow() is window, timeout=5000)
    qtbot.keyClick(window.composer.input, Qt.Key.Key_3, Qt.KeyboardModifier.ControlModifier)
    assert window.mode is Mode.INSTRUCT and window.ctx.prefs.mode_chosen
    load(qtbot, window, STARTER)
    assert window.mode is Mode.INSTRUCT


def test_the_first_chat_reply_of_a_base_model_says_so_once(qtbot, header_window):
    window = header_window()
    window.set_mode(Mode.CHAT)                                 # as a click does
    load(qtbot, window, STARTER)
    assert not window.banner.isVisible()
    send_and_wait(qtbot, window, "Hello, who are you?")
    assert window.banner.text() == BASE_MODEL_NOTICE
    assert window.banner.action.text() == "Use Text mode"
    qtbot.mouseClick(window.banner.close_button, Qt.MouseButton.LeftButton)
    send_and_wait(qtbot, window, "And again?")
    assert window.transcript.rowCount() == 4 and not window.banner.isVisible()   # once
    load(qtbot, window, STARTER)                               # a new load: said again
    send_and_wait(qtbot, window, "Third time")
    assert window.banner.text() == BASE_MODEL_NOTICE
    qtbot.mouseClick(window.banner.action, Qt.MouseButton.LeftButton)
    assert window.mode is Mode.TEXT and window.pages.currentWidget() is window.text_page


def test_an_instruct_run_says_so_and_a_text_run_does_not(qtbot, header_window):
    window = header_window()
    load(qtbot, window, STARTER)
    assert window.mode is Mode.TEXT
    page = window.text_page
    page.editor.setPlainText("Once upon a time")
    page.continue_text()
    qtbot.waitUntil(lambda: not window.text_run.busy, timeout=5000)
    assert not window.banner.isVisible()                       # Text mode suits it
    window.set_mode(Mode.INSTRUCT)
    window.instruct_page.instruction.setPlainText("List three fruits.")
    window.instruct_page.run_instruction()
    qtbot.waitUntil(lambda: not window.instruct_run.busy, timeout=5000)
    assert window.banner.text() == BASE_MODEL_NOTICE


def test_a_tuned_model_gets_no_notice_and_chat_comes_back(qtbot, header_window, tuned):
    window = header_window()
    load(qtbot, window, STARTER)
    assert window.mode is Mode.TEXT                            # the starter's default…
    load(qtbot, window, str(tuned))
    assert window.mode is Mode.CHAT                            # …followed the model back
    assert window.model_panel.base_note.isHidden()
    assert window.model_info.values["kind"].text() == (
        "chat / instruction-tuned (it has a chat template)")
    send_and_wait(qtbot, window, "Hi")
    assert not window.banner.isVisible()


def test_a_base_model_opened_by_path_keeps_the_mode(qtbot, header_window, tmp_path):
    base = write_tiny_model(tmp_path / "plain-base.gguf", name="Plain 1B")
    window = header_window()
    load(qtbot, window, str(base))
    assert window.mode is Mode.CHAT                            # only the starter defaults
    assert not window.model_panel.base_note.isHidden()


def test_the_real_engine_reports_the_starter_as_base(qtbot, qapp, starter_model_path):
    from inference.common.paths import parley_paths

    models = parley_paths().ensure().models                    # the app's own starter copy
    (models / starter_model_path.name).symlink_to(starter_model_path)
    ctx = AppContext.create(EngineHost, build_reader=this_build)   # the real resolver too
    window = MainWindow(ctx, ThemeManager(qapp, "light"))
    qtbot.addWidget(window)
    window.model_panel.set_model_settings(512, 0, n_threads=1)
    window.show()
    try:
        qtbot.mouseClick(window.welcome.starter_button, Qt.MouseButton.LeftButton)
        qtbot.waitUntil(lambda: ctx.client.loaded is not None, timeout=120_000)
        assert window.mode is Mode.TEXT
        assert not window.model_panel.base_note.isHidden()
        assert window.model_info.values["kind"].text().startswith("base model")
    finally:
        window.close()
        ctx.store.close()
