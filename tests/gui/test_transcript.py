"""TranscriptModel and ConversationListModel: Qt model contracts and narrow updates."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import QModelIndex, Qt

from app.chat.conversation_list import ConversationListModel, ConversationRole
from app.chat.transcript import Role, TranscriptMessage, TranscriptModel
from app.data.store import Store, StoredMessage


def _stored(n: int, conv_id: int = 1) -> list[StoredMessage]:
    return [StoredMessage(id=i + 1, conversation_id=conv_id,
                          role="user" if i % 2 == 0 else "assistant", content=f"message {i}",
                          mode="chat", model="m.gguf", sampling={},
                          stats=None if i % 2 == 0 else {"output_tokens": i}, complete=True,
                          finish_reason=None if i % 2 == 0 else "stop", created_at=float(i))
            for i in range(n)]


@pytest.fixture
def model(qtbot) -> TranscriptModel:
    return TranscriptModel()


def test_model_tester_empty_and_filled(model: TranscriptModel, qtmodeltester) -> None:
    qtmodeltester.check(model)
    model.set_messages(_stored(5))
    qtmodeltester.check(model)
    row = model.append_message("assistant", "", 99, streaming=True)
    model.append_text(row, "partial")
    model.finish(row, {"gen_tps": 10.0}, "stop")
    model.remove_from(2)
    qtmodeltester.check(model)


def test_roles_and_role_names(model: TranscriptModel) -> None:
    model.set_messages(_stored(2))
    index = model.index(1, 0)
    assert index.data() == "message 1"
    assert index.data(Role.ContentRole) == "message 1"
    assert index.data(Role.RoleRole) == "assistant"
    assert index.data(Role.StatsRole) == {"output_tokens": 1}
    assert index.data(Role.StreamingRole) is False
    assert index.data(Role.FinishReasonRole) == "stop"
    assert index.data(Role.MessageIdRole) == 2
    assert index.data(Role.ModeRole) == "chat"
    assert Role.RoleRole == int(Qt.ItemDataRole.UserRole) + 1
    names = {bytes(v).decode() for v in model.roleNames().values()}
    assert {"display", "role", "content", "stats", "streaming", "finishReason", "messageId",
            "mode"} <= names
    assert TranscriptModel.Role is Role


def test_append_text_emits_one_row_content_role_only(model: TranscriptModel, qtbot) -> None:
    model.set_messages(_stored(3))
    row = model.append_message("assistant", "", 10, streaming=True, mode="text")
    assert row == 3
    assert model.message_at(row) == TranscriptMessage("assistant", "", 10, True, mode="text")
    seen: list[tuple[int, int, list[int]]] = []
    model.dataChanged.connect(lambda tl, br, roles: seen.append((tl.row(), br.row(),
                                                                 list(roles))))
    with qtbot.waitSignal(model.dataChanged, timeout=1000) as blocker:
        model.append_text(row, "Hel")
    top_left, bottom_right, roles = blocker.args
    assert top_left.row() == bottom_right.row() == row
    assert list(roles) == [Role.ContentRole]
    model.append_text(row, "lo")
    model.append_text(row, "")                    # nothing to add: no signal
    assert seen == [(row, row, [Role.ContentRole])] * 2
    assert model.message_at(row).content == "Hello"
    model.set_text(row, "Hell")                   # e.g. a stop string trimmed at the end
    model.set_text(row, "Hell")                   # unchanged: no signal
    assert seen[-1] == (row, row, [Role.ContentRole]) and len(seen) == 3
    assert model.message_at(row).content == "Hell"
    assert model.index(row, 0).data(Role.StreamingRole) is True


def test_finish(model: TranscriptModel, qtbot) -> None:
    row = model.append_message("assistant", "hi", 1, streaming=True)
    with qtbot.waitSignal(model.dataChanged, timeout=1000) as blocker:
        model.finish(row, {"output_tokens": 1}, "length")
    assert set(blocker.args[2]) == {Role.StreamingRole, Role.StatsRole, Role.FinishReasonRole}
    msg = model.message_at(row)
    assert (msg.streaming, msg.stats, msg.finish_reason) == (False, {"output_tokens": 1},
                                                             "length")


def test_append_and_remove_signal_rows(model: TranscriptModel, qtbot) -> None:
    model.set_messages(_stored(4))
    with qtbot.waitSignal(model.rowsInserted, timeout=1000) as inserted:
        assert model.append_message("user", "again", 50) == 4
    assert inserted.args[1:] == [4, 4]
    with qtbot.waitSignal(model.rowsRemoved, timeout=1000) as removed:
        model.remove_from(2)
    assert removed.args[1:] == [2, 4]
    assert model.rowCount() == 2
    model.remove_from(10)                         # past the end: nothing to do
    assert model.rowCount() == 2
    with pytest.raises(IndexError):
        model.remove_from(-1)
    with pytest.raises(IndexError):
        model.append_text(5, "x")
    with pytest.raises(IndexError):
        model.message_at(2)


def test_last_row_of_role_and_row_of_message(model: TranscriptModel) -> None:
    assert model.last_row_of_role("user") == -1
    model.set_messages(_stored(5))
    assert model.last_row_of_role("user") == 4
    assert model.last_row_of_role("assistant") == 3
    assert model.last_row_of_role("system") == -1
    assert model.row_of_message(2) == 1
    assert model.row_of_message(404) == -1


def test_set_messages_thousand_rows_is_one_reset(model: TranscriptModel) -> None:
    model.set_messages(_stored(3))
    resets: list[None] = []
    changes: list[object] = []
    model.modelReset.connect(lambda: resets.append(None))
    for signal in (model.rowsInserted, model.rowsRemoved, model.dataChanged):
        signal.connect(lambda *args: changes.append(args))
    model.set_messages(_stored(1000))
    assert len(resets) == 1 and changes == []        # one reset, no per-row signals
    assert model.rowCount() == 1000
    assert model.rowCount(model.index(0, 0)) == 0   # a list: rows have no children
    assert model.index(999, 0).data() == "message 999"


def test_out_of_range_index_gives_none(model: TranscriptModel) -> None:
    assert model.data(QModelIndex()) is None
    model.set_messages(_stored(1))
    assert model.index(0, 0).data(Qt.ItemDataRole.DecorationRole) is None


# -- conversation list -----------------------------------------------------------------------

@pytest.fixture
def store(tmp_path: Path):
    with Store(tmp_path / "parley.sqlite3") as s:
        yield s


def test_conversation_list_model(store: Store, qtbot, qtmodeltester) -> None:
    list_model = ConversationListModel(store)
    qtmodeltester.check(list_model)
    first = store.create_conversation("Tides")
    second = store.create_conversation("Taxes")
    store.add_message(second.id, "user", "about capital gains")
    list_model.refresh()
    qtmodeltester.check(list_model)
    assert list_model.rowCount() == 2
    assert list_model.conversation_at(0).id == second.id
    index = list_model.index(1, 0)
    assert index.data() == "Tides"
    assert index.data(ConversationRole.TitleRole) == "Tides"
    assert index.data(ConversationRole.IdRole) == first.id
    assert index.data(ConversationRole.UpdatedAtRole) == pytest.approx(first.updated_at)
    assert index.data(ConversationRole.ModeRole) == "chat"
    names = {bytes(v).decode() for v in list_model.roleNames().values()}
    assert {"conversationId", "title", "updatedAt"} <= names
    assert list_model.row_of(first.id) == 1
    with qtbot.waitSignal(list_model.modelReset, timeout=1000):
        list_model.refresh("CAPITAL")
    assert [list_model.conversation_at(r).id for r in range(list_model.rowCount())] == [
        second.id]
    assert list_model.search == "CAPITAL"
    assert list_model.row_of(first.id) == -1
    with pytest.raises(IndexError):
        list_model.conversation_at(1)
