"""The download queue as a table: file, state, a progress bar, speed and ETA; pause, resume,
cancel. It shows `DownloadItem` snapshots (delivered on the GUI thread) and sends requests back
to the `DownloadQueue`."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QHeaderView,
    QProgressBar,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from app.shell.formatting import eta_text
from inference.hub.queue import DownloadItem, DownloadQueue, DownloadState
from inference.memory.fit import human_bytes

COLUMNS = ("File", "Repo", "State", "Progress", "Speed · time left")
STATE_WORDS = {
    DownloadState.QUEUED: "Queued", DownloadState.RUNNING: "Downloading",
    DownloadState.PAUSED: "Paused", DownloadState.DONE: "Done",
    DownloadState.FAILED: "Failed", DownloadState.CANCELLED: "Cancelled",
}


class DownloadList(QWidget):
    def __init__(self, queue: DownloadQueue, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.queue = queue
        self.rows: dict[int, int] = {}                    # item id -> table row
        self.items: dict[int, DownloadItem] = {}
        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setObjectName("downloadTable")
        self.table.setAccessibleName("Downloads")
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.verticalHeader().hide()
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.horizontalHeader().setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        self.table.itemSelectionChanged.connect(self._update_buttons)
        self.pause_button = QPushButton("Pause", clicked=lambda: self._act(queue.pause))
        self.resume_button = QPushButton("Resume", clicked=lambda: self._act(queue.resume))
        self.cancel_button = QPushButton("Cancel", clicked=lambda: self._act(queue.cancel))
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        for button in (self.pause_button, self.resume_button, self.cancel_button):
            buttons.addWidget(button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.table, 1)
        layout.addLayout(buttons)
        self._update_buttons()

    def show_item(self, item: DownloadItem) -> None:
        """Show a snapshot (GUI thread)."""
        self.items[item.id] = item
        row = self.rows.get(item.id)
        if row is None:
            row = self.rows[item.id] = self.table.rowCount()
            self.table.insertRow(row)
            self.table.setItem(row, 0, QTableWidgetItem(item.file.name))
            self.table.setItem(row, 1, QTableWidgetItem(item.file.repo_id))
            self.table.setItem(row, 2, QTableWidgetItem(""))
            bar = QProgressBar()
            bar.setRange(0, 1000)
            bar.setAccessibleName(f"Download progress of {item.file.name}")
            self.table.setCellWidget(row, 3, bar)
            self.table.setItem(row, 4, QTableWidgetItem(""))
        state = STATE_WORDS[item.state]
        if item.state == DownloadState.DONE and item.unverified:
            state += " · not verified"
        self.table.item(row, 2).setText(state)
        self.table.item(row, 2).setToolTip(item.error or (item.check.words if item.check
                                                           else ""))
        bar = self.table.cellWidget(row, 3)
        assert isinstance(bar, QProgressBar)
        p = item.progress
        total = item.file.size or (p.total if p else None)
        done = total if item.state == DownloadState.DONE and total else (p.done if p else 0)
        bar.setValue(int(1000 * done / total) if total else 0)
        bar.setFormat(f"{human_bytes(done)} / {human_bytes(total)}" if total else "")
        speed = ""
        if item.state == DownloadState.RUNNING and p is not None and p.speed > 0:
            speed = f"{human_bytes(p.speed)}/s · {eta_text(p.eta_s)}"
        elif item.state == DownloadState.FAILED:
            speed = item.error or ""
        self.table.item(row, 4).setText(speed)
        self._update_buttons()

    def state_of(self, item_id: int) -> DownloadState:
        return self.items[item_id].state

    def selected_id(self) -> int | None:
        rows = {i.row() for i in self.table.selectedIndexes()}
        for item_id, row in self.rows.items():
            if row in rows:
                return item_id
        return None

    def select(self, item_id: int) -> None:
        self.table.selectRow(self.rows[item_id])

    def _act(self, action: Callable[[int], None]) -> None:
        item_id = self.selected_id()
        if item_id is not None:
            action(item_id)

    def _update_buttons(self) -> None:
        item_id = self.selected_id()
        state = self.items[item_id].state if item_id is not None else None
        self.pause_button.setEnabled(state in (DownloadState.QUEUED, DownloadState.RUNNING))
        self.resume_button.setEnabled(state in (DownloadState.PAUSED, DownloadState.FAILED,
                                                DownloadState.CANCELLED))
        self.cancel_button.setEnabled(state is not None and state != DownloadState.DONE
                                      and state != DownloadState.CANCELLED)

