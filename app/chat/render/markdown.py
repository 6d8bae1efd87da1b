"""Markdown → laid-out QTextDocument for one message, with code blocks shaded and monospace.

The text is made safe first (`safe_text`): no HTML from anyone, line breaks kept. A fenced
block that names its language is coloured by it (`highlight`, Pygments, the palette's colours).

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
    QFontMetricsF,
    QTextBlock,
    QTextBlockFormat,
    QTextCharFormat,
    QTextCursor,
    QTextDocument,
    QTextFormat,
    QTextLayout,
)

from app.chat.render.highlight import Highlighter, Span, TokenStyle, color
from app.chat.render.safe_text import MARKDOWN_FEATURES, safe_markdown
from app.shell.theme import Palette

CACHE_SIZE = 400
FOLD_LINES = 40          # a message taller than this many lines (and a quarter) folds


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
    fold_at: float | None = None             # a long message, folded: the height it shows


def set_message_text(doc: QTextDocument, text: str) -> None:
    """Fill `doc` with message text as safe Markdown (the one way message text is parsed)."""
    doc.setMarkdown(safe_markdown(text), MARKDOWN_FEATURES)


def render_markdown(text: str, width: float, palette: Palette, font: QFont,
                    highlighter: Highlighter | None = None) -> RenderedMessage:
    """`text` laid out at `width`; code coloured by `highlighter` (which remembers the blocks it
    lexed; a fresh one when not given)."""
    doc = QTextDocument()
    doc.setDefaultFont(font)
    doc.setDocumentMargin(0)
    set_message_text(doc, text)
    code_blocks = _style_code(doc, palette, font, highlighter or Highlighter())
    doc.setTextWidth(max(width, 40))
    layout = doc.documentLayout()
    rects: list[CodeBlock] = []
    for first, last, code in code_blocks:
        top = layout.blockBoundingRect(first).top() - 7      # into the 10 px block margins
        bottom = layout.blockBoundingRect(last).bottom() + 7
        rects.append(CodeBlock(QRectF(0, top, doc.textWidth(), bottom - top), code))
    height = doc.size().height()
    return RenderedMessage(doc, height, doc.idealWidth(), rects, layout,
                           _fold_at(doc, layout, height, font))


def _fold_at(doc: QTextDocument, layout: QAbstractTextDocumentLayout, height: float,
             font: QFont) -> float | None:
    """Where a long message is cut when folded: the bottom of its last whole line within
    FOLD_LINES lines; None when it is short enough to show whole."""
    limit = FOLD_LINES * QFontMetricsF(font).lineSpacing()
    if height <= limit * 1.25:
        return None
    cut = 0.0
    block = doc.begin()
    while block.isValid():
        rect = layout.blockBoundingRect(block)
        if rect.bottom() > limit:
            lines = block.layout()
            for i in range(lines.lineCount()):
                line = lines.lineAt(i)
                bottom = rect.top() + line.y() + line.height()
                if bottom > limit:
                    break
                cut = bottom
            break
        cut = rect.bottom()
        block = block.next()
    return cut if cut > limit / 2 else limit


def _style_code(doc: QTextDocument, palette: Palette, font: QFont,
                highlighter: Highlighter) -> list[tuple[object, object, str]]:
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
                groups.append(_group(current, cursor, palette, highlighter))
                current = []
            _shade_inline_code(block, cursor, code_bg, mono)
        block = block.next()
    if current:
        groups.append(_group(current, cursor, palette, highlighter))
    return groups


def _group(blocks: list, cursor: QTextCursor, palette: Palette,
           highlighter: Highlighter) -> tuple[object, object, str]:
    first, last = blocks[0], blocks[-1]
    fmt = QTextBlockFormat(last.blockFormat())
    fmt.setBottomMargin(max(fmt.bottomMargin(), 10))
    cursor.setPosition(last.position())
    cursor.setBlockFormat(fmt)
    code = "\n".join(b.text() for b in blocks)
    language = first.blockFormat().stringProperty(QTextFormat.Property.BlockCodeLanguage)
    _highlight(first, highlighter.spans(code, language), palette)
    return first, last, code


def _highlight(first: QTextBlock, spans: tuple[Span, ...], palette: Palette) -> None:
    """Colour a code block's `spans` (positions in its text, whose lines are the blocks from
    `first` on, a newline apart): as each line's layout formats, which Qt draws over the text's
    own without splitting the document into more fragments (what QSyntaxHighlighter does)."""
    if not spans:
        return
    formats: dict[object, QTextCharFormat] = {}
    block, block_start = first, 0
    ranges: list[QTextLayout.FormatRange] = []
    for span in spans:
        end = span.start + span.length
        while span.start >= block_start + block.length():    # the span begins on a later line
            block.layout().setFormats(ranges)
            ranges = []
            block_start += block.length()
            block = block.next()
        start = span.start
        while True:
            line_end = block_start + block.length() - 1         # where this line's text ends
            fmt = formats.get(span.style)
            if fmt is None:
                fmt = formats[span.style] = _char_format(palette, span.style)
            piece = QTextLayout.FormatRange()
            piece.start, piece.length, piece.format = start - block_start, \
                min(end, line_end) - start, fmt
            if piece.length > 0:
                ranges.append(piece)
            if end <= line_end + 1:
                break
            block.layout().setFormats(ranges)                  # a span over several lines
            ranges = []
            block_start += block.length()
            block = block.next()
            start = block_start
    block.layout().setFormats(ranges)


def _char_format(palette: Palette, style: TokenStyle) -> QTextCharFormat:
    char = QTextCharFormat()
    char.setForeground(QColor(color(palette, style)))
    if style.bold:
        char.setFontWeight(QFont.Weight.Bold)
    if style.italic:
        char.setFontItalic(True)
    return char


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
        self._heights: dict[tuple[int, int], tuple[str, float, float, float | None]] = {}

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
        self._heights[key] = (content, item.height, item.ideal_width, item.fold_at)
        while len(self._docs) > self._size:
            self._docs.popitem(last=False)

    def size_of(self, key: tuple[int, int], content: str
                ) -> tuple[float, float, float | None] | None:
        """(height, ideal width, where it folds) of the rendering of `content` kept for `key`."""
        entry = self._heights.get(key)
        if entry is None or entry[0] != content:
            return None
        return entry[1], entry[2], entry[3]

    def clear(self) -> None:
        self._docs.clear()
        self._heights.clear()

    def __len__(self) -> int:
        return len(self._docs)
