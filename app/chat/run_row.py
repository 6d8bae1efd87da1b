"""The action row of the Text and Instruct pages: a go button, a Stop button, a stats line."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton


@dataclass(frozen=True)
class RunRow:
    layout: QHBoxLayout
    go: QPushButton
    stop: QPushButton
    stats: QLabel

    def set_busy(self, busy: bool) -> None:
        self.go.setVisible(not busy)
        self.stop.setVisible(busy)


def run_row(label: str, accessible_name: str, tooltip: str, on_go: Callable[[], None],
            on_stop: Callable[[], None]) -> RunRow:
    go = QPushButton(label)
    go.setObjectName("primaryButton")
    go.setAccessibleName(accessible_name)
    go.setToolTip(tooltip)
    go.clicked.connect(on_go)
    stop = QPushButton("Stop")
    stop.setObjectName("stopButton")
    stop.setAccessibleName("Stop generating")
    stop.setToolTip("Stop; the text so far is kept (Esc)")
    stop.clicked.connect(on_stop)
    stop.hide()
    stats = QLabel("")
    stats.setObjectName("mutedLabel")
    stats.setWordWrap(True)          # long stats lines must not widen the window
    layout = QHBoxLayout()
    layout.addWidget(go)
    layout.addWidget(stop)
    layout.addWidget(stats, 1)
    return RunRow(layout, go, stop, stats)
