"""ChatPage: the window's Chat page, conversations | the mode pages | the side panels (which
dock, fold and open over the chat: `app.shell.panel_layout`)."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QSplitter, QWidget

from app.chat.parts import ChatParts
from app.shell.theme import Palette


class ChatPage(QSplitter):
    """A page like the others (errors, palette, shutdown) around the chat's parts."""

    errorOccurred = Signal(str)

    def __init__(self, parts: ChatParts, center: QWidget, side: QWidget,
                 parent: QWidget | None = None) -> None:
        super().__init__(Qt.Orientation.Horizontal, parent)
        self.parts = parts
        self.setObjectName("mainSplitter")
        self.addWidget(parts.sidebar)
        self.addWidget(center)
        self.addWidget(side)
        self.setStretchFactor(1, 1)          # only the chat takes or gives room on a resize
        self.setChildrenCollapsible(False)
        side.setMinimumWidth(320)
        parts.text_page.errorOccurred.connect(self.errorOccurred)
        parts.instruct_page.errorOccurred.connect(self.errorOccurred)

    def set_palette(self, palette: Palette) -> None:
        self.parts.view.set_palette(palette)
        self.parts.sidebar.set_palette(palette)
        self.parts.text_page.set_palette(palette)

    def shutdown(self) -> None:
        """Keep the partial replies of every mode and stop generating."""
        self.parts.sidebar.shutdown()
        self.parts.controller.shutdown()
        self.parts.text_run.shutdown()
        self.parts.instruct_run.shutdown()
