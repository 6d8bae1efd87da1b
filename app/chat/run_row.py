"""The action row of the Text and Instruct pages: a go button that turns to Stop while it
runs (BusyButtons), and a stats line."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton

from app.chat.busy_buttons import BusyButtons


@dataclass(frozen=True)
class RunRow:
    layout: QHBoxLayout
    go: QPushButton
    stop: QPushButton
    stats: QLabel
    buttons: BusyButtons

    def set_busy(self, busy: bool) -> None:
        """Go turns to Stop (after BusyButtons' short guard, so a double click cannot stop)."""
        self.buttons.set_busy(busy)


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
    stats = QLabel("")
    stats.setObjectName("mutedLabel")
    stats.setWordWrap(True)          # long stats lines must not widen the window
    layout = QHBoxLayout()
    layout.addWidget(go)
    layout.addWidget(stop)
    layout.addWidget(stats, 1)
    return RunRow(layout, go, stop, stats, BusyButtons(go, stop))
