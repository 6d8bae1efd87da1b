"""The "Past comparisons" tab: every saved comparison (`inference.compare.history`), newest
first; Open puts one back into the Results table and chart, Delete removes its file."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from app.shell.widgets import row_of
from inference.compare.history import CompareHistory, HistoryError

PATH_ROLE = Qt.ItemDataRole.UserRole


class HistoryPanel(QWidget):
    opened = Signal(object)                  # CompareResult
    errorOccurred = Signal(str)

    def __init__(self, history: CompareHistory, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.history = history
        layout = QVBoxLayout(self)
        self.note = QLabel(f"Every finished comparison is saved in {history.folder}")
        self.note.setObjectName("mutedLabel")
        self.note.setWordWrap(True)
        layout.addWidget(self.note)
        self.list = QListWidget()
        self.list.setAccessibleName("Past comparisons")
        self.list.itemActivated.connect(lambda _item: self.open_selected())
        self.list.currentRowChanged.connect(self._update_buttons)
        layout.addWidget(self.list, 1)
        self.open_button = QPushButton("Open")
        self.open_button.setToolTip("Show this comparison in the Results tab")
        self.open_button.clicked.connect(self.open_selected)
        self.delete_button = QPushButton("Delete")
        self.delete_button.clicked.connect(self.delete_selected)
        refresh = QPushButton("Refresh")
        refresh.clicked.connect(self.refresh)
        layout.addLayout(row_of(self.open_button, self.delete_button, None, refresh))
        self.refresh()

    def paths(self) -> list[Path]:
        return [Path(self.list.item(i).data(PATH_ROLE)) for i in range(self.list.count())]

    def refresh(self, select: Path | None = None) -> None:
        self.list.clear()
        for saved in self.history.list():
            item = QListWidgetItem(saved.label)
            item.setData(PATH_ROLE, str(saved.path))
            item.setToolTip(str(saved.path) + ("\n" + ", ".join(saved.files)
                                               if saved.files else ""))
            self.list.addItem(item)
        if select is not None and select in self.paths():
            self.list.setCurrentRow(self.paths().index(select))
        self._update_buttons()

    def open_selected(self) -> None:
        item = self.list.currentItem()
        if item is not None:
            self.open_path(Path(item.data(PATH_ROLE)))

    def open_path(self, path: Path) -> None:
        try:
            result = self.history.load(path)
        except HistoryError as exc:
            self.errorOccurred.emit(f"Could not open the comparison: {exc}")
            return
        self.opened.emit(result)

    def delete_selected(self) -> None:
        item = self.list.currentItem()
        if item is None:
            return
        try:
            self.history.delete(Path(item.data(PATH_ROLE)))
        except (OSError, HistoryError) as exc:
            self.errorOccurred.emit(f"Could not delete the comparison: {exc}")
        self.refresh()

    def _update_buttons(self, *_args: object) -> None:
        chosen = self.list.currentItem() is not None
        self.open_button.setEnabled(chosen)
        self.delete_button.setEnabled(chosen)
