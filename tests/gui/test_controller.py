"""ChatController + EngineClient + EngineWorker on a scripted fake engine (fast, no model)."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.chat.controller import ChatController
from app.chat.request_builder import RunSettings
from app.chat.transcript import TranscriptModel
from app.data.store import Store
from app.engine.client import EngineClient
from app.engine.worker import LoadSpec
from inference.engine.requests import Mode
from inference.engine.sampling import SamplingParams
from tests.support.fake_engine import FakeEngine

pytestmark = pytest.mark.gui


@pytest.fixture
def engine() -> FakeEngine:
    return FakeEngine()


@pytest.fixture
def rig(qtbot, tmp_path: Path, engine: FakeEngine):
    client = EngineClient(lambda: engine, resolver=Path)
    store = Store(tmp_path / "db.sqlite3")
    transcript = TranscriptModel()
    settings = RunSettings(SamplingParams(temperature=0, max_tokens=50), "Be brief.", "fake")
    controller = ChatController(store, transcript, client, lambda: settings)
    with qtbot.waitSignal(client.modelLoaded, timeout=5000):
        client.load(LoadSpec(str(tmp_path / "m.gguf"), n_ctx=1024))
    yield controller
    client.shutdown()
    store.close()


def _wait_idle(qtbot, controller: ChatController) -> None:
    qtbot.waitUntil(lambda: not controller.busy and not controller.client.busy, timeout=5000)


def test_send_streams_and_saves(qtbot, rig: ChatController, engine: FakeEngine) -> None:
    assert rig.send("Hi there")
    assert rig.busy
    _wait_idle(qtbot, rig)
    t = rig.transcript
    assert t.rowCount() == 2
    reply = t.message_at(1)
    assert reply.content == "Hello there, friend."
    assert reply.finish_reason == "stop" and not reply.streaming
    assert reply.stats["output_tokens"] == 5
    req = engine.requests[-1]
    assert req.mode is Mode.CHAT and req.system == "Be brief."
    assert [m.content for m in req.messages] == ["Hi there"]
    stored = rig.store.messages(rig.conversation_id)
    assert [m.role for m in stored] == ["user", "assistant"]
    assert stored[1].complete and stored[1].content == "Hello there, friend."
    assert rig.store.get_conversation(rig.conversation_id).title == "Hi there"


def test_stop_keeps_partial(qtbot, rig: ChatController, engine: FakeEngine) -> None:
    engine.words = [f" w{i}" for i in range(200)]
    engine.delay = 0.02
    rig.send("Talk")
    qtbot.waitUntil(lambda: len(rig.transcript.message_at(1).content) > 6, timeout=5000)
    rig.stop()
    _wait_idle(qtbot, rig)
    reply = rig.transcript.message_at(1)
    assert reply.finish_reason == "cancelled"
    assert 0 < len(reply.content.split()) < 200
    stored = rig.store.messages(rig.conversation_id)[1]
    assert stored.content == reply.content and stored.finish_reason == "cancelled"


def test_regenerate_and_edit(qtbot, rig: ChatController, engine: FakeEngine) -> None:
    rig.send("First")
    _wait_idle(qtbot, rig)
    engine.words = ["Again"]
    assert rig.regenerate()
    _wait_idle(qtbot, rig)
    assert rig.transcript.rowCount() == 2
    assert rig.transcript.message_at(1).content == "Again"
    assert [m.content for m in engine.requests[-1].messages] == ["First"]
    rig.send("Second")
    _wait_idle(qtbot, rig)
    assert rig.transcript.rowCount() == 4
    engine.words = ["Edited"]
    assert rig.edit_and_resend(0, "Changed first")
    _wait_idle(qtbot, rig)
    assert [rig.transcript.message_at(r).content for r in range(2)] == ["Changed first", "Edited"]
    assert [m.content for m in engine.requests[-1].messages] == ["Changed first"]
    assert len(rig.store.messages(rig.conversation_id)) == 2


def test_failure_restores_draft(qtbot, rig: ChatController, engine: FakeEngine) -> None:
    engine.fail_generate = "too long"
    drafts: list[str] = []
    errors: list[str] = []
    rig.draftRestored.connect(drafts.append)
    rig.errorOccurred.connect(errors.append)
    rig.send("A very long question")
    _wait_idle(qtbot, rig)
    assert drafts == ["A very long question"]
    assert "5000 tokens" in errors[0]
    assert rig.transcript.rowCount() == 0
    assert rig.store.messages(rig.conversation_id) == []


def test_partial_saved_while_streaming(qtbot, rig: ChatController, engine: FakeEngine) -> None:
    engine.words = [f" w{i}" for i in range(100)]
    engine.delay = 0.05
    rig.send("Go")
    qtbot.wait(1200)
    stored = rig.store.messages(rig.conversation_id)[1]
    assert not stored.complete and len(stored.content) > 0
    rig.shutdown()
    stored = rig.store.messages(rig.conversation_id)[1]
    assert stored.complete and stored.finish_reason == "cancelled"
