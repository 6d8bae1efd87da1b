"""A stored chat reply's tokens coloured by their probability, in a window of their own; a click
on a token opens its inspector."""

from __future__ import annotations

from PySide6.QtWidgets import QDialog, QLabel, QPlainTextEdit, QVBoxLayout, QWidget

from app.inspector.dialog import InspectorDialog
from app.inspector.heat import TokenHeat
from app.shell.theme import LIGHT, Palette
from inference.inspector.choice import Inspection


class ReplyTokensDialog(QDialog):
    """The reply as its tokens made it (`Inspection.pieces`), coloured; click one to inspect."""

    def __init__(self, inspection: Inspection, palette: Palette = LIGHT,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("replyTokens")
        self.setWindowTitle("The reply's tokens")
        self.inspection, self._palette = inspection, palette
        self.inspector: InspectorDialog | None = None
        hint = QLabel("Each token is coloured by how likely the model found it (no colour: "
                      "expected; strong colour: a surprise). Click a token to see how it was "
                      "chosen.")
        hint.setWordWrap(True)
        self.editor = QPlainTextEdit(self)
        self.editor.setReadOnly(True)
        self.editor.setPlainText(b"".join(inspection.pieces).decode("utf-8", "replace"))
        self.heat = TokenHeat(self.editor, palette)
        self.heat.show(inspection, 0)
        self.heat.tokenClicked.connect(self.inspect_token)
        layout = QVBoxLayout(self)
        layout.addWidget(hint)
        layout.addWidget(self.editor, 1)
        self.resize(720, 420)

    def inspect_token(self, index: int) -> None:
        self.inspector = InspectorDialog(self.inspection, index, self._palette, self)
        self.inspector.show()
