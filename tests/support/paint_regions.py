"""An event filter that records the region of every paint event (repaint tests)."""

from __future__ import annotations

from PySide6.QtCore import QEvent, QObject, QRect


class PaintRegions(QObject):
    """Records the region of every paint event of the widget it filters."""

    def __init__(self) -> None:
        super().__init__()
        self.rects: list[QRect] = []

    def eventFilter(self, obj: QObject, event: QEvent) -> bool:  # noqa: N802
        if event.type() == QEvent.Type.Paint:
            self.rects.append(event.region().boundingRect())
        return False
