"""The Server page's request log: the newest requests first, as a table model (bounded)."""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from typing import Any, NamedTuple

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt

from inference.server.request_log import RequestRecord

MAX_ROWS = 1000              # older requests leave the log (the server's own log keeps all)
Index = QModelIndex | QPersistentModelIndex


class LogColumn(NamedTuple):
    header: str
    text: Callable[[RequestRecord], str]
    tooltip: str = ""


def _opt(value: float | None, fmt: str) -> str:
    return "—" if value is None else format(value, fmt)


COLUMNS = (
    LogColumn("Time", lambda r: time.strftime("%H:%M:%S", time.localtime(r.finished_at))),
    LogColumn("Endpoint", lambda r: f"{r.method} {r.path}"),
    LogColumn("Status", lambda r: str(r.status)),
    LogColumn("Prompt", lambda r: f"{r.prompt_tokens:,}" + (f" ({r.cached_tokens:,} cached)"
                                                          if r.cached_tokens else ""),
              "Prompt tokens, and how many of them were reused from the slot's cache"),
    LogColumn("Output", lambda r: f"{r.output_tokens:,}", "Tokens generated"),
    LogColumn("TTFT", lambda r: "—" if r.ttft_s is None else f"{r.ttft_s * 1000:,.0f} ms",
              "Time to first token: from the request's arrival to its first token"),
    LogColumn("tok/s", lambda r: _opt(r.gen_tps, ".1f"),
              "This request's generation speed (other requests share the engine)"),
    LogColumn("Ended", lambda r: r.finish, "stop, length (max tokens), cancelled, or the error"),
)
NUMERIC = {2, 3, 4, 5, 6}


class RequestLogModel(QAbstractTableModel):
    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self.records: deque[RequestRecord] = deque(maxlen=MAX_ROWS)

    def add(self, record: RequestRecord) -> None:
        """Put a request at the top (the oldest leaves when the log is full)."""
        if len(self.records) == MAX_ROWS:
            self.beginRemoveRows(QModelIndex(), MAX_ROWS - 1, MAX_ROWS - 1)
            self.records.pop()
            self.endRemoveRows()
        self.beginInsertRows(QModelIndex(), 0, 0)
        self.records.appendleft(record)
        self.endInsertRows()

    def clear(self) -> None:
        self.beginResetModel()
        self.records.clear()
        self.endResetModel()

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008, N802
        return 0 if parent.isValid() else len(self.records)

    def columnCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008, N802
        return 0 if parent.isValid() else len(COLUMNS)

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        record = self.records[index.row()]
        if role == Qt.ItemDataRole.DisplayRole:
            return COLUMNS[index.column()].text(record)
        if role == Qt.ItemDataRole.TextAlignmentRole and index.column() in NUMERIC:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        return None

    def headerData(self, section: int, orientation: Qt.Orientation,  # noqa: N802
                   role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if orientation != Qt.Orientation.Horizontal or not 0 <= section < len(COLUMNS):
            return None
        if role == Qt.ItemDataRole.DisplayRole:
            return COLUMNS[section].header
        if role == Qt.ItemDataRole.ToolTipRole:
            return COLUMNS[section].tooltip or None
        return None
