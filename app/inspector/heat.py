"""A reply's tokens coloured by their probability in a text editor (the Text view), with the
perplexity heatmap's colour scale (surprise = −ln p of the drawn token); a click on a coloured
token opens its inspector."""

from __future__ import annotations

import codecs
import math

from PySide6.QtCore import QEvent, QObject, Qt, Signal
from PySide6.QtGui import QMouseEvent, QTextCharFormat, QTextCursor
from PySide6.QtWidgets import QPlainTextEdit

from app.perplexity import surprise_colors
from app.shell.theme import LIGHT, Palette
from inference.inspector.choice import Inspection


def token_spans(inspection: Inspection, start: int, limit: int) -> list[tuple[int, int, int]]:
    """(first character, end character, token index) of each token whose text begins before
    `limit`, from character `start`; a token that completes no character yet (half of a UTF-8
    sequence) shares the span of the one that completes it."""
    decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
    spans, at, waiting = [], start, []
    for index, piece in enumerate(inspection.pieces):
        text = decoder.decode(piece)
        waiting.append(index)
        if not text:
            continue
        end = min(at + len(text), limit)
        if at >= limit:
            break
        spans += [(at, end, i) for i in waiting]
        at, waiting = at + len(text), []
    return spans


class TokenHeat(QObject):
    """Colours `editor`'s reply tokens and emits `tokenClicked(index)` on a click on one."""

    tokenClicked = Signal(int)

    def __init__(self, editor: QPlainTextEdit, palette: Palette = LIGHT) -> None:
        super().__init__(editor)
        self.editor, self.palette = editor, palette
        self.inspection: Inspection | None = None
        self.spans: list[tuple[int, int, int]] = []
        editor.viewport().installEventFilter(self)

    def show(self, inspection: Inspection, start: int) -> None:
        """Colour the tokens of `inspection`, whose text begins at character `start`."""
        self.clear()
        self.inspection = inspection
        self.spans = token_spans(inspection, start, self.editor.document().characterCount() - 1)
        cursor = QTextCursor(self.editor.document())
        for begin, end, index in self.spans:
            colors = surprise_colors(-inspection.choices[index].logprob, self.palette)
            if colors is None or begin >= end:
                continue
            fmt = QTextCharFormat()
            fmt.setBackground(colors[0])
            fmt.setForeground(colors[1])
            p = inspection.choices[index]
            fmt.setToolTip(f"p = {math.exp(p.logprob):.1%} · click to inspect")
            cursor.setPosition(begin)
            cursor.setPosition(end, QTextCursor.MoveMode.KeepAnchor)
            cursor.mergeCharFormat(fmt)

    def clear(self) -> None:
        """Take the colours off (the text stays)."""
        if self.spans:
            cursor = QTextCursor(self.editor.document())
            cursor.setPosition(self.spans[0][0])
            cursor.setPosition(self.spans[-1][1], QTextCursor.MoveMode.KeepAnchor)
            fmt = QTextCharFormat()
            fmt.setBackground(Qt.BrushStyle.NoBrush)
            fmt.setForeground(self.editor.palette().text())
            fmt.setToolTip("")
            cursor.mergeCharFormat(fmt)
        self.spans = []

    def token_at(self, position: int) -> int | None:
        """The index of the token at character `position`, None outside the reply."""
        for begin, end, index in self.spans:
            if begin <= position < end:
                return index
        return None

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if (self.spans and event.type() == QEvent.Type.MouseButtonRelease
                and isinstance(event, QMouseEvent)
                and event.button() == Qt.MouseButton.LeftButton
                and not self.editor.textCursor().hasSelection()):
            index = self.token_at(self.editor.cursorForPosition(event.position().toPoint())
                                  .position())
            if index is not None:
                self.tokenClicked.emit(index)
        return False
