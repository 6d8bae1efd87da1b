"""Remote engines in the real window: adding one in the Engines dialog, "Test connection"
listing the server's models, selecting it, chatting through it, and the key kept in the
keychain (a file keyring here), never in the preferences or the log. The server is the
stand-in of tests/remote on 127.0.0.1."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import keyring
import pytest
from PySide6.QtCore import Qt

from app.data.api_keys import SERVICE
from app.remote import THIS_COMPUTER
from tests.remote.standin import MODEL, StandIn, start_standin
from tests.support.fake_engine import FakeEngine
from tests.support.file_keyring import FileKeyring
from tests.support.gui_window import MakeWindow, load_fake, send_and_wait

pytestmark = pytest.mark.gui
KEY = "sk-remote-0123456789"


@pytest.fixture()
def file_keyring(tmp_path: Path) -> Iterator[FileKeyring]:
    previous = keyring.get_keyring()
    backend = FileKeyring(tmp_path / "keyring.json")
    keyring.set_keyring(backend)
    yield backend
    keyring.set_keyring(previous)


@pytest.fixture()
def standin() -> Iterator[StandIn]:
    server = start_standin()
    server.script.key = KEY
    yield server
    server.stop()


def add_engine(qtbot, window, url: str, name: str = "big box"):
    dialog = window.model_panel.engine.open_dialog()
    assert dialog is not None and dialog.isVisible()
    dialog.new_engine()
    dialog.name.setText(name)
    dialog.url.setText(url)
    dialog.key.setText(KEY)
    qtbot.mouseClick(dialog.test_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: dialog.status.text().startswith("Connected"), timeout=10_000)
    return dialog


def test_add_test_select_and_chat_on_a_remote_engine(qtbot, make_window: MakeWindow,
                                                     standin: StandIn, file_keyring,
                                                     parley_home: Path) -> None:
    window = make_window(FakeEngine())
    dialog = add_engine(qtbot, window, standin.url)
    assert dialog.status.text() == "Connected: llama.cpp server · 1 model · context 2,048"
    assert [dialog.model.itemText(i) for i in range(dialog.model.count())] == [MODEL]
    assert dialog.save_engine()
    dialog.accept()
    prefs = window.ctx.prefs_store.path.read_text()
    assert "big box" in prefs and KEY not in prefs                 # the key is elsewhere
    assert file_keyring.get_password(SERVICE, "big box") == KEY
    panel = window.model_panel
    picker = panel.engine.picker
    assert [picker.itemText(i) for i in range(picker.count())] == [THIS_COMPUTER,
                                                                   "big box (remote)"]
    panel.engine.select("big box")
    assert not panel.ctx.isVisibleTo(panel) and not panel.picker.isVisibleTo(panel)
    assert panel.load_button.text() == "Connect"
    qtbot.mouseClick(panel.load_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: window.ctx.client.loaded is not None, timeout=10_000)
    assert window.ctx.client.pid == 0
    assert "remote: big box" in panel.status.text()
    window.metrics.refresh()
    assert window.metrics.caption.text().endswith("· remote: big box")
    assert window.metrics.ram.text().startswith("RAM: not measured")
    send_and_wait(qtbot, window, "Hi there")
    conv = window.controller.conversation_id
    reply = window.ctx.store.messages(conv)[-1]
    assert (reply.content, reply.model, reply.engine) == ("Hello, world!", MODEL, "big box")
    assert standin.script.seen[-1]["messages"][-1] == {"role": "user", "content": "Hi there"}
    logs = "".join(p.read_text(errors="replace") for p in parley_home.rglob("*.log"))
    assert KEY not in logs and KEY not in prefs


def test_this_computer_again_loads_locally_and_the_choice_is_remembered(
        qtbot, make_window: MakeWindow, standin: StandIn, file_keyring) -> None:
    engine = FakeEngine()
    window = make_window(engine)
    add_engine(qtbot, window, standin.url).save_engine()
    window.model_panel.engine.select("big box")
    qtbot.mouseClick(window.model_panel.load_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: window.ctx.client.loaded is not None, timeout=10_000)
    load_fake(qtbot, window)                        # a file: this computer again
    assert window.model_panel.engine.chosen() is None
    assert window.model_panel.picker.isVisibleTo(window.model_panel)
    assert window.ctx.client.loaded.info.get("remote") is None    # the FakeEngine's model
    send_and_wait(qtbot, window, "Local now")
    reply = window.ctx.store.messages(window.controller.conversation_id)[-1]
    assert reply.engine == "" and reply.content == "Hello there, friend."
    window.model_panel.engine.select("big box")
    window.close()
    asked = len(standin.script.paths)
    again = make_window(FakeEngine())                    # a restart
    assert again.model_panel.engine.chosen().name == "big box"
    assert len(standin.script.paths) == asked            # nothing went to the server
    load_fake(qtbot, again)                              # a local model, chosen by name
    assert again.model_panel.engine.chosen() is None
    send_and_wait(qtbot, again, "Still local")
    assert len(standin.script.paths) == asked


def test_a_wrong_key_or_no_server_is_said_in_the_dialog(qtbot, make_window: MakeWindow,
                                                        standin: StandIn,
                                                        file_keyring) -> None:
    window = make_window(FakeEngine())
    dialog = window.model_panel.engine.open_dialog()
    dialog.new_engine()
    dialog.name.setText("box")
    dialog.url.setText(standin.url)
    dialog.key.setText("wrong")
    qtbot.mouseClick(dialog.test_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: "401" in dialog.status.text(), timeout=10_000)
    assert "the key was refused" in dialog.status.text()
    dialog.url.setText("ftp://nowhere")
    dialog.test_connection()
    assert "must start with http:// or https://" in dialog.status.text()
    dialog.name.setText(THIS_COMPUTER)
    dialog.url.setText(standin.url)
    assert not dialog.save_engine() and "local engine's name" in dialog.status.text()


def test_perplexity_and_compare_say_a_remote_engine_has_no_logits(
        qtbot, make_window: MakeWindow, standin: StandIn, file_keyring) -> None:
    window = make_window(FakeEngine())
    add_engine(qtbot, window, standin.url).save_engine()
    window.model_panel.engine.select("big box")
    qtbot.mouseClick(window.model_panel.load_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: window.ctx.client.loaded is not None, timeout=10_000)
    ppl = window.switcher.page("perplexity")
    compare = window.switcher.page("compare")
    for page, what in ((ppl, "so perplexity runs"), (compare, "so a comparison runs")):
        assert page.remote_note.isVisibleTo(page)
        assert page.remote_note.label.text() == (
            f"The remote engine “big box” has no logits, {what} on this computer's engine.")
    ppl.input.editor.setPlainText("Some text to measure.")
    assert not ppl.run() and "has no logits" in ppl.message.text()
    qtbot.mouseClick(ppl.remote_note.button, Qt.MouseButton.LeftButton)
    assert window.model_panel.engine.chosen() is None            # this computer again
    load_fake(qtbot, window)
    assert not ppl.remote_note.isVisibleTo(ppl) and not compare.remote_note.isVisibleTo(compare)


def test_a_busy_server_is_said_and_a_cut_reply_is_kept_marked(
        qtbot, make_window: MakeWindow, standin: StandIn, file_keyring) -> None:
    window = make_window(FakeEngine())
    add_engine(qtbot, window, standin.url).save_engine()
    window.model_panel.engine.select("big box")
    qtbot.mouseClick(window.model_panel.load_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: window.ctx.client.loaded is not None, timeout=10_000)
    standin.script.busy = 1
    send_and_wait(qtbot, window, "Are you there?")
    assert "The server is busy (503: Loading model); asking again in 0.2 s" in \
        window.banner.text()
    standin.script.cut_after = 3
    send_and_wait(qtbot, window, "And now?")
    reply = window.ctx.store.messages(window.controller.conversation_id)[-1]
    assert (reply.content, reply.finish_reason, reply.complete) == (
        "Hello, world", "interrupted", True)
    assert "dropped mid-reply" in window.banner.text()
