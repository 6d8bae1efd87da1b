"""The sidebar's list of conversations, newest first, as a Qt list model. GUI thread only."""

from __future__ import annotations

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

from app.data.store import Conversation, Store

_USER_ROLE = int(Qt.ItemDataRole.UserRole)


class ConversationRole(IntEnum):
    IdRole = _USER_ROLE + 1         # int
    TitleRole = _USER_ROLE + 2      # str (DisplayRole gives the same)
    UpdatedAtRole = _USER_ROLE + 3  # float, seconds since the epoch
    ModeRole = _USER_ROLE + 4       # "chat" | "text" | "instruct"


_ROLE_NAMES = {
    ConversationRole.IdRole: b"conversationId",
    ConversationRole.TitleRole: b"title",
    ConversationRole.UpdatedAtRole: b"updatedAt",
    ConversationRole.ModeRole: b"mode",
}

_Index = QModelIndex | QPersistentModelIndex


class ConversationListModel(QAbstractListModel):
    Role = ConversationRole

    def __init__(self, store: Store, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._store = store
        self._rows: list[Conversation] = []
        self._search = ""

    @property
    def search(self) -> str:
        """The search text of the last refresh."""
        return self._search

    def refresh(self, search: str = "") -> None:
        """Reload from the store (one model reset), keeping only conversations that match."""
        rows = self._store.list_conversations(search)
        self.beginResetModel()
        self._search = search
        self._rows = rows
        self.endResetModel()

    def conversation_at(self, row: int) -> Conversation:
        if not 0 <= row < len(self._rows):
            raise IndexError(f"row {row} is out of range (0..{len(self._rows) - 1})")
        return self._rows[row]

    def row_of(self, conv_id: int) -> int:
        """The row showing conversation `conv_id`, or -1 (e.g. filtered out by the search)."""
        for row, conv in enumerate(self._rows):
            if conv.id == conv_id:
                return row
        return -1

    # -- Qt model API ----------------------------------------------------------------------

    def rowCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._rows)

    def data(self, index: _Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or not 0 <= index.row() < len(self._rows):
            return None
        conv = self._rows[index.row()]
        role = int(role)
        if role in (int(Qt.ItemDataRole.DisplayRole), int(Qt.ItemDataRole.ToolTipRole),
                    ConversationRole.TitleRole):
            return conv.title
        if role == ConversationRole.IdRole:
            return conv.id
        if role == ConversationRole.UpdatedAtRole:
            return conv.updated_at
        if role == ConversationRole.ModeRole:
            return conv.mode
        return None

    def roleNames(self) -> dict[int, QByteArray]:
        names = dict(super().roleNames())
        names.update({int(role): QByteArray(name) for role, name in _ROLE_NAMES.items()})
        return names
