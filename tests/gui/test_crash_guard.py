"""Start-up respects the engine host's crash-loop guard: a model that crashed at load waits."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.shell.context import AppContext
from app.shell.main import start_model
from app.shell.theme import ThemeManager
from app.shell.window import MainWindow
from inference.host import files as host_files
from tests.support.fake_engine import FakeEngine
from tests.support.gguf_factory import write_tiny_model

pytestmark = pytest.mark.gui


@pytest.fixture
def window(qtbot, qapp):
    engine = FakeEngine()
    ctx = AppContext.create(lambda: engine, resolver=Path)
    win = MainWindow(ctx, ThemeManager(qapp, "light"))
    qtbot.addWidget(win)
    win.show()
    yield win
    win.close()
    ctx.store.close()


def test_a_model_that_crashed_the_engine_at_load_is_not_loaded_again(window, tmp_path):
    model = write_tiny_model(tmp_path / "tiny.gguf")
    host_files.record_loading(model, engine_pid=12345)      # as a crash mid-load leaves it
    assert start_model(window, str(model)) is False
    assert "was not loaded automatically" in window.banner.text()
    assert window.ctx.client.state == "unloaded"             # nothing is loading
    assert window.model_panel.choice() == str(model)        # but it is selected, one click away


def test_another_model_still_loads_at_start(window, tmp_path, qtbot):
    crashed = write_tiny_model(tmp_path / "crashed.gguf")
    other = write_tiny_model(tmp_path / "other.gguf")
    host_files.record_loading(crashed, engine_pid=12345)
    assert start_model(window, str(other)) is True
    host_files.clear_loading()
    assert start_model(window, str(crashed)) is True
