"""What the transcript's message actions do: copy a message or its code, edit, regenerate,
stop. They come from the delegate's links and chips, the keyboard and the context menu alike."""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QObject
from PySide6.QtGui import QGuiApplication

if TYPE_CHECKING:
    from app.shell.window import MainWindow


class MessageActions(QObject):
    def __init__(self, w: MainWindow, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.w = w
        w.chat_view.actionTriggered.connect(self.trigger)
        w.chat_view.codeCopied.connect(lambda text: self.copy(text, "Code copied"))

    def trigger(self, action: str, row: int) -> None:
        w = self.w
        if not 0 <= row < w.transcript.rowCount():
            return
        message = w.transcript.message_at(row)
        if action == "copy":
            self.copy(message.content, "Message copied")
        elif action == "copy_code":
            blocks = w.chat_view.code_blocks(row)
            if blocks:
                self.copy("\n\n".join(blocks), "Code copied")
            else:
                w.banner.show_message("This message has no code block.", "info",
                                      timeout_ms=2500)
        elif action == "edit" and message.role == "user" and not w.controller.busy:
            w.composer.begin_edit(row, message.content)
        elif action == "regenerate":
            w.controller.regenerate()
        elif action == "stop":
            w.controller.stop()

    def copy(self, text: str, note: str) -> None:
        QGuiApplication.clipboard().setText(text)
        self.w.banner.show_message(note, "info", timeout_ms=1500)
