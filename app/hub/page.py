"""The Hub page: search Hugging Face for GGUF repos, see a repo's files with their fit, and
download them through a queue (pause, resume, cancel; unfinished downloads come back after a
restart, paused).

Every hub request runs on a background pool; downloads run on the queue's own thread and their
snapshots reach the GUI thread through a queued signal. Offline (HF_HUB_OFFLINE=1, or no
network) shows a plain banner; nothing else on the page breaks.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import shiboken6
from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from app.engine.jobs import JobPool
from app.hub.download_list import DownloadList
from app.shell.theme import Palette
from app.shell.widgets import fit_header
from inference.common.paths import parley_paths
from inference.hub.downloads import pending_downloads
from inference.hub.queue import DownloadItem, DownloadQueue, DownloadState
from inference.hub.search import (
    OFFLINE_MESSAGE,
    HubFile,
    HubModel,
    HubOfflineError,
    hub_offline,
    list_gguf_files,
    search_models,
    size_fit,
)
from inference.library.library import FitSettings
from inference.memory.fit import human_bytes


def sha_text(file: HubFile) -> str:
    """The SHA-256 cell: the hub's checksum (its start), or that a download can't be verified."""
    if not file.verifiable:
        return "none · not verified"
    return "each part" if file.is_split else (file.sha256 or "")[:12]


def sha_tooltip(file: HubFile) -> str:
    if not file.verifiable:
        return ("The hub gives no sha256 for this file: a download is checked by its size only "
                "and is marked not verified.")
    return "\n".join(f"{p.filename}: {p.sha256}" for p in file.parts)


class _QueueBridge(QObject):
    """Carries queue snapshots from the download thread to the GUI thread."""

    itemChanged = Signal(object)              # DownloadItem

    def forward(self, item: DownloadItem) -> None:
        if shiboken6.isValid(self):
            self.itemChanged.emit(item)


def _table(*columns: str) -> QTableWidget:
    table = QTableWidget(0, len(columns))
    table.setHorizontalHeaderLabels(columns)
    table.verticalHeader().hide()
    table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
    table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
    table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    table.setTextElideMode(Qt.TextElideMode.ElideMiddle)   # a file name keeps its quant
    fit_header(table)                 # "Repository" is never cut to "epositor"
    return table


class HubPage(QWidget):
    downloaded = Signal(str)                  # a finished download's path (list the library)
    errorOccurred = Signal(str)

    def __init__(self, models_dir: Path | None = None, *,
                 fit_settings: Callable[[], FitSettings] = FitSettings.detect,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("hubPage")
        self.models_dir = models_dir or parley_paths().ensure().models
        self._fit_settings = fit_settings
        self.tasks = JobPool(parent=self)
        self.models: list[HubModel] = []
        self.files: list[HubFile] = []
        self._bridge = _QueueBridge(self)
        self.queue = DownloadQueue(self.models_dir, listener=self._bridge.forward)
        self._build()
        self._bridge.itemChanged.connect(self._item_changed, Qt.ConnectionType.QueuedConnection)
        if hub_offline():
            self.show_offline(OFFLINE_MESSAGE)
            self.search_box.setEnabled(False)
            self.search_button.setEnabled(False)
        for file in pending_downloads(self.models_dir):
            self.queue.add(file, paused=True)

    def _build(self) -> None:
        self.offline_banner = QLabel("")
        self.offline_banner.setObjectName("offlineBanner")
        self.offline_banner.setWordWrap(True)
        self.offline_banner.hide()
        self.search_box = QLineEdit(placeholderText="Search Hugging Face for GGUF models…",
                                    clearButtonEnabled=True)
        self.search_box.setAccessibleName("Search the hub")
        self.search_box.returnPressed.connect(lambda: self.search())
        self.search_button = QPushButton("Search", clicked=lambda: self.search())
        row = QHBoxLayout()
        row.addWidget(self.search_box, 1)
        row.addWidget(self.search_button)

        self.results = _table("Repository", "Downloads", "Likes")
        self.results.setObjectName("hubResults")
        self.results.setAccessibleName("Search results: model repositories")
        self.results.itemSelectionChanged.connect(self._repo_chosen)
        self.file_table = _table("File", "Quant", "Size", "Fit", "SHA-256")
        self.file_table.setObjectName("hubFiles")
        self.file_table.setAccessibleName("GGUF files in the chosen repository")
        self.file_table.itemSelectionChanged.connect(self._update_buttons)
        self.file_table.doubleClicked.connect(lambda _i: self.download_selected())
        self.download_button = QPushButton("Download", clicked=self.download_selected)
        self.download_button.setObjectName("primaryButton")
        files_box = QWidget()
        files_layout = QVBoxLayout(files_box)
        files_layout.setContentsMargins(0, 0, 0, 0)
        files_layout.addWidget(self.file_table, 1)
        files_layout.addWidget(self.download_button, 0, Qt.AlignmentFlag.AlignRight)
        split = QSplitter()
        split.addWidget(self.results)
        split.addWidget(files_box)
        split.setStretchFactor(1, 2)

        self.downloads = DownloadList(self.queue)
        fit_header(self.downloads.table)
        self.status = QLabel("")
        self.status.setObjectName("mutedLabel")
        layout = QVBoxLayout(self)
        layout.addWidget(self.offline_banner)
        layout.addLayout(row)
        layout.addWidget(split, 3)
        layout.addWidget(QLabel("Downloads"))
        layout.addWidget(self.downloads, 2)
        layout.addWidget(self.status)
        self._update_buttons()

    # -- search and files --------------------------------------------------------------------
    def search(self, query: str | None = None) -> None:
        text = self.search_box.text() if query is None else query
        self.search_box.setText(text)
        self.status.setText(f"Searching for {text!r}…")
        self.search_button.setEnabled(False)
        self.tasks.start(lambda _t: search_models(text), returned=self._show_models,
                         errored=self._hub_failed)

    def open_repo(self, repo_id: str) -> None:
        self.status.setText(f"Listing {repo_id}…")
        self.file_table.setRowCount(0)
        self.tasks.start(lambda _t: list_gguf_files(repo_id), returned=self._show_files,
                         errored=self._hub_failed)

    def set_fit_settings(self, fit_settings: Callable[[], FitSettings]) -> None:
        """Judge fit for other settings (the model panel's context and GPU layers) from now on,
        and again for the files listed."""
        self._fit_settings = fit_settings
        if self.files:
            self._show_fits()

    def _show_fits(self) -> None:
        settings = self._fit_settings()            # on the GUI thread: it may read widgets
        for row, f in enumerate(self.files):
            verdict = size_fit(f.size, settings)
            self.file_table.setItem(row, 3, QTableWidgetItem(verdict.message if verdict else ""))

    def _show_models(self, models: list[HubModel]) -> None:
        self._online()
        self.models = models
        self.results.setRowCount(len(models))
        for row, m in enumerate(models):
            for col, text in enumerate((m.repo_id, f"{m.downloads or 0:,}", f"{m.likes or 0:,}")):
                item = QTableWidgetItem(text)
                if col == 0:
                    item.setToolTip(text)         # the whole name where the cell cuts it
                self.results.setItem(row, col, item)
        self.status.setText(f"{len(models)} repositories with GGUF files"
                            if models else "No GGUF repositories match.")

    def _show_files(self, files: list[HubFile]) -> None:
        self._online()
        self.files = files
        self.file_table.setRowCount(len(self.files))
        for row, f in enumerate(self.files):
            parts = f" ({len(f.parts)} parts)" if f.is_split else ""
            cells = (f.filename + parts, f.quant or "—",
                     human_bytes(f.size) if f.size is not None else "size unknown", "",
                     sha_text(f))
            for col, text in enumerate(cells):
                item = QTableWidgetItem(text)
                if col == 0:
                    item.setToolTip(text)
                elif col == 4:
                    item.setToolTip(sha_tooltip(f))
                self.file_table.setItem(row, col, item)
        self._show_fits()
        self.status.setText(f"{len(self.files)} GGUF files; fit is judged by file size "
                            "(the exact fit shows in the Library once downloaded)")
        self._update_buttons()

    def _repo_chosen(self) -> None:
        rows = {i.row() for i in self.results.selectedIndexes()}
        if rows:
            self.open_repo(self.models[min(rows)].repo_id)

    def _hub_failed(self, exc: BaseException) -> None:
        self.search_button.setEnabled(self.search_box.isEnabled())
        if isinstance(exc, HubOfflineError):
            self.show_offline(str(exc))
            self.status.setText("")
            return
        self.status.setText("")
        self.errorOccurred.emit(str(exc))

    def show_offline(self, message: str) -> None:
        self.offline_banner.setText(message)
        self.offline_banner.show()

    def _online(self) -> None:
        self.search_button.setEnabled(True)
        self.offline_banner.hide()

    # -- downloads ---------------------------------------------------------------------------
    def selected_file(self) -> HubFile | None:
        rows = {i.row() for i in self.file_table.selectedIndexes()}
        return self.files[min(rows)] if rows else None

    def download_selected(self) -> int | None:
        file = self.selected_file()
        return None if file is None else self.download(file)

    def download(self, file: HubFile) -> int:
        item_id = self.queue.add(file)
        self.status.setText(f"{file.name} added to the downloads")
        return item_id

    def _item_changed(self, item: DownloadItem) -> None:
        self.downloads.show_item(item)
        if item.state == DownloadState.DONE and item.path is not None:
            self.status.setText(f"Downloaded {item.path.name}" + (
                f" — {item.check.words}" if item.check and item.unverified else ""))
            self.downloaded.emit(str(item.path))
        elif item.state == DownloadState.FAILED and item.error:
            self.errorOccurred.emit(item.error)

    def _update_buttons(self) -> None:
        self.download_button.setEnabled(self.selected_file() is not None)

    def set_palette(self, palette: Palette) -> None:
        """The page's colours come from the window's style sheet alone."""

    def shutdown(self) -> None:
        """Pause running downloads (their .part files stay) and stop background work."""
        self.queue.close()
        self.tasks.shutdown()
