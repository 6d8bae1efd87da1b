"""The transcript view: a QListView whose delegate paints each message as Markdown.

No widget per message: the delegate paints bubbles, code blocks with a Copy chip, a stats line
and action links (Copy, Edit, Regenerate), and handles clicks on them. Rendered documents are
cached per (message, width), so 1,000-message conversations lay out once and scroll smoothly.
"""

from __future__ import annotations

from PySide6.QtCore import QModelIndex, Qt, QTimer, Signal
from PySide6.QtWidgets import QAbstractItemView, QListView, QWidget

from .message_delegate import MessageDelegate
from .theme import Palette


class ChatView(QListView):
    actionTriggered = Signal(str, int)
    codeCopied = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("chatView")
        self.setAccessibleName("Conversation")
        self.setAccessibleDescription("Messages; Ctrl+C copies, F2 edits a message of yours, "
                                      "Ctrl+R regenerates the last reply")
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
        self._stick_to_bottom = True
        self._scroll_timer = QTimer(self, singleShot=True, interval=0)
        self._scroll_timer.timeout.connect(self.scrollToBottom)
        self.verticalScrollBar().valueChanged.connect(self._scrolled)

    def setModel(self, model: object) -> None:  # type: ignore[override]
        super().setModel(model)  # type: ignore[arg-type]
        m = self.model()
        m.rowsInserted.connect(self._rows_inserted)
        m.dataChanged.connect(self._data_changed)
        m.modelReset.connect(self._model_reset)

    def set_palette(self, palette: Palette) -> None:
        self.delegate.set_palette(palette)
        self.scheduleDelayedItemsLayout()
        self.viewport().update()

    def _scrolled(self, value: int) -> None:
        bar = self.verticalScrollBar()
        self._stick_to_bottom = value >= bar.maximum() - 48

    def _rows_inserted(self, *_: object) -> None:
        self._follow()

    def _model_reset(self) -> None:
        self._stick_to_bottom = True
        self._follow()

    def _data_changed(self, top: QModelIndex, _bottom: QModelIndex, _roles: object = None) -> None:
        self.delegate.sizeHintChanged.emit(top)
        self._follow()

    def _follow(self) -> None:
        if self._stick_to_bottom:
            self._scroll_timer.start()

    def keyPressEvent(self, event: object) -> None:  # type: ignore[override]
        index = self.currentIndex()
        key = event.key()  # type: ignore[attr-defined]
        ctrl = event.modifiers() & Qt.KeyboardModifier.ControlModifier  # type: ignore
        if index.isValid():
            if ctrl and key == Qt.Key.Key_C:
                self.actionTriggered.emit("copy", index.row())
                return
            if key == Qt.Key.Key_F2:
                self.actionTriggered.emit("edit", index.row())
                return
        if ctrl and key == Qt.Key.Key_R:
            self.actionTriggered.emit("regenerate", self.model().rowCount() - 1)
            return
        super().keyPressEvent(event)  # type: ignore[arg-type]
