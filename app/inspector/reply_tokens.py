"""A stored chat reply's tokens coloured by their probability, in a window of their own; a click
on a token opens its inspector. For the conversation's last reply the inspector offers
"Continue from here with this token": `continueFrom(prefix)` carries the reply's text up to that
position with the chosen candidate in its place, for the chat to go on from."""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QDialog, QLabel, QPlainTextEdit, QVBoxLayout, QWidget

from app.inspector.dialog import InspectorDialog
from app.inspector.heat import TokenHeat
from app.shell.theme import LIGHT, Palette
from inference.inspector.choice import Inspection


class ReplyTokensDialog(QDialog):
    """The reply as its tokens made it (`Inspection.pieces`), coloured; click one to inspect.
    `head`: the reply's text before its recorded tokens (a reply that went on from another's
    prefix); `branching`: its inspector may continue the reply from a token."""

    continueFrom = Signal(str)

    def __init__(self, inspection: Inspection, palette: Palette = LIGHT,
                 parent: QWidget | None = None, *, head: str = "",
                 branching: bool = False) -> None:
        super().__init__(parent)
        self.head, self.branching = head, branching
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
        self.inspector = InspectorDialog(self.inspection, index, self._palette, self,
                                         branching=self.branching)
        self.inspector.continueFrom.connect(self._continue_from)
        self.inspector.show()

    def _continue_from(self, position: int, token: int) -> None:
        """The reply's text before token `position`, then candidate `token`'s text."""
        kept = b"".join(self.inspection.pieces[:position]) + self.inspection.texts[token]
        self.continueFrom.emit(self.head + kept.decode("utf-8", errors="replace"))
        self.accept()
