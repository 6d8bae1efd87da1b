"""A real painter on an image that also remembers every text it draws, and where (tests that
read what a delegate painted)."""

from __future__ import annotations

from PySide6.QtCore import QRectF
from PySide6.QtGui import QImage, QPainter


class RecordingPainter(QPainter):
    def __init__(self, image: QImage) -> None:
        super().__init__(image)
        self.texts: list[tuple[QRectF, str]] = []

    def drawText(self, *args) -> None:  # noqa: N802
        if len(args) == 3 and isinstance(args[2], str):
            self.texts.append((QRectF(args[0]), args[2]))
        super().drawText(*args)
