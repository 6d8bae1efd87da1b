"""A QPainter scatter plot: quality (PPL or KLD) against size (file size or bits per weight).

Each point is one file, labelled by its quant type; the reference is drawn hollow. Linear axes
with "nice" ticks; no chart library needed.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

from PySide6.QtCore import QPointF, QRectF, QSize, Qt
from PySide6.QtGui import QColor, QFontMetricsF, QPainter, QPaintEvent, QPen
from PySide6.QtWidgets import QSizePolicy, QWidget

from app.shell.theme import LIGHT, Palette
from inference.compare.result import CompareResult

Y_CHOICES = {"ppl": "Perplexity", "kld_mean": "Mean KLD vs reference"}
X_CHOICES = {"file_size": "File size (MiB)", "bits_per_weight": "Bits per weight"}
_X_SCALE = {"file_size": 1 / (1024 * 1024), "bits_per_weight": 1.0}
MARGIN_LEFT, MARGIN_BOTTOM, MARGIN_TOP, MARGIN_RIGHT = 64, 44, 16, 24
RADIUS = 5
GRID_ALPHA = 90               # gridlines: the border colour, faint, so they never glare


def chart_colors(palette: Palette) -> dict[str, QColor]:
    """The chart's colours from the window's palette (readable labels on dark, soft grid)."""
    grid = QColor(palette.border)
    grid.setAlpha(GRID_ALPHA)
    return {"axis": QColor(palette.muted), "point": QColor(palette.chart_a),
            "text": QColor(palette.text), "grid": grid}


def label_rect(pos: QPointF, width: float, height: float, plot: QRectF) -> QRectF:
    """Where a point's label goes: right of the point, or left where it would leave the plot,
    always kept inside the plot."""
    gap = RADIUS + 3
    left = pos.x() + gap if pos.x() + gap + width <= plot.right() else pos.x() - gap - width
    left = min(max(left, plot.left()), plot.right() - width)
    top = min(max(pos.y() - RADIUS - height, plot.top()), plot.bottom() - height)
    return QRectF(left, top, width, height)


@dataclass(frozen=True)
class ChartPoint:
    x: float
    y: float
    label: str
    reference: bool = False


def nice_ticks(low: float, high: float, count: int = 5) -> list[float]:
    """About `count` round tick values covering low…high."""
    if not math.isfinite(low) or not math.isfinite(high):
        return []
    if high <= low:
        high = low + (abs(low) or 1.0)
    raw = (high - low) / max(1, count)
    step = 10 ** math.floor(math.log10(raw))
    for m in (1, 2, 2.5, 5, 10):
        if raw <= m * step:
            step *= m
            break
    first = math.floor(low / step) * step
    ticks = [round(first, 10)]
    while ticks[-1] < high - step * 1e-9:          # the last tick reaches the highest value
        ticks.append(round(first + len(ticks) * step, 10))
    return ticks


class QualityChart(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("qualityChart")
        self.setAccessibleName("Quality versus size chart")
        self.setMinimumSize(320, 220)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self._points: list[ChartPoint] = []
        self.x_key, self.y_key = "file_size", "ppl"
        self._result: CompareResult | None = None
        self.colors = chart_colors(LIGHT)
        self.labels: dict[str, QRectF] = {}        # where each label was last drawn

    # -- data ----------------------------------------------------------------------------------
    def set_result(self, result: CompareResult | None) -> None:
        self._result = result
        self._rebuild()

    def set_axes(self, x_key: str, y_key: str) -> None:
        if x_key not in X_CHOICES or y_key not in Y_CHOICES:
            raise ValueError(f"unknown axes {x_key!r}, {y_key!r}")
        self.x_key, self.y_key = x_key, y_key
        self._rebuild()

    def points(self) -> list[ChartPoint]:
        return list(self._points)

    def _rebuild(self) -> None:
        self._points = []
        if self._result is not None:
            for row in self._result.rows:
                y = getattr(row, self.y_key)
                if y is None or not math.isfinite(y):
                    continue
                x = getattr(row, self.x_key) * _X_SCALE[self.x_key]
                self._points.append(ChartPoint(x, y, row.quant, row.is_reference))
        self.update()

    def sizeHint(self) -> QSize:  # noqa: N802
        return QSize(520, 320)

    # -- drawing ---------------------------------------------------------------------------------
    def paintEvent(self, _event: QPaintEvent) -> None:  # noqa: N802
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        plot = self.plot_rect()
        painter.setPen(QPen(self.colors["axis"], 1))
        painter.drawLine(plot.bottomLeft(), plot.bottomRight())
        painter.drawLine(plot.bottomLeft(), plot.topLeft())
        painter.drawText(QRectF(plot.left(), plot.bottom() + 22, plot.width(), 20),
                         Qt.AlignmentFlag.AlignCenter, X_CHOICES[self.x_key])
        painter.save()
        painter.translate(14, plot.center().y())
        painter.rotate(-90)
        painter.drawText(QRectF(-plot.height() / 2, -10, plot.height(), 20),
                         Qt.AlignmentFlag.AlignCenter, Y_CHOICES[self.y_key])
        painter.restore()
        if not self._points:
            painter.drawText(plot, Qt.AlignmentFlag.AlignCenter, "No results yet")
            return
        xs = nice_ticks(min(p.x for p in self._points), max(p.x for p in self._points))
        ys = nice_ticks(min(p.y for p in self._points), max(p.y for p in self._points))
        x0, x1, y0, y1 = xs[0], xs[-1], ys[0], ys[-1]

        def at(x: float, y: float) -> QPointF:
            fx = (x - x0) / (x1 - x0) if x1 > x0 else 0.5
            fy = (y - y0) / (y1 - y0) if y1 > y0 else 0.5
            return QPointF(plot.left() + fx * plot.width(), plot.bottom() - fy * plot.height())

        self._draw_ticks(painter, plot, xs, ys, at)
        metrics = QFontMetricsF(painter.font())
        self.labels = {}
        for p in self._points:
            pos = at(p.x, p.y)
            painter.setPen(QPen(self.colors["point"], 2))
            painter.setBrush(Qt.BrushStyle.NoBrush if p.reference else self.colors["point"])
            painter.drawEllipse(pos, RADIUS, RADIUS)
            painter.setPen(self.colors["text"])
            rect = label_rect(pos, metrics.horizontalAdvance(p.label) + 2, metrics.height(),
                              plot)
            painter.drawText(rect, Qt.AlignmentFlag.AlignCenter, p.label)
            self.labels[p.label] = rect

    def _draw_ticks(self, painter: QPainter, plot: QRectF, xs: list[float], ys: list[float],
                    at: Callable[[float, float], QPointF]) -> None:
        for x in xs:
            pos = at(x, ys[0])
            painter.setPen(QPen(self.colors["grid"], 1))
            painter.drawLine(QPointF(pos.x(), plot.top()), QPointF(pos.x(), plot.bottom()))
            painter.setPen(self.colors["axis"])
            painter.drawText(QRectF(pos.x() - 40, plot.bottom() + 4, 80, 16),
                             Qt.AlignmentFlag.AlignCenter, f"{x:g}")
        for y in ys:
            pos = at(xs[0], y)
            painter.setPen(QPen(self.colors["grid"], 1))
            painter.drawLine(QPointF(plot.left(), pos.y()), QPointF(plot.right(), pos.y()))
            painter.setPen(self.colors["axis"])
            painter.drawText(QRectF(0, pos.y() - 8, MARGIN_LEFT - 6, 16),
                             Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter,
                             f"{y:g}")

    def set_palette(self, palette: Palette) -> None:
        self.colors = chart_colors(palette)
        self.update()

    def plot_rect(self) -> QRectF:
        return QRectF(MARGIN_LEFT, MARGIN_TOP,
                      max(10, self.width() - MARGIN_LEFT - MARGIN_RIGHT),
                      max(10, self.height() - MARGIN_TOP - MARGIN_BOTTOM))
