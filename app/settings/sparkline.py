"""A small two-series chart (tokens/s and memory over the last minute), drawn with QPainter."""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from PySide6.QtCore import QPointF, QRectF, QSize, Qt
from PySide6.QtGui import QColor, QFont, QPainter, QPen, QPolygonF
from PySide6.QtWidgets import QSizePolicy, QWidget

from app.shell.theme import LIGHT, Palette
from inference.memory.fit import human_bytes

WINDOW_S = 60.0


@dataclass(frozen=True)
class Sample:
    t: float
    tps: float
    memory: float


class Sparkline(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("sparkline")
        self.setAccessibleName("Tokens per second and memory over the last minute")
        self.setToolTip("Last 60 s: generation speed (tokens/s, left scale, blue) and memory "
                        "(RAM + VRAM of the engine, right scale, orange).")
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.setFixedHeight(96)
        self._samples: deque[Sample] = deque()
        self._palette = LIGHT

    def sizeHint(self) -> QSize:
        return QSize(240, 96)

    def set_palette(self, palette: Palette) -> None:
        self._palette = palette
        self.update()

    def add(self, tps: float, memory: float, now: float | None = None) -> None:
        now = time.monotonic() if now is None else now
        self._samples.append(Sample(now, max(tps, 0.0), max(memory, 0.0)))
        while self._samples and self._samples[0].t < now - WINDOW_S:
            self._samples.popleft()
        self.update()

    def samples(self) -> list[Sample]:
        return list(self._samples)

    def paintEvent(self, _event: object) -> None:
        p = self._palette
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        rect = QRectF(self.rect()).adjusted(0.5, 0.5, -0.5, -0.5)
        painter.setPen(QPen(QColor(p.border)))
        painter.setBrush(QColor(p.surface))
        painter.drawRoundedRect(rect, 6, 6)
        plot = rect.adjusted(8, 18, -8, -8)
        painter.setPen(QPen(QColor(p.border), 1, Qt.PenStyle.DotLine))
        for i in range(1, 3):
            y = plot.top() + plot.height() * i / 3
            painter.drawLine(QPointF(plot.left(), y), QPointF(plot.right(), y))
        samples = list(self._samples)
        font = QFont(self.font())
        font.setPointSizeF(max(font.pointSizeF() - 1.5, 7))
        painter.setFont(font)
        if not samples:
            painter.setPen(QColor(p.muted))
            painter.drawText(plot, Qt.AlignmentFlag.AlignCenter, "no activity yet")
            return
        now = samples[-1].t
        max_tps = max(max(s.tps for s in samples), 1.0)
        max_mem = max(max(s.memory for s in samples), 1.0)
        self._series(painter, plot, samples, now, lambda s: s.tps / max_tps, p.chart_a)
        self._series(painter, plot, samples, now, lambda s: s.memory / max_mem, p.chart_b)
        painter.setPen(QColor(p.chart_a))
        top = QRectF(rect.left() + 8, rect.top() + 2, rect.width() - 16, 16)
        painter.drawText(top, Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
                         f"{samples[-1].tps:.1f} tok/s (max {max_tps:.0f})")
        painter.setPen(QColor(p.chart_b))
        painter.drawText(top, Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter,
                         human_bytes(samples[-1].memory))

    @staticmethod
    def _series(painter: QPainter, plot: QRectF, samples: list[Sample], now: float,
                value: Callable[[Sample], float], color: str) -> None:
        right, width = plot.right(), plot.width()
        bottom, height = plot.bottom(), plot.height()
        line = QPolygonF([QPointF(right - (now - s.t) / WINDOW_S * width,
                                  bottom - value(s) * height) for s in samples])
        painter.setPen(QPen(QColor(color), 1.6))
        painter.setBrush(Qt.BrushStyle.NoBrush)
        painter.drawPolyline(line)
