"""The model panel's Engine row: "This computer" or a saved remote engine, and "Engines…"."""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QPushButton, QWidget

from app.remote.dialog import EnginesDialog
from app.remote.saved import THIS_COMPUTER, EngineBook, SavedEngine
from inference.remote.endpoint import RemoteEndpoint


class EngineRow(QWidget):
    changed = Signal()                     # another engine was chosen (or the list changed)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.book: EngineBook | None = None
        self.dialog: EnginesDialog | None = None
        self.picker = QComboBox()
        self.picker.setObjectName("enginePicker")
        self.picker.setAccessibleName("Engine")
        self.picker.setToolTip("Which engine answers: this computer, or a remote server you "
                               "saved (llama-server, vLLM, Ollama, parley serve …)")
        self.picker.addItem(THIS_COMPUTER, "")
        self.picker.currentIndexChanged.connect(self._picked)
        self.manage = QPushButton("Engines…")
        self.manage.setAccessibleName("Manage remote engines")
        self.manage.clicked.connect(self.open_dialog)
        self.manage.setEnabled(False)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.picker, 1)
        layout.addWidget(self.manage)

    def bind(self, book: EngineBook) -> None:
        """Show `book`'s engines, with the one chosen last selected."""
        self.book = book
        self.manage.setEnabled(True)
        self._fill(book.chosen)

    def chosen(self) -> SavedEngine | None:
        """The remote engine selected; None for this computer."""
        name = self.picker.currentData() or ""
        return self.book.find(name) if self.book is not None and name else None

    def endpoint(self) -> RemoteEndpoint | None:
        engine = self.chosen()
        return self.book.endpoint(engine) if engine is not None and self.book else None

    def select(self, name: str) -> None:
        index = self.picker.findData(name)
        self.picker.setCurrentIndex(max(index, 0))

    def open_dialog(self) -> EnginesDialog | None:
        if self.book is None:
            return None
        if self.dialog is None:
            self.dialog = EnginesDialog(self.book, self)
            self.dialog.enginesChanged.connect(lambda: self._fill(self.picker.currentData()))
        self.dialog.open()
        return self.dialog

    def _fill(self, select: str | None) -> None:
        self.picker.blockSignals(True)
        self.picker.clear()
        self.picker.addItem(THIS_COMPUTER, "")
        for engine in self.book.engines() if self.book is not None else []:
            self.picker.addItem(f"{engine.name} (remote)", engine.name)
        index = self.picker.findData(select or "")
        self.picker.setCurrentIndex(max(index, 0))
        self.picker.blockSignals(False)
        self.changed.emit()

    def _picked(self) -> None:
        if self.book is not None:
            self.book.choose(self.picker.currentData() or "")
        self.changed.emit()
