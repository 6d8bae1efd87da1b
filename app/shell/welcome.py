"""The first-run view: no model loaded yet — offer the starter model (saying that it is a base
model, tests/library/test_model_kind.py), Open GGUF…, the folder."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QUrl, Signal
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from app.settings.model_panel import model_label

STARTER_NOTE = ("The starter model is a base model: it continues text. Text mode suits it (it "
                "opens there unless you have chosen a mode); for chat, download an "
                "instruction-tuned model on the Hub page.")


class WelcomePage(QWidget):
    starterRequested = Signal()
    openRequested = Signal()
    recentRequested = Signal(str)

    def __init__(self, models_dir: Path, starter_available: bool = True,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("welcome")
        self._models_dir = models_dir
        outer = QVBoxLayout(self)
        outer.addStretch(1)
        card = QFrame()
        card.setObjectName("welcomeCard")
        card.setMaximumWidth(560)
        layout = QVBoxLayout(card)
        layout.setContentsMargins(32, 28, 32, 28)
        layout.setSpacing(10)
        title = QLabel("Welcome to Parley")
        title.setObjectName("welcomeTitle")
        text = QLabel("Chat with language models that run entirely on this computer. "
                      "Nothing you type leaves it. Load a model to begin.")
        text.setWordWrap(True)
        text.setObjectName("welcomeText")
        layout.addWidget(title)
        layout.addWidget(text)
        self.starter_button = QPushButton("Load the starter model  ·  Gemma 3 270M (253 MB)")
        self.starter_button.setObjectName("primaryButton")
        self.starter_button.setAccessibleName("Load the starter model")
        self.starter_button.setToolTip("A small, fast model bundled with Parley: good for "
                                       "trying things out, not for hard questions.")
        self.starter_button.setEnabled(starter_available)
        self.starter_button.clicked.connect(self.starterRequested)
        self.open_button = QPushButton("Open a GGUF file…")
        self.open_button.setAccessibleName("Open a GGUF model file")
        self.open_button.clicked.connect(self.openRequested)
        self.folder_button = QPushButton("Show the models folder")
        self.folder_button.setAccessibleName("Open the models folder")
        self.folder_button.setToolTip(str(models_dir))
        self.folder_button.clicked.connect(self.open_models_folder)
        self.starter_note = QLabel(STARTER_NOTE)
        self.starter_note.setObjectName("mutedLabel")
        self.starter_note.setAccessibleName("About the starter model")
        self.starter_note.setWordWrap(True)
        layout.addSpacing(6)
        layout.addWidget(self.starter_button)
        layout.addWidget(self.starter_note)
        buttons = QHBoxLayout()
        buttons.addWidget(self.open_button)
        buttons.addWidget(self.folder_button)
        layout.addLayout(buttons)
        self.folder_note = QLabel(f"Models folder: {models_dir}")
        self.folder_note.setObjectName("mutedLabel")
        self.folder_note.setWordWrap(True)
        layout.addWidget(self.folder_note)
        self.recent_box = QVBoxLayout()
        self.recent_title = QLabel("Recent models")
        self.recent_title.setObjectName("sectionHeading")
        layout.addWidget(self.recent_title)
        layout.addLayout(self.recent_box)
        self.status = QLabel("")
        self.status.setObjectName("welcomeStatus")
        self.status.setWordWrap(True)
        layout.addWidget(self.status)
        row = QHBoxLayout()
        row.addStretch(1)
        row.addWidget(card, 10)
        row.addStretch(1)
        outer.addLayout(row)
        outer.addStretch(2)
        self.set_recent([])

    def set_recent(self, paths: list[str]) -> None:
        while self.recent_box.count():
            item = self.recent_box.takeAt(0)
            if item.widget():
                item.widget().deleteLater()
        shown = [p for p in paths if p != "starter"][:4]
        self.recent_title.setVisible(bool(shown))
        for path in shown:
            button = QPushButton(model_label(path))
            button.setObjectName("linkButton")
            button.setToolTip(path)
            button.setAccessibleName(f"Load {model_label(path)}")
            button.clicked.connect(lambda _checked=False, p=path: self.recentRequested.emit(p))
            self.recent_box.addWidget(button)

    def set_status(self, text: str) -> None:
        self.status.setText(text)

    def open_models_folder(self) -> None:
        self._models_dir.mkdir(parents=True, exist_ok=True)
        QDesktopServices.openUrl(QUrl.fromLocalFile(str(self._models_dir)))
