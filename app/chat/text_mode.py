"""Text mode: a notebook-style editor; the model continues the text in place (no template).

The user can edit anything (including what the model wrote) and continue again. The newest
continuation is tinted until the next one starts; with "Colour tokens" on, the token inspector
records it and each of its tokens is coloured by its probability instead (a click opens the
token's inspector, app.inspector).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QColor, QKeySequence, QShortcut, QTextCharFormat, QTextCursor
from PySide6.QtWidgets import QCheckBox, QLabel, QPlainTextEdit, QVBoxLayout, QWidget

from app.chat.beam_choices import BeamChoices, BeamOption
from app.chat.footer import footer_text
from app.chat.mode_run import ModeRun
from app.chat.request_builder import RunSettings, text_request
from app.chat.run_row import run_row
from app.data.store import StoreError
from app.inspector import InspectorDialog, TokenHeat
from app.shell.theme import LIGHT, Palette
from inference.engine.events import Finished
from inference.engine.requests import GenerationRequest
from inference.inspector.choice import DEFAULT_TOP, Inspection
from inference.inspector.codec import CodecError, decode

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
        self.colour_tokens = QCheckBox("Colour tokens")
        self.colour_tokens.setObjectName("colourTokens")
        self.colour_tokens.setToolTip(
            "Record how each new token was chosen and colour it by its probability (as the "
            "perplexity heatmap); click a token to see its candidates at each sampler stage")
        self.colour_tokens.toggled.connect(self._colour_toggled)
        self.row.layout.insertWidget(self.row.layout.count() - 1, self.colour_tokens)
        layout.addLayout(self.row.layout)
        self.beams = BeamChoices()
        self.beams.picked.connect(self._keep_beam)
        layout.addWidget(self.beams)
        self.heat = TokenHeat(self.editor)
        self.heat.tokenClicked.connect(self.inspect_token)
        self.inspection: Inspection | None = None
        self.inspector: InspectorDialog | None = None
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
        self.heat.palette = palette

    def request(self) -> GenerationRequest:
        request = text_request(self.editor.toPlainText(), self._settings())
        return replace(request, inspect_top=DEFAULT_TOP) if self.colour_tokens.isChecked() \
            else request

    def inspect_token(self, index: int) -> None:
        """Open the inspector on token `index` of the last continuation."""
        if self.inspection is None:
            return
        self.inspector = InspectorDialog(self.inspection, index, self._palette, self,
                                         branching=True)
        self.inspector.continueFrom.connect(self.continue_from)
        self.inspector.show()

    def continue_from(self, position: int, token: int) -> None:
        """Branch the last continuation at token `position` with `token` in its place: the
        text up to it stays, the candidate's text follows, and the model goes on from there."""
        inspection = self.inspection
        begin = next((b for b, _, i in self.heat.spans if i == position), None)
        if inspection is None or begin is None or self.run.busy:
            return
        kept = self.editor.toPlainText()[:begin]
        self.editor.setPlainText(kept + inspection.texts[token].decode("utf-8", "replace"))
        self.continue_text()

    def _colour_toggled(self, on: bool) -> None:
        if on and self.inspection is not None:
            self.heat.show(self.inspection, self._start)
        elif not on:
            self.heat.clear()

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
        self.heat.clear()
        self.inspection = None
        self._start = len(document)
        self.stats.setText("")
        if not self.run.start(self.request(), document, self._settings()):
            self.errorOccurred.emit("No model is loaded, or it is busy. Load a model first.")

    def load_conversation(self, conv_id: int, document: str) -> None:
        self.run.conv_id = conv_id
        self.heat.clear()
        self.editor.setPlainText(document)
        self.inspection = self._stored_inspection(conv_id, document)
        if self.inspection is not None:
            self._start = len(document) - len(
                b"".join(self.inspection.pieces).decode("utf-8", "replace"))
            self.colour_tokens.setChecked(True)
            self.heat.show(self.inspection, self._start)

    def _stored_inspection(self, conv_id: int, document: str) -> Inspection | None:
        """The recorded tokens of the conversation's last continuation, when it has them and
        the document still ends with them."""
        if not conv_id:
            return None
        try:
            replies = [m for m in self.run.store.messages(conv_id) if m.role == "assistant"]
            data = self.run.store.inspection(replies[-1].id) if replies else None
            inspection = decode(data) if data is not None else None
        except (StoreError, CodecError):
            return None
        if inspection is None or not document.endswith(replies[-1].content):
            return None
        return inspection

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
        self.inspection = fin.inspection
        if fin.inspection is not None and self.colour_tokens.isChecked():
            self._clear_tint()
            self.heat.show(fin.inspection, self._start)

    def _failed(self, message: str) -> None:
        self.errorOccurred.emit(message)

    def _busy(self, busy: bool) -> None:
        self.editor.setReadOnly(busy)
        self.row.set_busy(busy)
        if busy:
            self.stats.setText("generating…")
