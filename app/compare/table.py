"""The comparison's figures as a sortable table model (text from `compare.export`'s columns)."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt
from PySide6.QtGui import QFont

from inference.compare.export import DISPLAY_COLUMNS, Column
from inference.compare.result import CompareResult, FileRow

SORT_ROLE = Qt.ItemDataRole.UserRole + 1        # the raw number (or text) a column sorts by
NUMERIC_FROM = 2                                # columns from here on are right-aligned numbers

Index = QModelIndex | QPersistentModelIndex


class CompareTableModel(QAbstractTableModel):
    def __init__(self, columns: tuple[Column, ...] = DISPLAY_COLUMNS, parent: Any = None
                 ) -> None:
        super().__init__(parent)
        self.columns = columns
        self.result: CompareResult | None = None

    @property
    def rows(self) -> tuple[FileRow, ...]:
        return self.result.rows if self.result is not None else ()

    def set_result(self, result: CompareResult | None) -> None:
        self.beginResetModel()
        self.result = result
        self.endResetModel()

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008, N802
        return 0 if parent.isValid() else len(self.rows)

    def columnCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008, N802
        return 0 if parent.isValid() else len(self.columns)

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        row = self.rows[index.row()]
        column = self.columns[index.column()]
        if role == Qt.ItemDataRole.DisplayRole:
            return column.text(row)
        if role == SORT_ROLE:
            value = getattr(row, column.key)
            return float("-inf") if value is None else value
        if role == Qt.ItemDataRole.TextAlignmentRole and index.column() >= NUMERIC_FROM:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        if role == Qt.ItemDataRole.FontRole and row.is_reference:
            font = QFont()
            font.setBold(True)
            return font
        if role == Qt.ItemDataRole.ToolTipRole:
            if column.key == "quant" and row.requantized_from:
                return (f"Requantized from {row.requantized_from}: the errors of both "
                        "quantizations add up.")
            return column.tooltip or None
        return None

    def headerData(self, section: int, orientation: Qt.Orientation,  # noqa: N802
                   role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if orientation != Qt.Orientation.Horizontal or not 0 <= section < len(self.columns):
            return None
        if role == Qt.ItemDataRole.DisplayRole:
            return self.columns[section].header
        if role == Qt.ItemDataRole.ToolTipRole:
            return self.columns[section].tooltip or None
        return None
