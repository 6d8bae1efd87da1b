"""A text coloured token by token by how surprised the model was (NLL), with a tooltip per token
(colours: heat_colors.py). Keyboard users move the cursor onto a token to hear/see its details."""

from __future__ import annotations

import bisect
import html
from collections.abc import Sequence
from dataclasses import dataclass

from PySide6.QtCore import QEvent, QPoint, QRect, Qt, Signal
from PySide6.QtGui import (
    QColor,
    QHelpEvent,
    QTextCharFormat,
    QTextCursor,
)
from PySide6.QtWidgets import QTextBrowser, QToolTip, QWidget

from app.perplexity.heat_colors import surprise_colors
from app.shell.theme import LIGHT, Palette
from inference.perplexity.measure import TokenScore

MAX_TOKENS = 20_000       # longer texts: the first tokens only (a document this size stays fast)
SEARCH_SLACK = 16


@dataclass(frozen=True)
class Span:
    start: int                 # character positions in the document
    end: int
    score: TokenScore


def visible(text: str) -> str:
    """A token's text with its whitespace shown (␣ for a space, ↵ for a newline, ⇥ for a tab)."""
    return text.replace(" ", "␣").replace("\n", "↵").replace("\t", "⇥") or "∅"


def token_tooltip(score: TokenScore) -> str:
    """Rich-text tooltip: the token, its probability, rank, surprise and the top choices."""
    rank = "the model's top choice" if score.rank == 1 else f"rank {score.rank:,}"
    lines = [f"<b>{html.escape(visible(score.text))}</b> — probability {score.prob:.2%}",
             f"{rank} · surprise (NLL) {score.nll:.2f} nats"]
    if score.top:
        tops = ", ".join(f"{html.escape(visible(a.text))} {a.prob:.1%}" for a in score.top)
        lines.append(f"Top choices: {tops}")
    return "<br>".join(lines)


def align(text: str, scores: Sequence[TokenScore]) -> list[tuple[str, TokenScore | None]]:
    """The text cut into pieces: scored tokens (with their score) and unscored text between
    them. Scored pieces are found in `text` in order; a token not found is shown as is."""
    pieces: list[tuple[str, TokenScore | None]] = []
    cursor = 0
    previous = -2
    for score in scores:
        piece = score.text
        if not piece:
            previous = score.index
            continue
        if score.index != previous + 1:        # a new run of scored tokens (chunked mode)
            found = text.find(piece, cursor)
        else:
            found = text.find(piece, cursor, cursor + len(piece) + SEARCH_SLACK)
        previous = score.index
        if found < 0:
            pieces.append((piece, score))
            continue
        if found > cursor:
            pieces.append((text[cursor:found], None))
        pieces.append((piece, score))
        cursor = found + len(piece)
    if cursor < len(text):
        pieces.append((text[cursor:], None))
    return pieces


class HeatmapView(QTextBrowser):
    tokenFocused = Signal(str)        # plain-text description of the token at the cursor

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("heatmap")
        self.setAccessibleName("Perplexity heatmap")
        self.setOpenLinks(False)
        self.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse
                                     | Qt.TextInteractionFlag.TextSelectableByKeyboard)
        self.setMouseTracking(True)
        self.palette_: Palette = LIGHT
        self.spans: list[Span] = []
        self._starts: list[int] = []
        self._text = ""
        self._scores: tuple[TokenScore, ...] = ()
        self.truncated = False
        self.cursorPositionChanged.connect(self._cursor_moved)

    def set_palette(self, palette: Palette) -> None:
        self.palette_ = palette
        if self._scores:
            self.show_scores(self._text, self._scores)

    def clear_scores(self, message: str = "") -> None:
        self._text, self._scores, self.spans, self._starts = "", (), [], []
        self.setPlainText(message)

    def show_scores(self, text: str, scores: Sequence[TokenScore]) -> None:
        """Show `text` with every scored token coloured by its surprise."""
        self._text, self._scores = text, tuple(scores)
        self.truncated = len(scores) > MAX_TOKENS
        shown = self._scores[:MAX_TOKENS]
        clean = text.replace("\r\n", "\n").replace("\r", "\n")
        pieces = align(clean, shown)
        if self.truncated:
            last = next((i for i, (_p, s) in enumerate(pieces) if s is shown[-1]), len(pieces))
            pieces = pieces[:last + 1] + [(f"\n\n[… the heatmap shows the first {MAX_TOKENS:,} "
                                           "tokens]", None)]
        formats: dict[int, QTextCharFormat] = {}
        plain = QTextCharFormat()
        self.clear()
        doc_cursor = QTextCursor(self.document())
        doc_cursor.beginEditBlock()
        spans: list[Span] = []
        position = 0
        for piece, score in pieces:
            fmt = plain
            if score is not None:
                colors = surprise_colors(score.nll, self.palette_)
                if colors is not None:
                    key = colors[0].rgb()
                    fmt = formats.get(key) or _format(*colors)
                    formats[key] = fmt
                spans.append(Span(position, position + len(piece), score))
            doc_cursor.insertText(piece, fmt)
            position += len(piece)
        doc_cursor.endEditBlock()
        self.spans = spans
        self._starts = [s.start for s in spans]
        self.moveCursor(QTextCursor.MoveOperation.Start)

    # -- lookup ------------------------------------------------------------------------------
    def span_at_char(self, position: int) -> Span | None:
        """The token covering document character `position`, if any."""
        i = bisect.bisect_right(self._starts, position) - 1
        if i >= 0 and self.spans[i].start <= position < self.spans[i].end:
            return self.spans[i]
        return None

    def span_at(self, pos: QPoint) -> Span | None:
        """The token under viewport point `pos`, if any."""
        p = self.cursorForPosition(pos).position()
        for c in (p, p - 1):
            if c < 0:
                continue
            cursor = QTextCursor(self.document())
            cursor.setPosition(c)
            left = self.cursorRect(cursor)
            if not cursor.movePosition(QTextCursor.MoveOperation.NextCharacter):
                continue
            right = self.cursorRect(cursor)
            if (left.top() == right.top() and left.left() <= pos.x() <= right.left()
                    and left.top() <= pos.y() <= left.bottom()):
                return self.span_at_char(c)
        return None

    def char_rect(self, position: int) -> QRect:
        """Viewport rectangle of document character `position` (for tests and tooltips)."""
        cursor = QTextCursor(self.document())
        cursor.setPosition(position)
        left = self.cursorRect(cursor)
        cursor.setPosition(position + 1)
        right = self.cursorRect(cursor)
        return QRect(left.topLeft(), QPoint(max(right.left(), left.left() + 1), left.bottom()))

    def tooltip_at(self, pos: QPoint) -> str:
        span = self.span_at(pos)
        return token_tooltip(span.score) if span else ""

    # -- events ------------------------------------------------------------------------------
    def viewportEvent(self, event: QEvent) -> bool:  # noqa: N802
        if event.type() == QEvent.Type.ToolTip and isinstance(event, QHelpEvent):
            tip = self.tooltip_at(event.pos())
            if tip:
                QToolTip.showText(event.globalPos(), tip, self.viewport())
            else:
                QToolTip.hideText()
                event.ignore()
            return True
        return super().viewportEvent(event)

    def _cursor_moved(self) -> None:
        span = self.span_at_char(self.textCursor().position())
        if span is None:
            self.tokenFocused.emit("")
            return
        s = span.score
        top = ", ".join(f"{visible(a.text)} {a.prob:.1%}" for a in s.top[:3])
        self.tokenFocused.emit(f"{visible(s.text)}: probability {s.prob:.2%}, rank {s.rank:,}, "
                               f"surprise {s.nll:.2f} nats" + (f" · top: {top}" if top else ""))


def _format(bg: QColor, fg: QColor) -> QTextCharFormat:
    fmt = QTextCharFormat()
    fmt.setBackground(bg)
    fmt.setForeground(fg)
    return fmt
