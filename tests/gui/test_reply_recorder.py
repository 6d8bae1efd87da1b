"""ReplyRecorder: one way a streaming reply reaches the store, for chat and Text/Instruct runs
alike: saved as it grows (not fsynced), finished with its stats, deleted when it fails empty."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.chat.controller import ChatController
from app.chat.mode_run import ModeRun
from app.chat.reply_recorder import SAVE_INTERVAL_MS, ReplyRecorder
from app.chat.request_builder import RunSettings, text_request
from app.chat.transcript import TranscriptModel
from app.data.store import Store
from app.engine.client import EngineClient
from app.engine.worker import LoadSpec
from inference.engine.requests import Mode
from inference.engine.sampling import SamplingParams
from tests.support.fake_engine import FakeEngine

pytestmark = pytest.mark.gui
SETTINGS = RunSettings(SamplingParams(temperature=0, max_tokens=400), "", "fake")


class CountingStore(Store):
    """A real Store that also notes which saves were durable."""

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self.saves: list[tuple[str, bool]] = []

    def update_message(self, msg_id: int, content: str, **kw) -> bool:  # type: ignore[override]
        self.saves.append((content, kw.get("durable", True)))
        return super().update_message(msg_id, content, **kw)


@pytest.fixture
def store(tmp_path: Path):
    store = CountingStore(tmp_path / "db.sqlite3")
    yield store
    store.close()


def _exchange(store: Store) -> tuple[int, int, int]:
    conv = store.create_conversation()
    user = store.add_message(conv.id, "user", "Hi")
    reply = store.add_message(conv.id, "assistant", "", complete=False)
    return conv.id, user.id, reply.id


def test_a_long_reply_is_saved_as_it_grows(qtbot, store: CountingStore) -> None:
    conv, user, msg = _exchange(store)
    recorder = ReplyRecorder(store)
    reply = recorder.start(conv, msg, user)
    recorder.add(reply, "Once")
    qtbot.wait(SAVE_INTERVAL_MS + 250)
    assert store.messages(conv)[1].content == "Once" and not store.messages(conv)[1].complete
    recorder.add(reply, " upon a time")
    qtbot.wait(SAVE_INTERVAL_MS + 250)
    assert store.messages(conv)[1].content == "Once upon a time"
    assert store.saves == [("Once", False), ("Once upon a time", False)]   # no fsync yet
    recorder.finish(reply, "stop")
    stored = store.messages(conv)[1]
    assert stored.complete and stored.finish_reason == "stop"
    assert store.saves[-1] == ("Once upon a time", True) and recorder.current is None
    count = len(store.saves)
    qtbot.wait(SAVE_INTERVAL_MS + 100)
    assert len(store.saves) == count                                    # the timer stopped


def test_a_reply_that_fails_empty_is_deleted_with_its_prompt(qtbot, store: Store) -> None:
    conv, user, msg = _exchange(store)
    recorder = ReplyRecorder(store)
    assert not recorder.fail(recorder.start(conv, msg, user))
    assert store.messages(conv) == []
    conv, user, msg = _exchange(store)                 # a regenerated reply: only itself
    assert not recorder.fail(recorder.start(conv, msg))
    assert [m.id for m in store.messages(conv)] == [user]


def test_a_reply_that_fails_with_text_is_kept_as_an_error(qtbot, store: Store) -> None:
    conv, user, msg = _exchange(store)
    recorder = ReplyRecorder(store)
    reply = recorder.start(conv, msg, user)
    recorder.add(reply, "Half a")
    assert recorder.fail(reply)
    stored = store.messages(conv)[1]
    assert stored.content == "Half a" and stored.complete and stored.finish_reason == "error"


@pytest.fixture
def client(qtbot, tmp_path: Path):
    engine = FakeEngine(words=[f" w{i}" for i in range(60)], delay=0.02)
    client = EngineClient(lambda: engine, resolver=Path)
    with qtbot.waitSignal(client.modelLoaded, timeout=5000):
        client.load(LoadSpec(str(tmp_path / "m.gguf"), n_ctx=1024))
    client.engine = engine
    yield client
    client.shutdown()


def test_a_text_run_and_a_chat_reply_go_through_the_same_recorder(
        qtbot, store: CountingStore, client: EngineClient) -> None:
    controller = ChatController(store, TranscriptModel(), client, lambda: SETTINGS)
    run = ModeRun(store, client, Mode.TEXT.value)
    for start, conv_id, recorder in (
            (lambda: controller.send("Go"), lambda: controller.conversation_id,
             controller.recorder),
            (lambda: run.start(text_request("Once", SETTINGS), "Once", SETTINGS),
             lambda: run.conv_id, run.recorder)):
        assert isinstance(recorder, ReplyRecorder)
        store.saves.clear()
        assert start()
        reply = recorder.current
        assert reply is not None and reply.msg_id == store.messages(conv_id())[1].id
        qtbot.waitUntil(lambda r=recorder: not client.busy and r.current is None,
                        timeout=10000)
        stored = store.messages(conv_id())[1]
        assert stored.complete and stored.finish_reason == "stop"
        assert stored.content == reply.text and stored.stats["output_tokens"] == 60
        assert (False in {durable for _, durable in store.saves}   # partial saves went first
                and store.saves[-1] == (stored.content, True))


def test_a_text_run_that_fails_empty_leaves_no_conversation(
        qtbot, store: Store, client: EngineClient) -> None:
    client.engine.fail_generate = "too long"  # type: ignore[attr-defined]
    run = ModeRun(store, client, Mode.TEXT.value)
    failed: list[str] = []
    run.failed.connect(failed.append)
    assert run.start(text_request("Once", SETTINGS), "Once", SETTINGS)
    qtbot.waitUntil(lambda: bool(failed), timeout=5000)
    assert run.conv_id == 0 and store.list_conversations() == [] and not run.busy
