"""BusyButtons: a go button (Send, Continue, Run) that becomes Stop while a reply runs.

The two share one place on screen, so a quick second click would stop the reply just sent: for
STOP_DELAY_MS after the start the go button stays, disabled, and only then gives way to Stop.
Esc stops at once (it is the window's shortcut, not a click).
"""

from __future__ import annotations

from PySide6.QtCore import QObject, QTimer
from PySide6.QtWidgets import QPushButton

STOP_DELAY_MS = 400


class BusyButtons(QObject):
    def __init__(self, go: QPushButton, stop: QPushButton,
                 parent: QObject | None = None) -> None:
        super().__init__(parent or go)
        self.go = go
        self.stop = stop
        self._busy = False
        self._timer = QTimer(self, singleShot=True, interval=STOP_DELAY_MS)
        self._timer.timeout.connect(self._show_stop)
        stop.hide()

    @property
    def busy(self) -> bool:
        return self._busy

    def set_busy(self, busy: bool) -> None:
        self._busy = busy
        if busy:
            self.go.setEnabled(False)      # a click now does nothing, rather than stop
            self._timer.start()
            return
        self._timer.stop()
        self.stop.hide()
        self.go.setEnabled(True)
        self.go.show()

    def _show_stop(self) -> None:
        if self._busy:
            self.go.hide()
            self.stop.show()
