"""MessageDelegate: paints each transcript row as Markdown in a bubble (no widget per row).

No widget per message: the delegate paints bubbles, code blocks with a Copy chip, a stats line
and action links (Copy, Edit, Regenerate) with a regenerated reply's ◀ 2/3 ▶ (chips.py), a
reply's folded Thinking block (thinking.py), a long message folded to its first lines with "Show
more" (layout.py), and handles clicks on them and on links (which open only by the rule in
links.py, their URL shown as a tooltip first).
Rendered documents are cached per (message, width), so 1,000-message conversations lay out once
and scroll smoothly.
"""

from __future__ import annotations

from PySide6.QtCore import (
    QEvent,
    QModelIndex,
    QPersistentModelIndex,
    QPointF,
    QRect,
    QRectF,
    QSize,
    Qt,
    Signal,
)
from PySide6.QtGui import QColor, QFont, QHelpEvent, QPainter
from PySide6.QtWidgets import (
    QAbstractItemView,
    QListView,
    QStyle,
    QStyledItemDelegate,
    QStyleOptionViewItem,
    QToolTip,
)

from app.chat.footer import footer_text
from app.chat.render import chips, thinking
from app.chat.render.highlight import Highlighter
from app.chat.render.layout import (
    GAP,
    ROLE_H,
    Geometry,
    fold_label,
    row_geometry,
    row_height,
    text_width,
)
from app.chat.render.links import link_tooltip, open_link
from app.chat.render.markdown import RenderCache, RenderedMessage, render_markdown
from app.chat.render.pixmaps import DocumentPixmaps, paint_document, painted_area
from app.chat.transcript import Role, TranscriptMessage
from app.shell.theme import LIGHT, Palette

LAID_OUT_LIMIT = 20_000    # row heights remembered (rows × widths seen)


class MessageDelegate(QStyledItemDelegate):
    actionTriggered = Signal(str, int)        # a MessageAction's value, row
    codeCopied = Signal(str)
    linkRefused = Signal(str)                 # a clicked link the rule does not open

    def __init__(self, view: QListView) -> None:
        super().__init__(view)
        self._view = view
        self.cache = RenderCache()
        self.highlighter = Highlighter()
        self.thinking = thinking.ThinkingDocs()
        self.pixmaps = DocumentPixmaps()
        # row key → (the message measured, the height last given to the view)
        self._laid_out: dict[tuple[int, int], tuple[TranscriptMessage, int]] = {}
        self.palette: Palette = LIGHT
        self.font = QFont(view.font())
        self.small = QFont(self.font)
        self.small.setPointSizeF(max(self.font.pointSizeF() - 1.5, 7))
        self.bold = QFont(self.font)
        self.bold.setBold(True)

    def set_palette(self, palette: Palette) -> None:
        self.palette = palette
        self.cache.clear()
        self.thinking.clear()
        self.pixmaps.clear()
        self._laid_out.clear()

    # -- geometry ----------------------------------------------------------------------------
    @staticmethod
    def text_width(total: int, role: str) -> float:
        return text_width(total, role)

    @staticmethod
    def message(index: QModelIndex | QPersistentModelIndex) -> TranscriptMessage:
        """The row's message, read once (each `index.data` call crosses into Qt and back)."""
        msg = index.data(Role.MessageRole)
        return msg if msg is not None else TranscriptMessage("assistant", "", -index.row())

    @staticmethod
    def _key(msg: TranscriptMessage, index: QModelIndex | QPersistentModelIndex,
             width: int) -> tuple[int, int]:
        return int(msg.message_id or -index.row()), width

    def _text_key(self, msg: TranscriptMessage, index: QModelIndex | QPersistentModelIndex,
                  width: int) -> tuple[int, int]:
        return self._key(msg, index, int(self.text_width(width, msg.role or "assistant")))

    def last_rendering(self, index: QModelIndex | QPersistentModelIndex,
                       width: int) -> RenderedMessage | None:
        """What the row was last rendered as (before its content changed, say)."""
        return self.cache.latest(self._text_key(self.message(index), index, width))

    def rendered(self, index: QModelIndex | QPersistentModelIndex, width: int,
                 msg: TranscriptMessage | None = None) -> RenderedMessage:
        msg = msg or self.message(index)
        content = msg.content or ""
        key = self._text_key(msg, index, width)
        item = self.cache.get(key, content)
        if item is None:
            item = render_markdown(content or " ", key[1], self.palette, self.font,
                                   self.highlighter)
            self.cache.put(key, content, item)
        return item

    def _size(self, msg: TranscriptMessage, index: QModelIndex | QPersistentModelIndex,
              width: int) -> tuple[float, float, float | None]:
        """(height, ideal width, where it folds) of the message's text."""
        size = self.cache.size_of(self._text_key(msg, index, width), msg.content or "")
        if size is None:
            item = self.rendered(index, width, msg)
            size = (item.height, item.ideal_width, item.fold_at)
        return size

    @staticmethod
    def _shown(msg: TranscriptMessage, size: tuple[float, float, float | None]) -> float:
        """The height of the text on screen: a long message folded shows its first lines."""
        height, _, fold_at = size
        return fold_at if fold_at is not None and not msg.unfolded else height

    def foldable(self, index: QModelIndex | QPersistentModelIndex) -> bool:
        """Whether the row's message is long enough to fold (Show more / Show less)."""
        msg = self.message(index)
        return self._size(msg, index, self._view.viewport().width())[2] is not None

    def _reasoning_key(self, msg: TranscriptMessage,
                       index: QModelIndex | QPersistentModelIndex, width: int) -> tuple[int, int]:
        return self._key(msg, index, int(self.text_width(width, "assistant") - thinking.INDENT))

    def reasoning_rendered(self, index: QModelIndex | QPersistentModelIndex, width: int,
                           msg: TranscriptMessage | None = None) -> RenderedMessage | None:
        """The reply's thinking as a document (None when it did not think)."""
        msg = msg or self.message(index)
        return self.thinking.rendered(msg, self._reasoning_key(msg, index, width),
                                      self.palette, self.font)

    def _thinking_height(self, msg: TranscriptMessage,
                         index: QModelIndex | QPersistentModelIndex, width: int) -> float:
        return self.thinking.height(msg, self._reasoning_key(msg, index, width), self.palette,
                                    self.font)

    def geometry(self, index: QModelIndex | QPersistentModelIndex, rect: QRect,
                 msg: TranscriptMessage | None = None) -> Geometry:
        msg = msg or self.message(index)
        size = self._size(msg, index, rect.width())
        last = index.row() == index.model().rowCount() - 1
        return row_geometry(rect, msg, (self._shown(msg, size), size[1]),
                            self._thinking_height(msg, index, rect.width()),
                            chips.actions_for(msg, last), self.small, size[2] is not None)

    def sizeHint(self, option: QStyleOptionViewItem, index: QModelIndex | QPersistentModelIndex
                 ) -> QSize:
        width = self._view.viewport().width()
        msg = self.message(index)
        key = self._key(msg, index, width)
        hint = self._laid_out.get(key)
        if hint is not None and hint[0] is msg:         # the very message it was measured for
            return QSize(width, hint[1])
        size = self._size(msg, index, width)
        total = row_height(self._shown(msg, size), self._thinking_height(msg, index, width), msg,
                           size[2] is not None)
        if len(self._laid_out) >= LAID_OUT_LIMIT:       # every width a resize went through
            self._laid_out.clear()
        self._laid_out[key] = (msg, total)
        return QSize(width, total)

    def height_changed(self, index: QModelIndex | QPersistentModelIndex) -> bool:
        """Whether the row now needs another height than the one last given to the view (when
        it does not, a streamed token repaints that row alone instead of laying out all)."""
        msg = self.message(index)
        before = self._laid_out.get(self._key(msg, index, self._view.viewport().width()))
        return before is None or before[1] != self.sizeHint(QStyleOptionViewItem(), index).height()

    # -- painting ----------------------------------------------------------------------------
    def paint(self, painter: QPainter, option: QStyleOptionViewItem,
              index: QModelIndex | QPersistentModelIndex) -> None:
        p = self.palette
        rect = option.rect  # type: ignore[attr-defined]
        msg = self.message(index)
        role = msg.role or "assistant"
        geo = self.geometry(index, rect, msg)
        item = self.rendered(index, rect.width(), msg)
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
        if geo.thinking is not None:
            thinking.paint_thinking(
                painter, msg, geo.thinking, geo.reasoning,
                self.reasoning_rendered(index, rect.width(), msg), p, self.small, self.pixmaps,
                ("thinking", *self._key(msg, index, rect.width())), QColor(bg))
        if geo.fold is not None and not msg.unfolded:     # folded: its first lines only
            painter.save()
            painter.setClipRect(QRectF(geo.bubble.left(), geo.text.top() - 8,
                                       geo.bubble.width(), geo.text.height() + 8))
        if msg.streaming:                            # new text on every update: draw it
            painter.translate(geo.text.topLeft())
            paint_document(painter, item, p, painted_area(painter))
            painter.translate(-geo.text.topLeft())
        else:
            self.pixmaps.draw(painter, self._key(msg, index, rect.width()), item, p,
                              QColor(bg), geo.text)
        chips.paint_code_chips(painter, geo, item, p, self.small)
        if geo.fold is not None:
            if not msg.unfolded:
                painter.restore()
            painter.setFont(self.small)
            painter.setPen(QColor(p.accent))
            painter.drawText(geo.fold.adjusted(4, 0, 0, 0),
                             Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
                             ("▴ " if msg.unfolded else "▾ ") + fold_label(msg))
        painter.setFont(self.small)
        painter.setPen(QColor(p.muted))
        painter.drawText(geo.footer, Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
                         self.footer(msg))
        hovered = bool(state & QStyle.StateFlag.State_MouseOver) or \
            bool(state & QStyle.StateFlag.State_HasFocus)
        chips.paint_actions(painter, geo, msg, p, hovered)
        painter.restore()

    @staticmethod
    def footer(msg: TranscriptMessage) -> str:
        """The stats line painted under a message: its TTFT, TPOT, tokens and how it ended."""
        return footer_text(msg.stats, msg.finish_reason, msg.streaming,
                           thought=bool(msg.reasoning))

    @staticmethod
    def code_chip_rects(geo: Geometry, item: RenderedMessage) -> list[QRectF]:
        """The Copy chip of each code block shown (a folded message hides the later ones)."""
        return chips.code_chip_rects(geo, item)

    # -- clicks ------------------------------------------------------------------------------
    def editorEvent(self, event: QEvent, model: object, option: QStyleOptionViewItem,
                    index: QModelIndex | QPersistentModelIndex) -> bool:
        if event.type() != QEvent.Type.MouseButtonRelease:
            return False
        pos = event.position()  # type: ignore[attr-defined]
        rect = option.rect  # type: ignore[attr-defined]
        msg = self.message(index)
        geo = self.geometry(index, rect, msg)
        item = self.rendered(index, rect.width(), msg)
        for chip, block in zip(self.code_chip_rects(geo, item), item.code_blocks, strict=False):
            if chip.contains(pos):
                self.codeCopied.emit(block.text)
                return True
        for name, r in geo.actions:
            if r.contains(pos):
                self.actionTriggered.emit(name, index.row())
                return True
        if geo.thinking is not None and geo.thinking.contains(pos):
            index.model().setData(index, not msg.thinking_open, Role.ThinkingOpenRole)
            return True
        if geo.fold is not None and geo.fold.contains(pos):
            index.model().setData(index, not msg.unfolded, Role.UnfoldedRole)
            return True
        href = self.link_at(index, rect, pos)
        if href:
            if not open_link(href):
                self.linkRefused.emit(href)
            return True
        return False

    def link_at(self, index: QModelIndex | QPersistentModelIndex, rect: QRect,
                pos: QPointF) -> str:
        """The link under `pos` (viewport coordinates) in the row's answer or unfolded
        thinking: its href, or ""."""
        msg = self.message(index)
        geo = self.geometry(index, rect, msg)
        places = [(geo.text, self.rendered(index, rect.width(), msg))]
        if geo.reasoning is not None:
            places.append((geo.reasoning, self.reasoning_rendered(index, rect.width(), msg)))
        for area, item in places:
            if item is not None and area.contains(pos):
                return item.layout.anchorAt(pos - area.topLeft())
        return ""

    def over_clickable(self, index: QModelIndex | QPersistentModelIndex, rect: QRect,
                       pos: QPointF) -> bool:
        """Whether `pos` is on a link or the Thinking line (the pointer shows a hand)."""
        geo = self.geometry(index, rect)
        return bool(geo.thinking is not None and geo.thinking.contains(pos)) or \
            bool(geo.fold is not None and geo.fold.contains(pos)) or \
            bool(self.link_at(index, rect, pos))

    def helpEvent(self, event: QHelpEvent, view: QAbstractItemView,  # type: ignore[override]
                  option: QStyleOptionViewItem,
                  index: QModelIndex | QPersistentModelIndex) -> bool:
        """A link's tooltip is its URL (and whether it opens); the Thinking line and a reply's
        ◀ ▶ say what a click does."""
        if event.type() != QEvent.Type.ToolTip:
            return super().helpEvent(event, view, option, index)
        rect = option.rect  # type: ignore[attr-defined]
        pos = QPointF(event.pos())
        href = self.link_at(index, rect, pos)
        geo = self.geometry(index, rect)
        arrow = next((name for name, r in geo.actions if name in chips.SWITCH
                      and r.contains(pos)), None)
        if href:
            text = link_tooltip(href)
        elif arrow is not None:
            text = chips.switch_tooltip(self.message(index), arrow)
        elif geo.thinking is not None and geo.thinking.contains(pos):
            text = "Hide the thinking" if self.message(index).thinking_open else \
                "Show the thinking"
        else:
            QToolTip.hideText()
            return False
        QToolTip.showText(event.globalPos(), text, view)
        return True

