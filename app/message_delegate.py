"""MessageDelegate: paints each transcript row as Markdown in a bubble (no widget per row).

No widget per message: the delegate paints bubbles, code blocks with a Copy chip, a stats line
and action links (Copy, Edit, Regenerate), and handles clicks on them. Rendered documents are
cached per (message, width), so 1,000-message conversations lay out once and scroll smoothly.
"""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtCore import (
    QEvent,
    QModelIndex,
    QPersistentModelIndex,
    QRect,
    QRectF,
    QSize,
    Qt,
    Signal,
)
from PySide6.QtGui import (
    QColor,
    QFont,
    QFontMetrics,
    QPainter,
)
from PySide6.QtWidgets import (
    QListView,
    QStyle,
    QStyledItemDelegate,
    QStyleOptionViewItem,
)

from .doc_pixmaps import DocumentPixmaps, paint_document
from .footer import footer_height, footer_text
from .markdown_doc import RenderCache, RenderedMessage, render_markdown
from .theme import LIGHT, Palette
from .transcript import Role

MARGIN_X = 20
PAD = 12
ROLE_H = 20
GAP = 6
@dataclass(frozen=True)
class Geometry:
    bubble: QRectF
    text: QRectF
    footer: QRectF
    actions: list[tuple[str, QRectF]]


class MessageDelegate(QStyledItemDelegate):
    actionTriggered = Signal(str, int)        # "copy" | "edit" | "regenerate" | "stop", row
    codeCopied = Signal(str)

    def __init__(self, view: QListView) -> None:
        super().__init__(view)
        self._view = view
        self.cache = RenderCache()
        self.pixmaps = DocumentPixmaps()
        self._laid_out: dict[tuple[int, int], int] = {}    # row key → height last reported
        self.palette: Palette = LIGHT
        self.font = QFont(view.font())
        self.small = QFont(self.font)
        self.small.setPointSizeF(max(self.font.pointSizeF() - 1.5, 7))
        self.bold = QFont(self.font)
        self.bold.setBold(True)

    def set_palette(self, palette: Palette) -> None:
        self.palette = palette
        self.cache.clear()
        self.pixmaps.clear()

    # -- geometry ----------------------------------------------------------------------------
    def text_width(self, total: int, role: str) -> float:
        usable = max(total - 2 * MARGIN_X - 2 * PAD, 80)
        return usable * 0.85 if role == "user" else usable

    def _key(self, index: QModelIndex | QPersistentModelIndex, text_w: int) -> tuple[int, int]:
        return int(index.data(Role.MessageIdRole) or -index.row()), text_w

    def rendered(self, index: QModelIndex | QPersistentModelIndex, width: int) -> RenderedMessage:
        role = index.data(Role.RoleRole) or "assistant"
        content = index.data(Role.ContentRole) or ""
        key = self._key(index, int(self.text_width(width, role)))
        item = self.cache.get(key, content)
        if item is None:
            item = render_markdown(content or " ", key[1], self.palette, self.font)
            self.cache.put(key, content, item)
        return item

    def _size(self, index: QModelIndex | QPersistentModelIndex,
              width: int) -> tuple[float, float]:
        role = index.data(Role.RoleRole) or "assistant"
        content = index.data(Role.ContentRole) or ""
        size = self.cache.size_of(self._key(index, int(self.text_width(width, role))), content)
        if size is None:
            item = self.rendered(index, width)
            size = (item.height, item.ideal_width)
        return size

    def geometry(self, index: QModelIndex | QPersistentModelIndex, rect: QRect) -> Geometry:
        role = index.data(Role.RoleRole) or "assistant"
        height, ideal = self._size(index, rect.width())
        max_w = self.text_width(rect.width(), role)
        text_w = min(max(ideal, 40), max_w) if role == "user" else max_w
        bubble_w = text_w + 2 * PAD
        left = rect.right() - MARGIN_X - bubble_w if role == "user" else rect.left() + MARGIN_X
        top = rect.top() + GAP + ROLE_H
        bubble = QRectF(left, top, bubble_w, height + 2 * PAD - 4)
        text = QRectF(left + PAD, top + PAD - 2, text_w, height)
        footer = QRectF(left + 2, bubble.bottom() + 2, max(bubble_w, 360), footer_height(index))
        actions = []
        metrics = QFontMetrics(self.small)
        names = self._actions_for(index)
        widths = [metrics.horizontalAdvance(n.capitalize()) + 16 for n in names]
        # on the label line: after "Assistant", or before "You" (right-aligned user bubbles)
        x = left + 90 if role != "user" else bubble.right() - 48 - sum(w + 4 for w in widths)
        for name, w in zip(names, widths, strict=True):
            actions.append((name, QRectF(x, rect.top() + GAP + 1, w, ROLE_H - 2)))
            x += w + 4
        return Geometry(bubble, text, footer, actions)

    def _actions_for(self, index: QModelIndex | QPersistentModelIndex) -> list[str]:
        if index.data(Role.StreamingRole):
            return ["stop"]
        role = index.data(Role.RoleRole)
        actions = ["copy"]
        if role == "user":
            actions.append("edit")
        elif role == "assistant" and index.row() == index.model().rowCount() - 1:
            actions.append("regenerate")
        return actions

    def sizeHint(self, option: QStyleOptionViewItem, index: QModelIndex | QPersistentModelIndex
                 ) -> QSize:
        width = self._view.viewport().width()
        height, _ = self._size(index, width)
        total = int(GAP + ROLE_H + height + 2 * PAD - 4 + 2 + footer_height(index) + GAP + 6)
        self._laid_out[self._key(index, width)] = total
        return QSize(width, total)

    def height_changed(self, index: QModelIndex | QPersistentModelIndex) -> bool:
        """Whether the row now needs another height than the one last given to the view (when
        it does not, a streamed token repaints that row alone instead of laying out all)."""
        before = self._laid_out.get(self._key(index, self._view.viewport().width()))
        return before != self.sizeHint(QStyleOptionViewItem(), index).height()

    # -- painting ----------------------------------------------------------------------------
    def paint(self, painter: QPainter, option: QStyleOptionViewItem,
              index: QModelIndex | QPersistentModelIndex) -> None:
        p = self.palette
        rect = option.rect  # type: ignore[attr-defined]
        role = index.data(Role.RoleRole) or "assistant"
        geo = self.geometry(index, rect)
        item = self.rendered(index, rect.width())
        painter.save()
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setFont(self.bold)
        painter.setPen(QColor(p.muted))
        label = {"user": "You", "assistant": "Assistant", "system": "System"}.get(role, role)
        role_rect = QRectF(geo.bubble.left() + 2, rect.top() + GAP, geo.bubble.width(), ROLE_H)
        align = Qt.AlignmentFlag.AlignRight if role == "user" else Qt.AlignmentFlag.AlignLeft
        painter.drawText(role_rect, align | Qt.AlignmentFlag.AlignVCenter, label)
        bg = p.user_bubble if role == "user" else p.assistant_bubble
        painter.setPen(QColor(p.border) if role != "user" else Qt.PenStyle.NoPen)
        painter.setBrush(QColor(bg))
        painter.drawRoundedRect(geo.bubble, 10, 10)
        state = option.state  # type: ignore[attr-defined]
        if state & QStyle.StateFlag.State_HasFocus and self._view.hasFocus():
            painter.setPen(QColor(p.accent))
            painter.setBrush(Qt.BrushStyle.NoBrush)
            painter.drawRoundedRect(geo.bubble.adjusted(-2, -2, 2, 2), 11, 11)
        if index.data(Role.StreamingRole):           # new text on every update: draw it
            painter.translate(geo.text.topLeft())
            paint_document(painter, item, p)
            painter.translate(-geo.text.topLeft())
        else:
            self.pixmaps.draw(painter, self._key(index, rect.width()), item, p, QColor(bg),
                              geo.text)
        self._paint_code_chips(painter, geo, item)
        painter.setFont(self.small)
        painter.setPen(QColor(p.muted))
        painter.drawText(geo.footer, Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
                         self.footer(index))
        hovered = bool(state & QStyle.StateFlag.State_MouseOver) or \
            bool(state & QStyle.StateFlag.State_HasFocus)
        if hovered or index.data(Role.StreamingRole):
            for name, r in geo.actions:
                painter.setPen(QColor(p.accent))
                painter.setBrush(QColor(p.accent_soft))
                painter.drawRoundedRect(r, 5, 5)
                painter.drawText(r, Qt.AlignmentFlag.AlignCenter, name.capitalize())
        painter.restore()

    @staticmethod
    def footer(index: QModelIndex | QPersistentModelIndex) -> str:
        """The stats line painted under a message: its TTFT, TPOT, tokens and how it ended."""
        return footer_text(index.data(Role.StatsRole), index.data(Role.FinishReasonRole),
                           bool(index.data(Role.StreamingRole)))

    def _paint_code_chips(self, painter: QPainter, geo: Geometry, item: RenderedMessage) -> None:
        painter.setFont(self.small)
        for rect in self.code_chip_rects(geo, item):
            painter.setPen(QColor(self.palette.muted))
            painter.setBrush(QColor(self.palette.surface))
            painter.drawRoundedRect(rect, 4, 4)
            painter.drawText(rect, Qt.AlignmentFlag.AlignCenter, "Copy")

    def code_chip_rects(self, geo: Geometry, item: RenderedMessage) -> list[QRectF]:
        chips = []
        for block in item.code_blocks:
            r = block.rect.translated(geo.text.topLeft())
            chips.append(QRectF(r.right() - 54, r.top() + 5, 48, 20))
        return chips

    # -- clicks ------------------------------------------------------------------------------
    def editorEvent(self, event: QEvent, model: object, option: QStyleOptionViewItem,
                    index: QModelIndex | QPersistentModelIndex) -> bool:
        if event.type() != QEvent.Type.MouseButtonRelease:
            return False
        pos = event.position()  # type: ignore[attr-defined]
        rect = option.rect  # type: ignore[attr-defined]
        geo = self.geometry(index, rect)
        item = self.rendered(index, rect.width())
        for chip, block in zip(self.code_chip_rects(geo, item), item.code_blocks, strict=False):
            if chip.contains(pos):
                self.codeCopied.emit(block.text)
                return True
        for name, r in geo.actions:
            if r.contains(pos):
                self.actionTriggered.emit(name, index.row())
                return True
        return False
