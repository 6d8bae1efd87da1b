"""A reply's thinking in the store: written apart from its answer as it streams and at the end,
read back, restored by undo, and not lost when a later save leaves it out."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.data.records import ThinkingFacts
from app.data.store import Store


@pytest.fixture
def store(tmp_path: Path):
    with Store(tmp_path / "parley.sqlite3") as s:
        yield s


def test_thinking_is_saved_apart_from_the_answer(store: Store, tmp_path: Path) -> None:
    conv = store.create_conversation()
    store.add_message(conv.id, "user", "Is 91 prime?")
    reply = store.add_message(conv.id, "assistant", "", complete=False)
    assert reply.reasoning == ""
    store.update_message(reply.id, "", reasoning="7 × 13 = 91", complete=False, durable=False)
    assert store.messages(conv.id)[1].reasoning == "7 × 13 = 91"
    store.update_message(reply.id, "No: 91 = 7 × 13.", complete=False)   # answer only
    got = store.messages(conv.id)[1]
    assert (got.content, got.reasoning) == ("No: 91 = 7 × 13.", "7 × 13 = 91")
    stats = ThinkingFacts(12, 0.4).added_to({"output_tokens": 20})
    store.update_message(reply.id, got.content, complete=True, stats=stats,
                         finish_reason="stop", reasoning="7 × 13 = 91.")
    store.close()
    with Store(tmp_path / "parley.sqlite3") as again:
        final = again.messages(conv.id)[1]
        assert (final.content, final.reasoning, final.complete) == (
            "No: 91 = 7 × 13.", "7 × 13 = 91.", True)
        assert ThinkingFacts.of(final.stats) == ThinkingFacts(12, 0.4)
        assert final.stats["output_tokens"] == 20


def test_undo_of_a_delete_brings_the_thinking_back(store: Store) -> None:
    conv = store.create_conversation("t")
    store.add_message(conv.id, "user", "q")
    store.add_message(conv.id, "assistant", "a", reasoning="r")
    before = store.messages(conv.id)
    store.restore(store.delete(conv.id))
    assert store.messages(conv.id) == before and before[1].reasoning == "r"


def test_thinking_facts_read_only_what_they_understand() -> None:
    assert ThinkingFacts.of(None) == ThinkingFacts()
    assert ThinkingFacts.of({"reasoning_tokens": "many", "reasoning_s": "slow"}) == \
        ThinkingFacts()
    assert ThinkingFacts.of({"reasoning_tokens": 3, "reasoning_s": 2}) == ThinkingFacts(3, 2.0)
    assert ThinkingFacts(312, 4.06).describe() == "312 tokens · 4.1 s"
    assert ThinkingFacts(0, None).describe() == ""


def test_the_reply_recorder_saves_thinking_as_it_streams_and_keeps_a_failed_thought(
        qtbot, store: Store) -> None:
    from app.chat.reply_recorder import SAVE_INTERVAL_MS, ReplyRecorder

    conv = store.create_conversation()
    user = store.add_message(conv.id, "user", "Hi")
    reply = store.add_message(conv.id, "assistant", "", complete=False)
    recorder = ReplyRecorder(store)
    record = recorder.start(conv.id, reply.id, user.id)
    recorder.add_reasoning(record, "Let me", 2, 0.05)
    recorder.add_reasoning(record, " think.", 4, 0.11)
    qtbot.wait(SAVE_INTERVAL_MS + 150)                    # the partial save, on its timer
    saved = store.messages(conv.id)[1]
    assert (saved.content, saved.reasoning, saved.complete) == ("", "Let me think.", False)
    assert recorder.fail(record)                          # it thought: kept, as an error
    kept = store.messages(conv.id)
    assert [m.role for m in kept] == ["user", "assistant"]
    assert (kept[1].reasoning, kept[1].finish_reason, kept[1].complete) == (
        "Let me think.", "error", True)
