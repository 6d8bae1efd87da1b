"""Markdown → laid-out QTextDocument for one message, with code blocks shaded and monospace.

The text is made safe first (`safe_text`): no HTML from anyone, line breaks kept.

A `RenderedMessage` caches the document, its height and where each code block is, so the
delegate can paint a Copy chip on it and find which block a click hit.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass

from PySide6.QtCore import QRectF
from PySide6.QtGui import (
    QAbstractTextDocumentLayout,
    QColor,
    QFont,
    QFontDatabase,
    QTextBlockFormat,
    QTextCharFormat,
    QTextCursor,
    QTextDocument,
    QTextFormat,
)

from app.chat.render.safe_text import MARKDOWN_FEATURES, safe_markdown
from app.shell.theme import Palette

CACHE_SIZE = 400


@dataclass
class CodeBlock:
    rect: QRectF                 # in document coordinates
    text: str


@dataclass
class RenderedMessage:
    doc: QTextDocument
    height: float
    ideal_width: float
    code_blocks: list[CodeBlock]
    layout: QAbstractTextDocumentLayout      # doc's, kept: asking PySide for it is not cheap


def set_message_text(doc: QTextDocument, text: str) -> None:
    """Fill `doc` with message text as safe Markdown (the one way message text is parsed)."""
    doc.setMarkdown(safe_markdown(text), MARKDOWN_FEATURES)


def render_markdown(text: str, width: float, palette: Palette, font: QFont) -> RenderedMessage:
    doc = QTextDocument()
    doc.setDefaultFont(font)
    doc.setDocumentMargin(0)
    set_message_text(doc, text)
    code_blocks = _style_code(doc, palette, font)
    doc.setTextWidth(max(width, 40))
    layout = doc.documentLayout()
    rects: list[CodeBlock] = []
    for first, last, code in code_blocks:
        top = layout.blockBoundingRect(first).top() - 7      # into the 10 px block margins
        bottom = layout.blockBoundingRect(last).bottom() + 7
        rects.append(CodeBlock(QRectF(0, top, doc.textWidth(), bottom - top), code))
    return RenderedMessage(doc, doc.size().height(), doc.idealWidth(), rects, layout)


def _style_code(doc: QTextDocument, palette: Palette,
                font: QFont) -> list[tuple[object, object, str]]:
    """Shade code blocks and inline code; return (first block, last block, text) per block."""
    mono = QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont)
    mono.setPointSizeF(max(font.pointSizeF() - 0.5, 7))
    code_bg = QColor(palette.code_bg)
    groups: list[tuple[object, object, str]] = []
    cursor = QTextCursor(doc)
    block = doc.begin()
    current: list = []
    while block.isValid():
        fmt = block.blockFormat()
        is_code = fmt.hasProperty(QTextFormat.Property.BlockCodeFence) or \
            fmt.hasProperty(QTextFormat.Property.BlockCodeLanguage)
        if is_code:
            first = not current
            current.append(block)
            new_fmt = QTextBlockFormat(fmt)
            new_fmt.setLeftMargin(12)
            new_fmt.setRightMargin(60)          # room for the Copy chip
            if first:
                new_fmt.setTopMargin(10)
            cursor.setPosition(block.position())
            cursor.setBlockFormat(new_fmt)
            cursor.setPosition(block.position())
            cursor.setPosition(block.position() + max(block.length() - 1, 0),
                               QTextCursor.MoveMode.KeepAnchor)
            char = QTextCharFormat()
            char.setFont(mono)
            cursor.mergeCharFormat(char)
        else:
            if current:
                groups.append(_group(current, cursor))
                current = []
            _shade_inline_code(block, cursor, code_bg, mono)
        block = block.next()
    if current:
        groups.append(_group(current, cursor))
    return groups


def _group(blocks: list, cursor: QTextCursor) -> tuple[object, object, str]:
    last = blocks[-1]
    fmt = QTextBlockFormat(last.blockFormat())
    fmt.setBottomMargin(max(fmt.bottomMargin(), 10))
    cursor.setPosition(last.position())
    cursor.setBlockFormat(fmt)
    return blocks[0], last, "\n".join(b.text() for b in blocks)


def _shade_inline_code(block: object, cursor: QTextCursor, code_bg: QColor, mono: QFont) -> None:
    it = block.begin()  # type: ignore[attr-defined]
    spans: list[tuple[int, int]] = []
    while not it.atEnd():
        frag = it.fragment()
        if frag.isValid() and frag.charFormat().fontFixedPitch():
            spans.append((frag.position(), frag.length()))
        it += 1
    for start, length in spans:
        cursor.setPosition(start)
        cursor.setPosition(start + length, QTextCursor.MoveMode.KeepAnchor)
        char = QTextCharFormat()
        char.setBackground(code_bg)
        char.setFont(mono)
        cursor.mergeCharFormat(char)


class RenderCache:
    """Rendered messages keyed by (message id, width), valid while the content is the same.

    Documents are kept for the most recent CACHE_SIZE rows; heights for every row (they are
    what a 1,000-message transcript needs to lay out and scroll).
    """

    def __init__(self, size: int = CACHE_SIZE, max_heights: int = 20_000) -> None:
        self._size = size
        self._max_heights = max_heights
        self._docs: OrderedDict[tuple[int, int], tuple[str, RenderedMessage]] = OrderedDict()
        self._heights: dict[tuple[int, int], tuple[str, float, float]] = {}

    def get(self, key: tuple[int, int], content: str) -> RenderedMessage | None:
        entry = self._docs.get(key)
        if entry is None or entry[0] != content:
            return None
        self._docs.move_to_end(key)
        return entry[1]

    def latest(self, key: tuple[int, int]) -> RenderedMessage | None:
        """The last rendering kept for `key`, whatever content it was made from."""
        entry = self._docs.get(key)
        return entry[1] if entry is not None else None

    def put(self, key: tuple[int, int], content: str, item: RenderedMessage) -> None:
        self._docs[key] = (content, item)
        self._docs.move_to_end(key)
        if len(self._heights) >= self._max_heights:
            self._heights.clear()
        self._heights[key] = (content, item.height, item.ideal_width)
        while len(self._docs) > self._size:
            self._docs.popitem(last=False)

    def size_of(self, key: tuple[int, int], content: str) -> tuple[float, float] | None:
        entry = self._heights.get(key)
        if entry is None or entry[0] != content:
            return None
        return entry[1], entry[2]

    def clear(self) -> None:
        self._docs.clear()
        self._heights.clear()

    def __len__(self) -> int:
        return len(self._docs)
