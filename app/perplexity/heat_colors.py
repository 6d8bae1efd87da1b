"""The heatmap's colours: perceptually ordered sequential ramps blended over the theme's surface,
so more surprise always means more contrast with the page: ColorBrewer YlOrRd (pale yellow → dark
red) on the light theme, a magma segment (deep purple → pale peach) on the dark one. Each token's
text colour is whichever of near-black or white contrasts more with its background. Plus the
legend bar."""

from __future__ import annotations

import math

from PySide6.QtCore import QRect, Qt
from PySide6.QtGui import QColor, QLinearGradient, QPainter
from PySide6.QtWidgets import QWidget

from app.shell.theme import LIGHT, Palette

RAMP = ("#ffffcc", "#ffeda0", "#fed976", "#feb24c", "#fd8d3c", "#fc4e2a", "#e31a1c", "#bd0026",
        "#800026")
DARK_RAMP = ("#3b0f70", "#641a80", "#8c2981", "#b73779", "#de4968", "#f7705c", "#fe9f6d",
             "#fecf92", "#fcfdbf")
NLL_FULL = 9.0            # nats: this surprise (p ≈ 1 in 8,000) or more gets the strongest colour
NLL_NONE = 0.5            # below this (p > 0.61) no background at all
BUCKETS = 32
DARK_TEXT = "#111111"
LEGEND_TIP = ("Background colour = surprise = −ln p, the token's negative log-likelihood. No "
              "colour: the model expected the token (p > 0.61); strongest colour: it gave it a "
              f"probability of 1 in {round(math.exp(NLL_FULL)):,} or less. Hover a token (or "
              "move the cursor onto it) for its probability, rank and the model's top choices.")


def ramp_color(t: float, ramp: tuple[str, ...] = RAMP) -> QColor:
    """The ramp at t ∈ [0, 1], interpolated between its stops."""
    t = min(max(t, 0.0), 1.0) * (len(ramp) - 1)
    i = min(int(t), len(ramp) - 2)
    a, b = QColor(ramp[i]), QColor(ramp[i + 1])
    f = t - i
    return QColor.fromRgbF(a.redF() + (b.redF() - a.redF()) * f,
                           a.greenF() + (b.greenF() - a.greenF()) * f,
                           a.blueF() + (b.blueF() - a.blueF()) * f)


def _luminance(c: QColor) -> float:
    def lin(v: float) -> float:
        return v / 12.92 if v <= 0.03928 else ((v + 0.055) / 1.055) ** 2.4
    return 0.2126 * lin(c.redF()) + 0.7152 * lin(c.greenF()) + 0.0722 * lin(c.blueF())


def surprise_colors(nll: float, palette: Palette) -> tuple[QColor, QColor] | None:
    """(background, text) for a token with this NLL, or None for no highlight."""
    if not math.isfinite(nll):
        nll = NLL_FULL
    if nll < NLL_NONE:
        return None
    t = min(nll / NLL_FULL, 1.0)
    t = round(t * BUCKETS) / BUCKETS
    base, top = QColor(palette.surface), ramp_color(t, DARK_RAMP if palette.dark else RAMP)
    weight = 0.35 + 0.65 * t
    bg = QColor.fromRgbF(*(b + (c - b) * weight for b, c in zip(
        (base.redF(), base.greenF(), base.blueF()), (top.redF(), top.greenF(), top.blueF()),
        strict=True)))
    lum = _luminance(bg)
    dark_text = (lum + 0.05) / (_luminance(QColor(DARK_TEXT)) + 0.05)
    fg = QColor(DARK_TEXT) if dark_text >= 1.05 / (lum + 0.05) else QColor("#ffffff")
    return bg, fg


class HeatLegend(QWidget):
    """A small gradient bar: expected → surprising."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("heatLegend")
        self.setMinimumSize(260, 22)
        self.setToolTip(LEGEND_TIP)
        self.setAccessibleName("Heatmap colour legend")
        self.setAccessibleDescription(LEGEND_TIP)
        self.palette_: Palette = LIGHT

    def set_palette(self, palette: Palette) -> None:
        self.palette_ = palette
        self.update()

    def paintEvent(self, _event: object) -> None:  # noqa: N802
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        metrics = painter.fontMetrics()
        left_text, right_text = "expected", "surprising"
        lw = metrics.horizontalAdvance(left_text) + 8
        rw = metrics.horizontalAdvance(right_text) + 8
        bar = QRect(lw, 5, max(self.width() - lw - rw, 20), self.height() - 10)
        gradient = QLinearGradient(bar.left(), 0, bar.right(), 0)
        gradient.setColorAt(0.0, QColor(self.palette_.surface))
        for i in range(1, 17):
            nll = NLL_NONE + (NLL_FULL - NLL_NONE) * i / 16
            colors = surprise_colors(nll, self.palette_)
            if colors is not None:
                gradient.setColorAt(i / 16, colors[0])
        painter.setPen(QColor(self.palette_.border))
        painter.setBrush(gradient)
        painter.drawRoundedRect(bar, 4, 4)
        painter.setPen(QColor(self.palette_.muted))
        flags = Qt.AlignmentFlag.AlignVCenter
        painter.drawText(QRect(0, 0, lw, self.height()), flags, left_text)
        painter.drawText(QRect(bar.right() + 8, 0, rw, self.height()), flags, right_text)
        painter.end()
