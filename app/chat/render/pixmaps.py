"""Finished messages' documents painted once into pixmaps: repainting the transcript while a reply
streams, or scrolling it, blits them instead of laying the text out and drawing it again."""

from __future__ import annotations

from collections import OrderedDict

from PySide6.QtCore import QRectF
from PySide6.QtGui import QAbstractTextDocumentLayout, QColor, QPainter, QPalette, QPixmap

from app.chat.render.markdown import RenderedMessage
from app.shell.theme import Palette

PIXMAP_LIMIT = 48          # about three screens of messages
TALLEST_PX = 8192          # a taller document is drawn directly (no pixmap that size)


def paint_document(painter: QPainter, item: RenderedMessage, palette: Palette,
                   area: QRectF | None = None, text_color: str | None = None) -> None:
    """The message's code-block shading and text, with the document's top-left at (0, 0);
    with `area` (document coordinates), only the lines that reach into it; `text_color`
    instead of the palette's text colour (the thinking's muted text)."""
    painter.setPen(QColor(palette.border))
    painter.setBrush(QColor(palette.code_bg))
    for block in item.code_blocks:
        if area is None or block.rect.intersects(area):
            painter.drawRoundedRect(block.rect, 6, 6)
    ctx = QAbstractTextDocumentLayout.PaintContext()
    if area is not None:
        ctx.clip = area
    ctx.palette.setColor(QPalette.ColorRole.Text, QColor(text_color or palette.text))
    item.layout.draw(painter, ctx)


def document_bounds(item: RenderedMessage, width: float) -> QRectF:
    """What paint_document touches within `width` (the bubble's text width, which for a short
    message of yours is less than the width the document was laid out at): the text, and code
    blocks reaching into the margins."""
    bounds = QRectF(0, 0, width, item.height)
    for block in item.code_blocks:
        bounds = bounds.united(block.rect)
    bounds.setRight(min(bounds.right(), width))
    return bounds.adjusted(-1, -1, 1, 1)          # the blocks' 1 px border


class DocumentPixmaps:
    """A small LRU of document pixmaps, each valid for the very RenderedMessage it was drawn
    from (a new rendering — new content, width or palette — draws a new one)."""

    def __init__(self, limit: int = PIXMAP_LIMIT) -> None:
        self._limit = limit
        self._items: OrderedDict[tuple[object, int], tuple[RenderedMessage, QPixmap, QRectF]] = \
            OrderedDict()

    def draw(self, painter: QPainter, key: object, item: RenderedMessage, palette: Palette,
             background: QColor, text: QRectF, text_color: str | None = None) -> None:
        """Paint `item` into the bubble's `text` rectangle over a solid `background`, from the
        cache (`key` names what is drawn there, one colour per key)."""
        ratio = painter.device().devicePixelRatioF()
        if item.height * ratio > TALLEST_PX:
            painter.translate(text.topLeft())
            paint_document(painter, item, palette, painted_area(painter), text_color)
            painter.translate(-text.topLeft())
            return
        cache_key = (key, round(ratio * 100), round(text.width()))
        entry = self._items.get(cache_key)
        if entry is None or entry[0] is not item:
            entry = (item, *self._render(item, palette, background, ratio, text.width(),
                                         text_color))
            self._items[cache_key] = entry
            while len(self._items) > self._limit:
                self._items.popitem(last=False)
        self._items.move_to_end(cache_key)
        _, pixmap, bounds = entry
        painter.drawPixmap(text.topLeft() + bounds.topLeft(), pixmap)

    @staticmethod
    def _render(item: RenderedMessage, palette: Palette, background: QColor,
                ratio: float, width: float, text_color: str | None) -> tuple[QPixmap, QRectF]:
        bounds = document_bounds(item, width)
        pixmap = QPixmap(max(1, round(bounds.width() * ratio)),
                         max(1, round(bounds.height() * ratio)))
        pixmap.setDevicePixelRatio(ratio)
        pixmap.fill(background)          # opaque: text keeps its sub-pixel antialiasing
        painter = QPainter(pixmap)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.translate(-bounds.topLeft())
        paint_document(painter, item, palette, text_color=text_color)
        painter.end()
        return pixmap, bounds

    def clear(self) -> None:
        self._items.clear()

    def __len__(self) -> int:
        return len(self._items)


def painted_area(painter: QPainter) -> QRectF | None:
    """The part of the painter's current coordinates this paint event may touch (its system
    clip), so a document draws only the lines in it; None when unknown."""
    engine = painter.paintEngine()
    region = engine.systemClip() if engine is not None else None
    if region is None or region.isEmpty():
        return None
    inverse, invertible = painter.deviceTransform().inverted()
    if not invertible:
        return None
    return inverse.mapRect(QRectF(region.boundingRect()))
