"""The conversation sidebar: search, new, rename, delete (with undo), export to Markdown / JSON."""

from __future__ import annotations

import json
import time
from pathlib import Path

from PySide6.QtCore import QModelIndex, QPoint, QRectF, QSize, Qt, QTimer, Signal
from PySide6.QtGui import QColor, QFont, QKeySequence, QPainter, QShortcut
from PySide6.QtWidgets import (
    QFileDialog,
    QInputDialog,
    QLabel,
    QLineEdit,
    QListView,
    QMenu,
    QPushButton,
    QStyle,
    QStyledItemDelegate,
    QStyleOptionViewItem,
    QVBoxLayout,
    QWidget,
)

from app.chat.conversation_list import ConversationListModel, ConversationRole
from app.data.store import DeletedConversation, Store
from app.shell.theme import LIGHT, Palette

MODE_LABEL = {"chat": "Chat", "text": "Text", "instruct": "Instruct"}


def ago(t: float, now: float | None = None) -> str:
    seconds = max((now or time.time()) - t, 0)
    for size, unit in ((86400 * 7, "w"), (86400, "d"), (3600, "h"), (60, "min")):
        if seconds >= size:
            return f"{int(seconds // size)} {unit} ago"
    return "just now"


def placeholder_width(edit: QLineEdit) -> int:
    """The width a line edit needs to show its whole placeholder: the text, the style's
    padding and frame, and the clear button's room."""
    chrome = 2 * 8 + 2 + 2 * 2                          # style sheet padding, frame, margins
    if edit.isClearButtonEnabled():
        chrome += edit.style().pixelMetric(QStyle.PixelMetric.PM_SmallIconSize) + 8
    return edit.fontMetrics().horizontalAdvance(edit.placeholderText()) + chrome


def rename_dialog(parent: QWidget, title: str) -> QInputDialog:
    """"Rename conversation", its field wide enough for the whole title (up to 640 px)."""
    dialog = QInputDialog(parent)
    dialog.setWindowTitle("Rename conversation")
    dialog.setLabelText("Title:")
    dialog.setTextValue(title)
    text = dialog.fontMetrics().horizontalAdvance(title) + 64
    dialog.resize(min(max(text, 360), 640), dialog.sizeHint().height())
    return dialog


class ConversationDelegate(QStyledItemDelegate):
    def __init__(self, parent: QWidget) -> None:
        super().__init__(parent)
        self.palette: Palette = LIGHT

    def sizeHint(self, option: QStyleOptionViewItem, index: QModelIndex) -> QSize:  # type: ignore
        return QSize(120, 48)

    def paint(self, painter: QPainter, option: QStyleOptionViewItem,
              index: QModelIndex) -> None:  # type: ignore[override]
        p = self.palette
        rect = QRectF(option.rect).adjusted(6, 2, -6, -2)  # type: ignore[attr-defined]
        state = option.state  # type: ignore[attr-defined]
        painter.save()
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        if state & QStyle.StateFlag.State_Selected:
            painter.setBrush(QColor(p.accent_soft))
            painter.setPen(Qt.PenStyle.NoPen)
            painter.drawRoundedRect(rect, 7, 7)
        elif state & QStyle.StateFlag.State_MouseOver:
            painter.setBrush(QColor(p.border))
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setOpacity(0.45)
            painter.drawRoundedRect(rect, 7, 7)
            painter.setOpacity(1.0)
        font = QFont(option.font)  # type: ignore[attr-defined]
        painter.setFont(font)
        painter.setPen(QColor(p.text))
        title_rect = rect.adjusted(10, 5, -10, -rect.height() / 2)
        title = painter.fontMetrics().elidedText(index.data(ConversationRole.TitleRole) or "",
                                                 Qt.TextElideMode.ElideRight,
                                                 int(title_rect.width()))
        painter.drawText(title_rect, Qt.AlignmentFlag.AlignVCenter, title)
        small = QFont(font)
        small.setPointSizeF(max(font.pointSizeF() - 1.5, 7))
        painter.setFont(small)
        painter.setPen(QColor(p.muted))
        mode = MODE_LABEL.get(index.data(ConversationRole.ModeRole) or "chat", "Chat")
        when = ago(float(index.data(ConversationRole.UpdatedAtRole) or 0))
        painter.drawText(rect.adjusted(10, rect.height() / 2, -10, -4),
                         Qt.AlignmentFlag.AlignVCenter, f"{mode} · {when}")
        if state & QStyle.StateFlag.State_HasFocus:
            painter.setPen(QColor(p.accent))
            painter.setBrush(Qt.BrushStyle.NoBrush)
            painter.drawRoundedRect(rect, 7, 7)
        painter.restore()


class Sidebar(QWidget):
    conversationSelected = Signal(int, str)    # id, mode
    newRequested = Signal()
    conversationDeleted = Signal(object)       # DeletedConversation
    exported = Signal(str)                     # a path written

    def __init__(self, store: Store, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("sidebar")
        self.store = store
        self.model = ConversationListModel(store, self)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(10, 12, 10, 10)
        layout.setSpacing(8)
        self.new_button = QPushButton("+  New conversation")
        self.new_button.setObjectName("primaryButton")
        self.new_button.setAccessibleName("New conversation")
        self.new_button.setToolTip("Start a new conversation (Ctrl+N)")
        self.new_button.clicked.connect(self.newRequested)
        self.search = QLineEdit()
        self.search.setObjectName("searchBox")
        self.search.setAccessibleName("Search conversations")
        self.search.setPlaceholderText("Search titles and messages")
        self.search.setToolTip("Search the conversations' titles and messages (Ctrl+F)")
        self.search.setClearButtonEnabled(True)
        self.search.setMinimumWidth(placeholder_width(self.search))
        self._search_timer = QTimer(self, singleShot=True, interval=200)
        self._search_timer.timeout.connect(self.refresh)
        self.search.textChanged.connect(self._search_timer.start)
        self.list = QListView()
        self.list.setObjectName("conversationList")
        self.list.setAccessibleName("Conversations")
        self.list.setModel(self.model)
        self.delegate = ConversationDelegate(self.list)
        self.list.setItemDelegate(self.delegate)
        self.list.setMouseTracking(True)
        self.list.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.list.setFrameShape(QListView.Shape.NoFrame)
        self.list.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.list.customContextMenuRequested.connect(self._menu)
        self.list.activated.connect(self._activated)
        self.list.clicked.connect(self._activated)
        for keys, slot in (("F2", self.rename_current), ("Delete", self.delete_current)):
            QShortcut(QKeySequence(keys), self.list, slot,
                      context=Qt.ShortcutContext.WidgetShortcut)
        layout.addWidget(self.new_button)
        self.no_results = QLabel("No results")
        self.no_results.setObjectName("mutedLabel")
        self.no_results.setAccessibleName("No conversations match the search")
        self.no_results.setAlignment(Qt.AlignmentFlag.AlignHCenter)
        self.no_results.hide()
        layout.addWidget(self.search)
        layout.addWidget(self.no_results)
        layout.addWidget(self.list, 1)
        self._current = 0
        self.refresh()

    def set_palette(self, palette: Palette) -> None:
        self.delegate.palette = palette
        self.list.viewport().update()

    def shutdown(self) -> None:
        """The window is closing (the history database with it): no delayed search refresh."""
        self._search_timer.stop()
        self._search_timer.timeout.disconnect(self.refresh)

    def refresh(self) -> None:
        self.model.refresh(self.search.text())
        self.no_results.setVisible(bool(self.search.text().strip())
                                   and self.model.rowCount() == 0)
        self.select(self._current)

    def select(self, conv_id: int) -> None:
        self._current = conv_id
        row = self.model.row_of(conv_id) if conv_id else -1
        if row >= 0:
            self.list.setCurrentIndex(self.model.index(row, 0))
        else:
            self.list.clearSelection()

    def _activated(self, index: QModelIndex) -> None:
        conv = self.model.conversation_at(index.row())
        self._current = conv.id
        self.conversationSelected.emit(conv.id, conv.mode)

    def _current_id(self) -> int:
        index = self.list.currentIndex()
        return self.model.conversation_at(index.row()).id if index.isValid() else 0

    def _menu(self, pos: QPoint) -> None:
        index = self.list.indexAt(pos)
        if not index.isValid():
            return
        self.list.setCurrentIndex(index)
        menu = QMenu(self)
        menu.addAction("Rename…", self.rename_current)
        menu.addAction("Export as Markdown…", lambda: self.export_current("md"))
        menu.addAction("Export as JSON…", lambda: self.export_current("json"))
        menu.addSeparator()
        menu.addAction("Delete", self.delete_current)
        menu.exec(self.list.viewport().mapToGlobal(pos))

    def rename_current(self) -> None:
        conv_id = self._current_id()
        if not conv_id:
            return
        dialog = rename_dialog(self, self.store.get_conversation(conv_id).title)
        title = dialog.textValue() if dialog.exec() else ""
        if title.strip():
            self.rename(conv_id, title.strip())

    def rename(self, conv_id: int, title: str) -> None:
        self.store.rename(conv_id, title)
        self.refresh()

    def delete_current(self) -> None:
        conv_id = self._current_id()
        if conv_id:
            self.delete(conv_id)

    def delete(self, conv_id: int) -> DeletedConversation:
        deleted = self.store.delete(conv_id)
        if conv_id == self._current:
            self._current = 0
        self.refresh()
        self.conversationDeleted.emit(deleted)
        return deleted

    def restore(self, deleted: DeletedConversation) -> None:
        self.store.restore(deleted)
        self.refresh()

    def export_current(self, kind: str) -> None:
        conv_id = self._current_id()
        if not conv_id:
            return
        title = self.store.get_conversation(conv_id).title
        safe = "".join(c if c.isalnum() or c in " -_" else "_" for c in title).strip() or "chat"
        filters = "Markdown (*.md)" if kind == "md" else "JSON (*.json)"
        path, _ = QFileDialog.getSaveFileName(self, "Export conversation", f"{safe}.{kind}",
                                              filters)
        if path:
            self.export(conv_id, Path(path), kind)

    def export(self, conv_id: int, path: Path, kind: str) -> None:
        if kind == "md":
            path.write_text(self.store.export_markdown(conv_id), encoding="utf-8")
        else:
            path.write_text(json.dumps(self.store.export_json(conv_id), indent=2,
                                       ensure_ascii=False), encoding="utf-8")
        self.exported.emit(str(path))
