"""Shows the exact prompt text the model will see, with its template and token count."""

from __future__ import annotations

from PySide6.QtGui import QFontDatabase, QGuiApplication
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QLabel,
    QPlainTextEdit,
    QVBoxLayout,
    QWidget,
)

from inference.engine.api import RenderedPrompt


class PromptDialog(QDialog):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("promptDialog")
        self.setWindowTitle("Rendered prompt")
        self.resize(720, 520)
        layout = QVBoxLayout(self)
        self.summary = QLabel("Rendering…")
        self.summary.setWordWrap(True)
        self.text = QPlainTextEdit()
        self.text.setReadOnly(True)
        self.text.setAccessibleName("Rendered prompt text")
        self.text.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        copy = buttons.addButton("Copy", QDialogButtonBox.ButtonRole.ActionRole)
        copy.setAccessibleName("Copy the prompt")
        copy.clicked.connect(lambda: QGuiApplication.clipboard().setText(self.text.toPlainText()))
        buttons.rejected.connect(self.reject)
        layout.addWidget(self.summary)
        layout.addWidget(self.text, 1)
        layout.addWidget(buttons)

    def show_result(self, result: RenderedPrompt | str) -> None:
        if isinstance(result, str):
            self.summary.setText(f"Could not render the prompt: {result}")
            self.text.setPlainText("")
            return
        parts = [f"Template: {result.template}", f"{result.prompt_tokens} tokens"]
        if result.dropped_turns:
            parts.append(f"{result.dropped_turns} oldest turn(s) left out to fit the context")
        parts.extend(result.warnings)
        if result.max_tokens:
            parts.append(f"room for {result.max_tokens} reply tokens")
        self.summary.setText(" · ".join(parts))
        self.text.setPlainText(result.text)
