"""The message box: Enter sends, Shift+Enter adds a line.

Esc (stop a reply, or cancel an edit) is the window's one Esc shortcut (`MainWindow.escape`), not
handled here: two handlers for one key make Qt run neither. The box never clears itself: the
owner calls `clear()` once a message was accepted, so text that could not be sent stays where the
user typed it.
"""

from __future__ import annotations

from PySide6.QtCore import QEvent, QObject, Qt, Signal
from PySide6.QtGui import QKeyEvent
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from app.chat.busy_buttons import BusyButtons
from app.data.drafts import ChatDraft


class Composer(QWidget):
    sendRequested = Signal(str)
    editSubmitted = Signal(int, str)       # row, new text
    stopRequested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("composer")
        self._editing_row = -1
        self._busy = False
        self.conversation_id = 0                     # the conversation the text belongs to
        self.elsewhere: dict[int, ChatDraft] = {}   # other conversations' unsent text
        layout = QVBoxLayout(self)
        layout.setContentsMargins(16, 8, 16, 12)
        layout.setSpacing(4)
        self.edit_banner = QLabel("")
        self.edit_banner.setObjectName("editBanner")
        self.edit_banner.setWordWrap(True)           # a narrow chat wraps it, never widens
        self.edit_banner.hide()
        layout.addWidget(self.edit_banner)
        row = QHBoxLayout()
        row.setSpacing(8)
        self.input = QPlainTextEdit()
        self.input.setObjectName("composerInput")
        self.input.setAccessibleName("Message")
        self.input.setPlaceholderText("Message the model…  (Enter sends, Shift+Enter for a new "
                                      "line, Esc stops)")
        self.input.setTabChangesFocus(True)
        self.input.setFixedHeight(76)
        self.input.installEventFilter(self)
        self.send_button = QPushButton("Send")
        self.send_button.setObjectName("primaryButton")
        self.send_button.setAccessibleName("Send message")
        self.send_button.clicked.connect(self.submit)
        self.stop_button = QPushButton("Stop")
        self.stop_button.setObjectName("stopButton")
        self.stop_button.setAccessibleName("Stop generating")
        self.stop_button.setToolTip("Stop the reply (Esc)")
        self.stop_button.clicked.connect(self.stopRequested)
        self.buttons = BusyButtons(self.send_button, self.stop_button, self)
        row.addWidget(self.input, 1)
        buttons = QVBoxLayout()
        buttons.addWidget(self.send_button)
        buttons.addWidget(self.stop_button)
        buttons.addStretch(1)
        row.addLayout(buttons)
        layout.addLayout(row)
        self.token_label = QLabel("")
        self.token_label.setObjectName("mutedLabel")
        self.token_label.setAccessibleName("Tokens of the message and the context left")
        self.token_label.setTextFormat(Qt.TextFormat.PlainText)
        layout.addWidget(self.token_label)

    # -- state -------------------------------------------------------------------------------
    def text(self) -> str:
        return self.input.toPlainText()

    def set_text(self, text: str) -> None:
        self.input.setPlainText(text)
        cursor = self.input.textCursor()
        cursor.movePosition(cursor.MoveOperation.End)
        self.input.setTextCursor(cursor)

    def clear(self) -> None:
        self.input.clear()
        self.cancel_edit()

    def set_busy(self, busy: bool) -> None:
        self._busy = busy
        self.buttons.set_busy(busy)

    def begin_edit(self, row: int, text: str) -> None:
        self._editing_row = row
        self.edit_banner.setText("Editing your message — Enter resends from here (later "
                                 "messages are replaced), Esc cancels")
        self.edit_banner.show()
        self.set_text(text)
        self.input.setFocus()

    def cancel_edit(self) -> None:
        if self._editing_row >= 0:
            self._editing_row = -1
            self.edit_banner.hide()

    @property
    def editing_row(self) -> int:
        return self._editing_row

    # -- input -------------------------------------------------------------------------------
    def submit(self) -> None:
        text = self.text()
        if not text.strip() or self._busy:
            return
        if self._editing_row >= 0:
            self.editSubmitted.emit(self._editing_row, text)
        else:
            self.sendRequested.emit(text)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if watched is self.input and event.type() == QEvent.Type.KeyPress:
            assert isinstance(event, QKeyEvent)
            key = event.key()
            if key in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
                if event.modifiers() & Qt.KeyboardModifier.ShiftModifier:
                    return False          # a new line
                self.submit()
                return True
        return super().eventFilter(watched, event)
