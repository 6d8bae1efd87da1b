"""Where a streamed update changed a message's rendering: the top of the first line that differs.

A reply grows at its end, but Markdown can restyle text already shown (closing `**` makes a run
bold, a longer word moves to the next line), so the two renderings are compared block by block,
and within the first block that differs, character by character (text and formats), taking the
earlier of the old and new line at that point. Everything above that line is the same pixels,
so the transcript repaints only from there down.
"""

from __future__ import annotations

from PySide6.QtGui import QTextBlock, QTextCharFormat

from app.chat.render.markdown import RenderedMessage

Formats = list[tuple[int, int, object]]


def first_changed_y(old: RenderedMessage | None, new: RenderedMessage) -> float:
    """The y (document coordinates) from which `new` may look different from `old`: 0 when
    there is no old rendering, the taller document's height when nothing changed."""
    if old is None:
        return 0.0
    a, b = old.doc.begin(), new.doc.begin()
    while a.isValid() and b.isValid():
        a_top = old.layout.blockBoundingRect(a).top()
        b_top = new.layout.blockBoundingRect(b).top()
        if a_top != b_top or a.blockFormat() != b.blockFormat() or \
                a.charFormat() != b.charFormat():
            return max(0.0, min(a_top, b_top))
        fa, fb = _formats(a), _formats(b)
        if a.text() != b.text() or fa != fb or a.layout().lineCount() != b.layout().lineCount():
            position = min(_common_prefix(a.text(), b.text()), _first_format_change(fa, fb))
            return max(0.0, min(_line_top(a, position, a_top), _line_top(b, position, b_top)))
        a, b = a.next(), b.next()
    if a.isValid():                                  # blocks only the old rendering had
        return max(0.0, old.layout.blockBoundingRect(a).top())
    if b.isValid():                                  # new blocks at the end
        return max(0.0, new.layout.blockBoundingRect(b).top())
    return max(old.height, new.height)


def _formats(block: QTextBlock) -> Formats:
    return [(r.start, r.length, QTextCharFormat(r.format)) for r in block.textFormats()]


def _common_prefix(a: str, b: str) -> int:
    n = min(len(a), len(b))
    if a[:n] == b[:n]:
        return n
    lo, hi = 0, n                                    # a[:lo] == b[:lo], a[:hi] != b[:hi]
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if a[:mid] == b[:mid]:
            lo = mid
        else:
            hi = mid
    return lo


def _first_format_change(a: Formats, b: Formats) -> int:
    """The first position where the character formats differ (a run that only got longer
    differs from where the shorter one ends)."""
    for (sa, la, fa), (sb, lb, fb) in zip(a, b, strict=False):
        if sa != sb or fa != fb:
            return min(sa, sb)
        if la != lb:
            return sa + min(la, lb)
    if len(a) != len(b):
        longer = a if len(a) > len(b) else b
        return longer[min(len(a), len(b))][0]
    return 1 << 30


def _line_top(block: QTextBlock, position: int, block_top: float) -> float:
    """The top of the line holding `position` (the block's last line when past its end)."""
    layout = block.layout()
    count = layout.lineCount()
    if count == 0:
        return block_top
    line = layout.lineForTextPosition(min(position, max(0, len(block.text()) - 1)))
    if not line.isValid():
        line = layout.lineAt(count - 1)
    return block_top + line.y()
