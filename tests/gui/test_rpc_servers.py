"""The model panel's RPC servers field, in a real window on the real engine and two real
`rpc-server` processes on 127.0.0.1: a bad line is refused in place, Check servers shows the split
per device before loading, Load spreads the layers, the servers are saved with the model
settings, and a server killed mid-reply is named in the crash banner while the window lives on."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import Qt

from app.data.prefs import Preferences
from app.settings.rpc_field import CAVEAT
from app.shell.context import AppContext
from app.shell.theme import ThemeManager
from app.shell.window import MainWindow
from inference.host.host import EngineHost
from tests.support.rpc_servers import RpcServer, running_rpc_servers

pytestmark = [pytest.mark.gui, pytest.mark.model]


@pytest.fixture(scope="module")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[RpcServer]]:
    with running_rpc_servers(2, tmp_path_factory.mktemp("gui-rpc-logs")) as running:
        yield running


@pytest.fixture(scope="module")
def window(qapp, tmp_path_factory, starter_model_path: Path) -> Iterator[MainWindow]:
    mp = pytest.MonkeyPatch()
    mp.setenv("PARLEY_HOME", str(tmp_path_factory.mktemp("gui-rpc-home")))
    ctx = AppContext.create(EngineHost)
    win = MainWindow(ctx, ThemeManager(qapp, "light"))
    win.settings_panel.fields["temperature"].set_value(0)
    win.model_panel.set_model_settings(1024, 0, n_threads=1)
    win.model_panel.select(str(starter_model_path))
    win.show()
    yield win
    win.close()
    ctx.store.close()
    mp.undo()


def test_a_bad_line_is_refused_in_place_and_nothing_loads(qtbot, window: MainWindow) -> None:
    field = window.model_panel.rpc
    assert field.caveat.isVisible() and "no authentication" in field.caveat.text()
    assert field.caveat.text() == CAVEAT
    field.edit.setPlainText("192.168.1.20:50052\nmy-server")
    assert field.problem.isVisible() and "host:port" in field.problem.text()
    assert "\n" not in field.problem.text()
    qtbot.mouseClick(window.model_panel.load_button, Qt.MouseButton.LeftButton)
    qtbot.wait(200)
    assert window.ctx.client.state == "unloaded" and window.ctx.client.loaded is None
    assert field.edit.toPlainText() == "192.168.1.20:50052\nmy-server"   # nothing lost
    field.edit.clear()
    assert not field.problem.isVisible()


def test_check_shows_the_split_then_load_spreads_the_layers(
        qtbot, window: MainWindow, servers: list[RpcServer]) -> None:
    panel = window.model_panel
    endpoints = [s.endpoint for s in servers]
    panel.gpu.set_value(10)
    assert "Press Check servers" not in panel.gpu_note.text()
    panel.rpc.edit.setPlainText("\n".join(endpoints))
    assert panel.gpu.isEnabled()                     # a CPU build offloads to the servers
    assert "Press Check servers" in panel.gpu_note.text()
    qtbot.mouseClick(panel.rpc.check_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: panel.rpc.devices is not None, timeout=60_000)
    note = panel.gpu_note.text()
    assert note.startswith("Layers per device:")
    assert "CPU (this computer): 9 layers" in note
    for endpoint in endpoints:
        assert f"({endpoint}):" in note and "free" in note
    qtbot.mouseClick(panel.load_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: window.ctx.client.loaded is not None, timeout=90_000)
    loaded = window.ctx.client.loaded
    assert loaded.config.rpc_servers == tuple(endpoints)
    assert "RPC0" in panel.status.text() and "RPC1" in panel.status.text()
    assert panel.gpu_note.text().startswith("Layers per device (loaded):")
    assert window.ctx.prefs.rpc_servers == endpoints
    saved = Preferences.from_dict(window.ctx.prefs.to_dict())
    assert saved.rpc_servers == endpoints
    assert Preferences.from_dict({"rpc_servers": ["nohost"]}).rpc_servers == []


def test_a_server_killed_mid_reply_is_named_and_the_window_lives_on(
        qtbot, window: MainWindow, servers: list[RpcServer]) -> None:
    qtbot.waitUntil(lambda: window.ctx.client.loaded is not None, timeout=90_000)
    window.settings_panel.fields["max_tokens"].spin.setValue(300)
    window.composer.input.setFocus()
    window.composer.set_text("Count from one to one hundred in words.")
    qtbot.keyClick(window.composer.input, Qt.Key.Key_Return)
    row = window.transcript.rowCount() - 1
    qtbot.waitUntil(lambda: len(window.transcript.message_at(row).content) > 3, timeout=60_000)
    servers[1].kill()
    qtbot.waitUntil(lambda: window.banner.kind == "crash" and window.banner.isVisible(),
                    timeout=60_000)
    assert f"RPC server {servers[1].endpoint} refused the connection" in window.banner.text()
    partial = window.transcript.message_at(row)
    assert partial.content and not partial.streaming           # the partial reply is kept
    assert window.isVisible() and window.ctx.client.loaded is None
    assert "(loaded)" not in window.model_panel.gpu_note.text()
