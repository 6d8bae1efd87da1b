"""The candidates of one token, stage by stage: a grid of horizontal bars painted with QPainter
(one row per candidate, one column per stage of the chain and one for "what if"), the drawn
token marked."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QRectF, QSize, Qt
from PySide6.QtGui import QColor, QFont, QPainter, QPaintEvent
from PySide6.QtWidgets import QSizePolicy, QWidget

from app.shell.theme import LIGHT, Palette
from inference.inspector.choice import Stage, TokenChoice

ROWS = 12                        # candidates shown (the drawn one always among them)
ROW_H, LABEL_W, COL_W, HEAD_H = 22, 120, 92, 36
WHAT_IF = "what if"


def shown_rows(choice: TokenChoice, rows: int = ROWS) -> list[int]:
    """Candidate indices to show: the most likely by raw probability, and the drawn one."""
    order = sorted(range(len(choice.ids)), key=lambda i: -float(choice.raw_logprob[i]))
    keep = order[:rows]
    if choice.drawn_index not in keep:
        keep[-1] = choice.drawn_index
    return keep


class StageChart(QWidget):
    """Bars of `choice`'s candidates at each stage; `set_what_if` adds the last column."""

    def __init__(self, choice: TokenChoice, texts: dict[int, bytes],
                 palette: Palette = LIGHT, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("inspectorChart")
        self.setAccessibleName("Candidates at each stage of the sampler chain")
        self._choice, self._texts, self._palette = choice, texts, palette
        self.rows = shown_rows(choice)
        self.columns: list[str] = [Stage.RAW, *choice.stages]
        self._values = np.vstack([np.exp(choice.raw_logprob.astype(np.float64)),
                                  choice.stage_probs.astype(np.float64)])
        self.what_if: np.ndarray | None = None
        self.what_if_exact = True
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)

    def set_what_if(self, probs: np.ndarray, exact: bool) -> None:
        self.what_if, self.what_if_exact = probs, exact
        self.updateGeometry()
        self.update()

    def label(self, index: int) -> str:
        token = int(self._choice.ids[index])
        text = self._texts.get(token, b"").decode("utf-8", errors="replace")
        return repr(text)[1:-1] or "∅"

    def value(self, column: int, index: int) -> float:
        if column == len(self.columns):
            return float(self.what_if[index]) if self.what_if is not None else 0.0
        return float(self._values[column, index])

    def sizeHint(self) -> QSize:
        columns = len(self.columns) + (self.what_if is not None)
        return QSize(LABEL_W + COL_W * columns + 8, HEAD_H + ROW_H * len(self.rows) + 8)

    def paintEvent(self, event: QPaintEvent) -> None:
        p, pal = QPainter(self), self._palette
        p.fillRect(self.rect(), QColor(pal.surface))
        names = [*self.columns, *([WHAT_IF] if self.what_if is not None else [])]
        survivors = [None, *self._choice.survivors.tolist(), None]
        bold = QFont(self.font())
        bold.setBold(True)
        p.setPen(QColor(pal.muted))
        for c, name in enumerate(names):
            x = LABEL_W + c * COL_W
            head = name if survivors[c] is None else f"{name}\n{survivors[c]:,} left"
            if name == WHAT_IF and not self.what_if_exact:
                head = f"{name}\n≈ (N stored)"
            p.drawText(QRectF(x, 0, COL_W - 4, HEAD_H), Qt.AlignmentFlag.AlignCenter, head)
        drawn = self._choice.drawn_index
        for r, index in enumerate(self.rows):
            y = HEAD_H + r * ROW_H
            p.setFont(bold if index == drawn else self.font())
            p.setPen(QColor(pal.accent if index == drawn else pal.text))
            mark = "▶ " if index == drawn else "   "
            p.drawText(QRectF(2, y, LABEL_W - 6, ROW_H), Qt.AlignmentFlag.AlignVCenter,
                       mark + self.label(index))
            for c in range(len(names)):
                value = self.value(c, index)
                x = LABEL_W + c * COL_W
                width = (COL_W - 40) * min(max(value, 0.0), 1.0)
                color = QColor(pal.accent if index == drawn else pal.muted)
                p.fillRect(QRectF(x, y + 5, width, ROW_H - 10), color)
                p.setPen(QColor(pal.text))
                p.drawText(QRectF(x + COL_W - 42, y, 40, ROW_H),
                           Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignRight,
                           f"{value:.1%}" if value >= 0.001 else ("0" if value == 0 else "<.1%"))
        p.end()
