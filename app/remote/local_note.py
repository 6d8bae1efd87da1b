"""The one line the Perplexity and Compare pages show while a remote engine answers: it has no
logits, so these pages need this computer's engine — with a button that switches to it."""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QWidget

from inference.engine.api import LoadedModel


def remote_name(loaded: LoadedModel | None) -> str:
    """The remote engine's name when `loaded` is a remote engine's model, else ""."""
    if loaded is None or not loaded.info.get("remote"):
        return ""
    return str(loaded.info.get("engine") or loaded.info.get("base_url") or "remote")


class LocalOnlyNote(QWidget):
    localRequested = Signal()              # "Use this computer"

    def __init__(self, what: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("localOnlyNote")
        self._what = what
        self.label = QLabel("")
        self.label.setWordWrap(True)
        self.label.setAccessibleName("Remote engine note")
        self.button = QPushButton("Use this computer")
        self.button.setAccessibleName("Switch to this computer's engine")
        self.button.clicked.connect(self.localRequested)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.label, 1)
        layout.addWidget(self.button)
        self.hide()

    def set_engine(self, remote: str) -> None:
        """Show the note while the remote engine `remote` answers ("": this computer)."""
        self.label.setText(f"The remote engine “{remote}” has no logits, so {self._what} "
                           "runs on this computer's engine." if remote else "")
        self.setVisible(bool(remote))
