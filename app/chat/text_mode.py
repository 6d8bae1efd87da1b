"""Text mode: a notebook-style editor; the model continues the text in place (no template).

The user can edit anything (including what the model wrote) and continue again. The newest
continuation is tinted until the next one starts.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QColor, QKeySequence, QShortcut, QTextCharFormat, QTextCursor
from PySide6.QtWidgets import QLabel, QPlainTextEdit, QVBoxLayout, QWidget

from app.chat.beam_choices import BeamChoices, BeamOption
from app.chat.footer import footer_text
from app.chat.mode_run import ModeRun
from app.chat.request_builder import RunSettings, text_request
from app.chat.run_row import run_row
from app.shell.theme import LIGHT, Palette
from inference.engine.events import Finished
from inference.engine.requests import GenerationRequest

TEMPLATE = "none: the text is sent exactly as written"


class TextModePage(QWidget):
    errorOccurred = Signal(str)

    def __init__(self, run: ModeRun, settings: Callable[[], RunSettings],
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("textMode")
        self.run = run
        self._settings = settings
        self._palette: Palette = LIGHT
        layout = QVBoxLayout(self)
        layout.setContentsMargins(16, 12, 16, 12)
        layout.setSpacing(8)
        hint = QLabel("Write the beginning of a text; the model continues it where it ends. "
                      "Edit anything and continue again.")
        hint.setObjectName("mutedLabel")
        hint.setWordWrap(True)
        layout.addWidget(hint)
        self.editor = QPlainTextEdit()
        self.editor.setObjectName("textEditor")
        self.editor.setAccessibleName("Text to continue")
        self.editor.setPlaceholderText("Once upon a time…")
        self.editor.setTabChangesFocus(True)
        layout.addWidget(self.editor, 1)
        self.row = run_row("Continue", "Continue the text",
                           "Let the model continue the text (Ctrl+Enter)",
                           self.continue_text, self.run.stop)
        self.continue_button, self.stop_button, self.stats = (
            self.row.go, self.row.stop, self.row.stats)
        layout.addLayout(self.row.layout)
        self.beams = BeamChoices()
        self.beams.picked.connect(self._keep_beam)
        layout.addWidget(self.beams)
        for keys in ("Ctrl+Return", "Ctrl+Enter"):
            QShortcut(QKeySequence(keys), self, self.continue_text,
                      context=Qt.ShortcutContext.WidgetWithChildrenShortcut)
        self._start = 0
        run.tokensReceived.connect(self._insert)
        run.finished.connect(self._finished)
        run.failed.connect(self._failed)
        run.busyChanged.connect(self._busy)
        run.beamsReady.connect(self.beams.show_options)

    def set_palette(self, palette: Palette) -> None:
        self._palette = palette

    def request(self) -> GenerationRequest:
        return text_request(self.editor.toPlainText(), self._settings())

    def preview_request(self) -> GenerationRequest | None:
        return self.request() if self.editor.toPlainText().strip() else None

    def continue_text(self) -> None:
        if self.run.busy:
            return
        document = self.editor.toPlainText()
        if not document.strip():
            self.errorOccurred.emit("Write some text first; the model continues it.")
            return
        self._clear_tint()
        self.beams.clear()
        self._start = len(document)
        self.stats.setText("")
        if not self.run.start(self.request(), document, self._settings()):
            self.errorOccurred.emit("No model is loaded, or it is busy. Load a model first.")

    def load_conversation(self, conv_id: int, document: str) -> None:
        self.run.conv_id = conv_id
        self.editor.setPlainText(document)

    def _insert(self, text: str) -> None:
        cursor = QTextCursor(self.editor.document())
        cursor.movePosition(QTextCursor.MoveOperation.End)
        fmt = QTextCharFormat()
        fmt.setBackground(QColor(self._palette.accent_soft))
        cursor.insertText(text, fmt)
        bar = self.editor.verticalScrollBar()
        if bar.value() >= bar.maximum() - 60:
            bar.setValue(bar.maximum())

    def _keep_beam(self, option: BeamOption) -> None:
        """Put the picked beam in place of the continuation the last run wrote."""
        text = self.run.keep_beam(option)
        if text is None:
            return
        cursor = QTextCursor(self.editor.document())
        cursor.setPosition(min(self._start, len(self.editor.toPlainText())))
        cursor.movePosition(QTextCursor.MoveOperation.End, QTextCursor.MoveMode.KeepAnchor)
        cursor.removeSelectedText()
        self._insert(text)

    def _clear_tint(self) -> None:
        cursor = QTextCursor(self.editor.document())
        cursor.select(QTextCursor.SelectionType.Document)
        fmt = QTextCharFormat()
        fmt.setBackground(Qt.BrushStyle.NoBrush)
        cursor.mergeCharFormat(fmt)
        self.editor.setCurrentCharFormat(QTextCharFormat())

    def _finished(self, fin: Finished) -> None:
        self.stats.setText(footer_text(fin.stats.to_dict(), fin.reason.value, False))
        self.editor.setCurrentCharFormat(QTextCharFormat())

    def _failed(self, message: str) -> None:
        self.errorOccurred.emit(message)

    def _busy(self, busy: bool) -> None:
        self.editor.setReadOnly(busy)
        self.row.set_busy(busy)
        if busy:
            self.stats.setText("generating…")
