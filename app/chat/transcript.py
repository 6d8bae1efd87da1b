"""The chat transcript as a Qt list model: one row per message. GUI thread only.

Streaming updates are narrow: `append_text` emits `dataChanged` for one row and ContentRole
only (`append_reasoning`: ReasoningRole only), so a view repaints one bubble, not the whole
transcript. A reply's thinking is kept apart from its answer (`content`), with how much it
thought and whether its folded "Thinking" block is open (ThinkingOpenRole, settable). A reply
that was regenerated shows one of its turn's alternatives, and knows which of how many
(AlternativesRole); `replace_row` puts another in its place.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from enum import IntEnum
from typing import Any

from PySide6.QtCore import (
    QAbstractListModel,
    QByteArray,
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    Qt,
)

from app.data.records import Alternatives, ThinkingFacts
from app.data.store import StoredMessage

_USER_ROLE = int(Qt.ItemDataRole.UserRole)


class Role(IntEnum):
    RoleRole = _USER_ROLE + 1          # "user" | "assistant" | "system"
    ContentRole = _USER_ROLE + 2       # str (DisplayRole gives the same)
    StatsRole = _USER_ROLE + 3         # dict (GenerationStats.to_dict()) or None
    StreamingRole = _USER_ROLE + 4     # bool: the reply is still growing
    FinishReasonRole = _USER_ROLE + 5  # str or None ("stop", "length", "cancelled", ...)
    MessageIdRole = _USER_ROLE + 6     # int: StoredMessage.id
    ModeRole = _USER_ROLE + 7          # "chat" | "text" | "instruct"
    MessageRole = _USER_ROLE + 8       # the row's TranscriptMessage (replaced when it changes)
    ReasoningRole = _USER_ROLE + 9     # str: the reply's thinking ("" when it did not think)
    ThinkingOpenRole = _USER_ROLE + 10  # bool: its Thinking block is unfolded (setData sets it)
    UnfoldedRole = _USER_ROLE + 11     # bool: a long message shown whole (setData sets it)
    AlternativesRole = _USER_ROLE + 12  # Alternatives: which of its turn's replies is shown


_ROLE_NAMES = {
    Role.RoleRole: b"role",
    Role.ContentRole: b"content",
    Role.StatsRole: b"stats",
    Role.StreamingRole: b"streaming",
    Role.FinishReasonRole: b"finishReason",
    Role.MessageIdRole: b"messageId",
    Role.ModeRole: b"mode",
    Role.MessageRole: b"message",
    Role.ReasoningRole: b"reasoning",
    Role.ThinkingOpenRole: b"thinkingOpen",
    Role.UnfoldedRole: b"unfolded",
    Role.AlternativesRole: b"alternatives",
}


@dataclass(frozen=True)
class TranscriptMessage:
    role: str
    content: str
    message_id: int
    streaming: bool = False
    stats: dict | None = None
    finish_reason: str | None = None
    mode: str = "chat"
    reasoning: str = ""
    thinking: ThinkingFacts = ThinkingFacts()
    thinking_open: bool = False
    unfolded: bool = False           # a long message shown whole ("Show more" clicked)
    alternatives: Alternatives = Alternatives()   # a reply: which of its turn's is shown

    @property
    def still_thinking(self) -> bool:
        """Streaming its thinking, no answer yet."""
        return self.streaming and bool(self.reasoning) and not self.content


def from_stored(m: StoredMessage) -> TranscriptMessage:
    """A stored message as a row shows it (not streaming)."""
    return TranscriptMessage(m.role, m.content, m.id, False, m.stats, m.finish_reason, m.mode,
                             m.reasoning, ThinkingFacts.of(m.stats), alternatives=m.alternatives)


_Index = QModelIndex | QPersistentModelIndex


# What each data role answers, from the row's TranscriptMessage.
_FIELDS: dict[int, str] = {
    Role.RoleRole: "role", Role.StatsRole: "stats", Role.StreamingRole: "streaming",
    Role.FinishReasonRole: "finish_reason", Role.MessageIdRole: "message_id",
    Role.ModeRole: "mode", Role.ReasoningRole: "reasoning",
    Role.ThinkingOpenRole: "thinking_open", Role.UnfoldedRole: "unfolded",
    Role.AlternativesRole: "alternatives"}


class TranscriptModel(QAbstractListModel):
    Role = Role

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._rows: list[TranscriptMessage] = []

    # -- Qt model API ----------------------------------------------------------------------

    def rowCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._rows)

    def data(self, index: _Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or index.parent().isValid():
            return None
        row = index.row()
        if not 0 <= row < len(self._rows):
            return None
        msg = self._rows[row]
        role = int(role)
        if role in (int(Qt.ItemDataRole.DisplayRole), Role.ContentRole):
            return msg.content
        if role == Role.MessageRole:
            return msg
        field = _FIELDS.get(role)
        return getattr(msg, field) if field else None

    def setData(self, index: _Index, value: Any,  # type: ignore[override]
                role: int = Qt.ItemDataRole.EditRole) -> bool:
        """Only ThinkingOpenRole (fold or unfold a reply's Thinking block) and UnfoldedRole
        (show a long message whole, or folded) can be set."""
        if int(role) not in (Role.ThinkingOpenRole, Role.UnfoldedRole) or not index.isValid() \
                or not 0 <= index.row() < len(self._rows):
            return False
        msg = self._rows[index.row()]
        if int(role) == Role.UnfoldedRole:
            if bool(value) == msg.unfolded:
                return False
            self._rows[index.row()] = replace(msg, unfolded=bool(value))
            self._changed(index.row(), [Role.UnfoldedRole])
            return True
        if not msg.reasoning or bool(value) == msg.thinking_open:
            return False
        self._rows[index.row()] = replace(msg, thinking_open=bool(value))
        self._changed(index.row(), [Role.ThinkingOpenRole])
        return True

    def roleNames(self) -> dict[int, QByteArray]:
        names = dict(super().roleNames())
        names.update({int(role): QByteArray(name) for role, name in _ROLE_NAMES.items()})
        return names

    # -- editing (GUI thread) --------------------------------------------------------------

    def set_messages(self, messages: Iterable[StoredMessage]) -> None:
        """Replace the whole transcript (one model reset; loaded messages are not streaming)."""
        rows = [from_stored(m) for m in messages]
        self.beginResetModel()
        self._rows = rows
        self.endResetModel()

    def append_message(self, role: str, content: str, message_id: int, *,
                       streaming: bool = False, mode: str = "chat") -> int:
        """Add a message at the end; returns its row."""
        row = len(self._rows)
        self.beginInsertRows(QModelIndex(), row, row)
        self._rows.append(TranscriptMessage(role, content, message_id, streaming, mode=mode))
        self.endInsertRows()
        return row

    def append_text(self, row: int, text: str) -> None:
        """Append streamed text to a row's content (dataChanged: that row, ContentRole only)."""
        if not text:
            return
        msg = self._row(row)
        self._rows[row] = replace(msg, content=msg.content + text)
        self._changed(row, [Role.ContentRole])

    def append_reasoning(self, row: int, text: str, tokens: int, seconds: float) -> None:
        """Append streamed thinking, with how far it has got (dataChanged: ReasoningRole)."""
        msg = self._row(row)
        self._rows[row] = replace(msg, reasoning=msg.reasoning + text,
                                  thinking=ThinkingFacts(tokens, seconds))
        self._changed(row, [Role.ReasoningRole])

    def set_reasoning(self, row: int, reasoning: str, thinking: ThinkingFacts) -> None:
        """Replace a row's thinking (the engine's final text) and its facts."""
        msg = self._row(row)
        if (reasoning, thinking) != (msg.reasoning, msg.thinking):
            self._rows[row] = replace(msg, reasoning=reasoning, thinking=thinking)
            self._changed(row, [Role.ReasoningRole])

    def set_text(self, row: int, text: str) -> None:
        """Replace a row's content (e.g. the engine trimmed a stop string); ContentRole only."""
        msg = self._row(row)
        if text != msg.content:
            self._rows[row] = replace(msg, content=text)
            self._changed(row, [Role.ContentRole])

    def finish(self, row: int, stats: dict | None, reason: str | None) -> None:
        """Mark a streaming row finished, with its stats and finish reason."""
        msg = self._row(row)
        self._rows[row] = replace(msg, streaming=False, stats=stats, finish_reason=reason)
        self._changed(row, [Role.StreamingRole, Role.StatsRole, Role.FinishReasonRole])

    def replace_row(self, row: int, message: TranscriptMessage) -> None:
        """Show `message` in row `row` instead (another alternative of a reply; every role
        changes)."""
        self._row(row)
        self._rows[row] = message
        index = self.index(row, 0)
        self.dataChanged.emit(index, index, [])

    def remove_from(self, row: int) -> None:
        """Remove this row and every row after it (no-op past the end)."""
        if row < 0:
            raise IndexError(f"row {row} is out of range")
        if row >= len(self._rows):
            return
        self.beginRemoveRows(QModelIndex(), row, len(self._rows) - 1)
        del self._rows[row:]
        self.endRemoveRows()

    # -- queries ---------------------------------------------------------------------------

    def message_at(self, row: int) -> TranscriptMessage:
        return self._row(row)

    def last_row_of_role(self, role: str) -> int:
        """The last row whose message has this role, or -1 when there is none."""
        for row in range(len(self._rows) - 1, -1, -1):
            if self._rows[row].role == role:
                return row
        return -1

    def row_of_message(self, message_id: int) -> int:
        """The row showing StoredMessage `message_id`, or -1."""
        for row in range(len(self._rows) - 1, -1, -1):
            if self._rows[row].message_id == message_id:
                return row
        return -1

    # -- helpers ---------------------------------------------------------------------------

    def _row(self, row: int) -> TranscriptMessage:
        if not 0 <= row < len(self._rows):
            raise IndexError(f"row {row} is out of range (0..{len(self._rows) - 1})")
        return self._rows[row]

    def _changed(self, row: int, roles: list[Role]) -> None:
        index = self.index(row, 0)
        self.dataChanged.emit(index, index, [int(r) for r in roles])
