"""A reply's thinking in the transcript: a folded "Thinking" line above the answer, unfolded
by a click (or the keyboard) to show the thinking as muted Markdown; the answer is always
shown below it.

Folded, the block is one line: "▸ Thinking · 312 tokens · 4.1 s" ("Thinking…" while the model
is still thinking, the figures growing as it goes).
"""

from __future__ import annotations

from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QColor, QFont, QFontMetrics, QPainter

from app.chat.render.highlight import Highlighter
from app.chat.render.markdown import RenderCache, RenderedMessage, render_markdown
from app.chat.render.pixmaps import DocumentPixmaps, paint_document
from app.chat.transcript import TranscriptMessage
from app.shell.theme import Palette

LINE_H = 22          # the folded line
INDENT = 12          # the unfolded thinking, right of a bar
GAP_BELOW = 8        # between the block and the answer
GAP_OPEN = 6         # between the line and the unfolded thinking


class ThinkingDocs:
    """The replies' thinking rendered as documents, cached per (message, width) as the
    answers are."""

    def __init__(self) -> None:
        self.cache = RenderCache()
        self.highlighter = Highlighter()

    def clear(self) -> None:
        self.cache.clear()

    def rendered(self, msg: TranscriptMessage, key: tuple[int, int], palette: Palette,
                 font: QFont) -> RenderedMessage | None:
        """`msg`'s thinking laid out at width key[1] (None when it did not think)."""
        if not msg.reasoning:
            return None
        item = self.cache.get(key, msg.reasoning)
        if item is None:
            item = render_markdown(msg.reasoning, key[1], palette, font, self.highlighter)
            self.cache.put(key, msg.reasoning, item)
        return item

    def height(self, msg: TranscriptMessage, key: tuple[int, int], palette: Palette,
               font: QFont) -> float:
        """The height of `msg`'s Thinking block (folded or not; 0 when it did not think)."""
        if not msg.reasoning or not msg.thinking_open:
            return block_height(msg, 0)
        size = self.cache.size_of(key, msg.reasoning)
        if size is None:
            item = self.rendered(msg, key, palette, font)
            size = (item.height if item is not None else 0.0, 0.0, None)
        return block_height(msg, size[0])


def thinking_label(msg: TranscriptMessage) -> str:
    """The folded line's text: "▸ Thinking · 312 tokens · 4.1 s"."""
    arrow = "▾" if msg.thinking_open else "▸"
    title = "Thinking…" if msg.still_thinking else "Thinking"
    facts = msg.thinking.describe()
    return f"{arrow} {title} · {facts}" if facts else f"{arrow} {title}"


def block_height(msg: TranscriptMessage, reasoning_height: float) -> float:
    """The height the Thinking block takes above the answer (0: the reply did not think)."""
    if not msg.reasoning:
        return 0.0
    if not msg.thinking_open:
        return LINE_H + GAP_BELOW
    return LINE_H + GAP_OPEN + reasoning_height + GAP_BELOW


def line_rect(msg: TranscriptMessage, left: float, top: float, font: QFont) -> QRectF:
    """The clickable folded line (its text and some room), from the text's top-left."""
    width = QFontMetrics(font).horizontalAdvance(thinking_label(msg)) + 20
    return QRectF(left, top, width, LINE_H - 2)


def paint_thinking(painter: QPainter, msg: TranscriptMessage, line: QRectF,
                   reasoning: QRectF | None, item: RenderedMessage | None, palette: Palette,
                   font: QFont, pixmaps: DocumentPixmaps, key: object,
                   background: QColor) -> None:
    """The folded line and, when unfolded, the thinking under it."""
    painter.setFont(font)
    painter.setPen(QColor(palette.border))
    painter.setBrush(QColor(palette.accent_soft if msg.still_thinking else palette.window))
    painter.drawRoundedRect(line, 6, 6)
    painter.setPen(QColor(palette.accent if msg.still_thinking else palette.muted))
    painter.drawText(line.adjusted(10, 0, -4, 0),
                     Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
                     thinking_label(msg))
    if reasoning is None or item is None:
        return
    painter.setPen(Qt.PenStyle.NoPen)
    painter.setBrush(QColor(palette.border))
    painter.drawRect(QRectF(reasoning.left() - INDENT, reasoning.top(), 2, reasoning.height()))
    if msg.streaming:
        painter.translate(reasoning.topLeft())
        paint_document(painter, item, palette, text_color=palette.muted)
        painter.translate(-reasoning.topLeft())
    else:
        pixmaps.draw(painter, key, item, palette, background, reasoning,
                     text_color=palette.muted)
