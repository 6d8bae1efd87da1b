"""The transcript view: a QListView whose delegate paints each message as Markdown.

No widget per message: the delegate paints bubbles, code blocks with a Copy chip, a stats line
and action links (Copy, Edit, Regenerate), and handles clicks on them. Rendered documents are
cached per (message, width), so 1,000-message conversations lay out once and scroll smoothly.
Everything the mouse can do is on the keyboard too: Ctrl+C, Ctrl+Shift+C (the code), F2,
Ctrl+R, Ctrl+T (fold or unfold the thinking), Alt+Left / Alt+Right (a regenerated reply's
previous / next alternative: the selected reply, else the last), and the context menu (Menu key
or Shift+F10) on the selected message.
"""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtCore import QEvent, QModelIndex, QPoint, QRect, Qt, QTimer, Signal
from PySide6.QtGui import (
    QColor,
    QContextMenuEvent,
    QKeyEvent,
    QMouseEvent,
    QPainter,
    QPaintEvent,
)
from PySide6.QtWidgets import QAbstractItemView, QListView, QMenu, QWidget

from app.chat.message_actions import MessageAction
from app.chat.render.chips import NEXT_KEYS, PREVIOUS_KEYS
from app.chat.render.damage import first_changed_y
from app.chat.render.delegate import MessageDelegate
from app.chat.render.markdown import RenderedMessage
from app.chat.transcript import Role
from app.shell.theme import Palette

COPY_CODE_KEYS = "Ctrl+Shift+C"
THINKING_KEYS = "Ctrl+T"


class ChatView(QListView):
    actionTriggered = Signal(str, int)     # a MessageAction's value, row
    codeCopied = Signal(str)
    linkRefused = Signal(str)              # a clicked link that Parley does not open

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("chatView")
        self.setAccessibleName("Conversation")
        self.setAccessibleDescription("Messages; Ctrl+C copies, Ctrl+Shift+C copies the code, "
                                      "F2 edits a message of yours, Ctrl+R regenerates the last "
                                      "reply, Ctrl+T shows or hides a reply's thinking, "
                                      "Alt+Left and Alt+Right show a regenerated reply's other "
                                      "versions, the Menu key or Shift+F10 shows every action")
        self.setVerticalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        self.verticalScrollBar().setSingleStep(24)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setResizeMode(QListView.ResizeMode.Adjust)
        self.setLayoutMode(QListView.LayoutMode.Batched)
        self.setBatchSize(100)
        self.setUniformItemSizes(False)
        self.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.setMouseTracking(True)
        self.setFrameShape(QListView.Shape.NoFrame)
        self.delegate = MessageDelegate(self)
        self.setItemDelegate(self.delegate)
        self.delegate.actionTriggered.connect(self.actionTriggered)
        self.delegate.codeCopied.connect(self.codeCopied)
        self.delegate.linkRefused.connect(self.linkRefused)
        self.menu: QMenu | None = None
        self._stick_to_bottom = True
        self._scroll_timer = QTimer(self, singleShot=True, interval=0)
        self._scroll_timer.timeout.connect(self.scrollToBottom)
        self.verticalScrollBar().valueChanged.connect(self._scrolled)
        # the viewport paints its own background (paintEvent), so a streamed token repaints it
        # alone, not every widget under it from the window down
        self.viewport().setAttribute(Qt.WidgetAttribute.WA_OpaquePaintEvent, True)

    def setModel(self, model: object) -> None:  # type: ignore[override]
        super().setModel(model)  # type: ignore[arg-type]
        m = self.model()
        m.rowsInserted.connect(self._rows_inserted)
        m.modelReset.connect(self._model_reset)

    def paintEvent(self, event: QPaintEvent) -> None:  # type: ignore[override]
        painter = QPainter(self.viewport())
        painter.fillRect(event.rect(), QColor(self.delegate.palette.window))
        painter.end()
        super().paintEvent(event)

    def set_palette(self, palette: Palette) -> None:
        self.delegate.set_palette(palette)
        self.scheduleDelayedItemsLayout()
        self.viewport().update()

    def code_blocks(self, row: int) -> list[str]:
        """The code of each fenced block of message `row`, as the Copy chips copy it."""
        index = self.model().index(row, 0)
        if not index.isValid():
            return []
        item = self.delegate.rendered(index, self.viewport().width())
        return [block.text for block in item.code_blocks]

    def toggle_thinking(self, row: int) -> bool:
        """Fold or unfold message `row`'s thinking; False when it has none."""
        index = self.model().index(row, 0)
        return index.isValid() and self.model().setData(
            index, not index.data(Role.ThinkingOpenRole), Role.ThinkingOpenRole)

    def toggle_fold(self, row: int) -> bool:
        """Show long message `row` whole, or folded again; False when it is short."""
        index = self.model().index(row, 0)
        return index.isValid() and self.delegate.foldable(index) and self.model().setData(
            index, not index.data(Role.UnfoldedRole), Role.UnfoldedRole)

    def mouseMoveEvent(self, event: QMouseEvent) -> None:  # type: ignore[override]
        """A hand over a link or the Thinking line (what a click will do)."""
        pos = event.position()
        index = self.indexAt(pos.toPoint())
        if index.isValid() and self.delegate.over_clickable(index, self.visualRect(index), pos):
            self.viewport().setCursor(Qt.CursorShape.PointingHandCursor)
        else:
            self.viewport().unsetCursor()
        super().mouseMoveEvent(event)

    def _scrolled(self, value: int) -> None:
        bar = self.verticalScrollBar()
        self._stick_to_bottom = value >= bar.maximum() - 48

    def _rows_inserted(self, *_: object) -> None:
        self._follow()

    def _model_reset(self) -> None:
        self._stick_to_bottom = True
        self._follow()

    def dataChanged(self, top: QModelIndex, bottom: QModelIndex,  # type: ignore[override]
                    roles: Sequence[int] = ()) -> None:
        """A streamed token that keeps the row's height repaints that row alone; anything else
        goes through Qt (which repaints the whole viewport, and tells assistive technology —
        once per reply is enough, not once per token)."""
        content = list(roles) == [int(Role.ContentRole)]
        streamed = top == bottom and (content or list(roles) == [int(Role.ReasoningRole)])
        before = self.delegate.last_rendering(top, self.viewport().width()) if content else None
        resized = self.delegate.height_changed(top)
        if streamed and not resized:
            if content:
                self._repaint_changed_lines(top, before)
            self._repaint_thinking(top)
            return
        if resized:                                      # e.g. a new line: lay out again
            self.delegate.sizeHintChanged.emit(top)
            self._follow()
        super().dataChanged(top, bottom, roles)

    def _repaint_changed_lines(self, index: QModelIndex, before: RenderedMessage | None) -> None:
        """Repaint the row from its first changed line down (a streamed token changes the end
        of a reply, so the lines above it stay as they are on screen)."""
        row = self.visualRect(index)
        if row.isEmpty():
            return
        after = self.delegate.rendered(index, row.width())
        changed = first_changed_y(before, after)
        text_top = self.delegate.geometry(index, row).text.top()
        top = max(row.top(), int(text_top + changed) - 2)
        if top <= row.bottom():
            self.viewport().update(QRect(row.left(), top, row.width(), row.bottom() - top + 1))

    def _repaint_thinking(self, index: QModelIndex) -> None:
        """Repaint the row's Thinking block (its figures grew, or the answer began)."""
        if not index.data(Role.ReasoningRole):
            return
        row = self.visualRect(index)
        geo = self.delegate.geometry(index, row) if not row.isEmpty() else None
        if geo is None or geo.thinking is None:
            return
        bottom = (geo.reasoning or geo.thinking).bottom()
        top = int(geo.thinking.top()) - 2
        self.viewport().update(QRect(row.left(), top, row.width(), int(bottom) - top + 3))

    def _follow(self) -> None:
        if self._stick_to_bottom:
            self._scroll_timer.start()

    # -- keyboard and context menu -----------------------------------------------------------
    def event(self, event: QEvent) -> bool:  # type: ignore[override]
        """Keep the message keys (Ctrl+C, Ctrl+Shift+C, Ctrl+T) from the window's shortcuts (Edit
        → Copy) while a message is current: Qt asks the focus widget first, as a text box does."""
        if (event.type() == QEvent.Type.ShortcutOverride and self.currentIndex().isValid()
                and isinstance(event, QKeyEvent)
                and event.modifiers() & Qt.KeyboardModifier.ControlModifier
                and event.key() in (Qt.Key.Key_C, Qt.Key.Key_T)):
            event.accept()
            return True
        return super().event(event)

    def keyPressEvent(self, event: QKeyEvent) -> None:  # type: ignore[override]
        index = self.currentIndex()
        key = event.key()
        mods = event.modifiers()
        ctrl = bool(mods & Qt.KeyboardModifier.ControlModifier)
        shift = bool(mods & Qt.KeyboardModifier.ShiftModifier)
        if index.isValid():
            if ctrl and key == Qt.Key.Key_C:
                self.actionTriggered.emit(MessageAction.COPY_CODE if shift else MessageAction.COPY,
                                          index.row())
                return
            if key == Qt.Key.Key_F2:
                self.actionTriggered.emit(MessageAction.EDIT, index.row())
                return
            if shift and key == Qt.Key.Key_F10:
                self.show_menu(index.row(), self.visualRect(index).center())
                return
            if ctrl and key == Qt.Key.Key_T and self.toggle_thinking(index.row()):
                return
        if mods & Qt.KeyboardModifier.AltModifier and key in (Qt.Key.Key_Left, Qt.Key.Key_Right):
            row = index.row() if index.isValid() else self.model().rowCount() - 1
            self.actionTriggered.emit(MessageAction.PREVIOUS if key == Qt.Key.Key_Left
                                      else MessageAction.NEXT, row)
            return
        if ctrl and key == Qt.Key.Key_R:
            self.actionTriggered.emit(MessageAction.REGENERATE, self.model().rowCount() - 1)
            return
        super().keyPressEvent(event)

    def contextMenuEvent(self, event: QContextMenuEvent) -> None:  # type: ignore[override]
        keyboard = event.reason() == QContextMenuEvent.Reason.Keyboard
        index = self.currentIndex() if keyboard else self.indexAt(event.pos())
        if not index.isValid():
            return
        self.setCurrentIndex(index)
        pos = self.visualRect(index).center() if keyboard else event.pos()
        self.show_menu(index.row(), pos)

    def show_menu(self, row: int, pos: QPoint) -> QMenu:
        """The actions for message `row` as a menu at `pos` (viewport coordinates)."""
        menu = self.message_menu(row)
        menu.popup(self.viewport().mapToGlobal(pos))
        return menu

    def message_menu(self, row: int) -> QMenu:
        index = self.model().index(row, 0)
        if self.menu is not None:
            self.menu.deleteLater()
        menu = QMenu(self)
        menu.setAccessibleName("Message actions")
        self.menu = menu
        if index.data(Role.StreamingRole):
            menu.addAction("Stop", lambda: self.actionTriggered.emit(MessageAction.STOP, row))
            return menu
        menu.addAction("Copy message\tCtrl+C",
                       lambda: self.actionTriggered.emit(MessageAction.COPY, row))
        if index.data(Role.ReasoningRole):
            label = "Hide thinking" if index.data(Role.ThinkingOpenRole) else "Show thinking"
            menu.addAction(f"{label}\t{THINKING_KEYS}", lambda: self.toggle_thinking(row))
        if self.delegate.foldable(index):
            label = "Show less" if index.data(Role.UnfoldedRole) else "Show more"
            menu.addAction(label, lambda: self.toggle_fold(row))
        blocks = self.code_blocks(row)
        for i, code in enumerate(blocks):
            label = "Copy code" if len(blocks) == 1 else f"Copy code block {i + 1}"
            keys = f"\t{COPY_CODE_KEYS}" if len(blocks) == 1 else ""
            menu.addAction(label + keys, lambda code=code: self.codeCopied.emit(code))
        role = index.data(Role.RoleRole)
        if role == "user":
            menu.addAction("Edit and resend\tF2",
                           lambda: self.actionTriggered.emit(MessageAction.EDIT, row))
        elif role == "assistant" and row == self.model().rowCount() - 1:
            menu.addAction("Regenerate\tCtrl+R",
                           lambda: self.actionTriggered.emit(MessageAction.REGENERATE, row))
        if role == "assistant":
            menu.addAction("Inspect tokens…",
                           lambda: self.actionTriggered.emit(MessageAction.INSPECT, row))
        alternatives = index.data(Role.AlternativesRole)
        if role == "assistant" and alternatives is not None and alternatives.several:
            for label, keys, action, step in (
                    ("Previous reply", PREVIOUS_KEYS, MessageAction.PREVIOUS, -1),
                    ("Next reply", NEXT_KEYS, MessageAction.NEXT, 1)):
                entry = menu.addAction(f"{label} ({alternatives.label})\t{keys}",
                                       lambda action=action: self.actionTriggered.emit(action,
                                                                                       row))
                entry.setEnabled(alternatives.step(step) is not None)
        return menu
