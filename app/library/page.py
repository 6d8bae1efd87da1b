"""The Library page: every model Parley knows, with search, sort, filters and file actions.

Scanning (header reads) and imports run on a background pool; the table updates when a listing
arrives. Load emits `loadRequested(path)`; the window decides what loading means.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

from PySide6.QtCore import QUrl, Signal
from PySide6.QtGui import QDesktopServices, QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import (
    QComboBox,
    QFileDialog,
    QLabel,
    QLineEdit,
    QMenu,
    QMessageBox,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from app.engine.jobs import JobPool
from app.library.model import (
    ALL,
    ENTRY_ROLE,
    LibraryFilter,
    LibraryTableModel,
    delete_question,
    gguf_paths,
    listing_summary,
    quant_base,
)
from app.shell.theme import Palette
from app.shell.widgets import fill_combo, fill_folders_menu, library_table, row_of
from inference.common.errors import ParleyError
from inference.library.library import FitSettings, Library, LibraryEntry, LibraryListing, with_fit
from inference.library.sources import SourceKind

Confirm = Callable[[str, str], bool]          # (title, question) -> yes?
DELETABLE = (SourceKind.OWN, SourceKind.ADDED, SourceKind.HF_CACHE)


class LibraryPage(QWidget):
    loadRequested = Signal(str)               # the model's path
    modelsChanged = Signal(object)            # tuple[LibraryEntry, ...], after every listing
    errorOccurred = Signal(str)

    def __init__(self, library: Library | None = None, *,
                 fit_settings: Callable[[], FitSettings] = FitSettings.detect,
                 confirm: Confirm | None = None,
                 reveal: Callable[[Path], None] | None = None,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("libraryPage")
        self.setAcceptDrops(True)
        self.library = library or Library()
        self._fit_settings = fit_settings
        self._confirm = confirm or self._ask
        self._reveal = reveal or (lambda folder: QDesktopServices.openUrl(
            QUrl.fromLocalFile(str(folder))))
        self.tasks = JobPool(parent=self)
        self._scanning = False
        self._rescan = False
        self.last_listing: LibraryListing | None = None
        self.model = LibraryTableModel(self)
        self.proxy = LibraryFilter(self)
        self.proxy.setSourceModel(self.model)
        self._build()

    # -- construction ------------------------------------------------------------------------
    def _build(self) -> None:
        self.search = QLineEdit(placeholderText="Search models…", clearButtonEnabled=True)
        self.search.setAccessibleName("Search models")
        self.search.textChanged.connect(self.proxy.set_text)
        self.arch_filter = QComboBox(accessibleName="Filter by architecture")
        self.quant_filter = QComboBox(accessibleName="Filter by quantization")
        self.arch_filter.currentIndexChanged.connect(
            lambda: self.proxy.set_architecture(self.arch_filter.currentData() or ALL))
        self.quant_filter.currentIndexChanged.connect(
            lambda: self.proxy.set_quant(self.quant_filter.currentData() or ALL))
        self.refresh_button = QPushButton("Refresh", clicked=self.refresh)
        top = row_of(self.search, self.arch_filter, self.quant_filter, self.refresh_button)
        top.setStretch(0, 1)

        self.table = library_table(self.proxy)
        self.table.doubleClicked.connect(lambda _i: self.load_selected())
        self.table.selectionModel().selectionChanged.connect(self._update_buttons)

        self.load_button = QPushButton("Load", clicked=self.load_selected)
        self.load_button.setObjectName("primaryButton")
        self.reveal_button = QPushButton("Show in folder", clicked=self.reveal_selected)
        self.delete_button = QPushButton("Delete…", clicked=self.delete_selected)
        self.folders_button = QPushButton("Folders")
        self.folders_menu = QMenu(self.folders_button)
        self.folders_menu.aboutToShow.connect(self._fill_folders_menu)
        self.folders_button.setMenu(self.folders_menu)
        self.import_button = QPushButton("Import file…", clicked=self._choose_import)
        actions = row_of(self.load_button, self.reveal_button, self.delete_button, None,
                         self.folders_button, self.import_button)

        self.status = QLabel("Drop .gguf files here to add them to Parley's models folder.")
        self.status.setObjectName("mutedLabel")
        self.status.setWordWrap(True)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(self.table, 1)
        layout.addLayout(actions)
        layout.addWidget(self.status)
        self._fill_filters()
        self._update_buttons()

    # -- listing -----------------------------------------------------------------------------
    def refresh(self) -> None:
        """List the library again in the background (a second request waits for the first)."""
        if self._scanning:
            self._rescan = True
            return
        self._scanning = True
        self.refresh_button.setEnabled(False)
        self.status.setText("Looking for models…")
        settings = self._fit_settings()
        self.tasks.start(
            lambda t: self.library.scan(settings, cancel=t.token,
                                        progress=lambda d, n: t.report((d, n))),
            returned=self._listed, errored=self._scan_failed,
            yielded=lambda p: self.status.setText(f"Reading model headers… {p[0]} of {p[1]}"),
            aborted=self._scan_done)

    def set_fit_settings(self, fit_settings: Callable[[], FitSettings]) -> None:
        """Judge fit for other settings (context, GPU layers); no file is read again."""
        self._fit_settings = fit_settings
        entries, settings = self.model.entries(), fit_settings()
        self.tasks.start(lambda _t: with_fit(entries, settings), returned=self._show)

    def entries(self) -> list[LibraryEntry]:
        return self.model.entries()

    def _listed(self, listing: LibraryListing) -> None:
        self.last_listing = listing
        self._show(listing.entries)
        self.status.setText(listing_summary(listing))
        self._scan_done()

    def _show(self, entries: Sequence[LibraryEntry]) -> None:
        selected = self.selected_entry()
        self.model.set_entries(entries)
        self._fill_filters()
        if selected is not None:
            self.select_path(selected.path)
        self._update_buttons()
        self.modelsChanged.emit(tuple(entries))

    def _scan_failed(self, exc: BaseException) -> None:
        self.status.setText("The library could not be listed.")
        self.errorOccurred.emit(str(exc))
        self._scan_done()

    def _scan_done(self) -> None:
        self._scanning = False
        self.refresh_button.setEnabled(True)
        if self._rescan:
            self._rescan = False
            self.refresh()

    def _fill_filters(self) -> None:
        entries = self.model.entries()
        fill_combo(self.arch_filter, "All architectures", {e.architecture for e in entries})
        fill_combo(self.quant_filter, "All quants", {quant_base(e.quant) for e in entries})

    # -- selection and actions ---------------------------------------------------------------
    def selected_entry(self) -> LibraryEntry | None:
        rows = self.table.selectionModel().selectedRows() if self.table.selectionModel() else []
        return rows[0].data(ENTRY_ROLE) if rows else None

    def select_path(self, path: Path) -> bool:
        for row in range(self.proxy.rowCount()):
            index = self.proxy.index(row, 0)
            if index.data(ENTRY_ROLE).path == path:
                self.table.selectRow(row)
                return True
        return False

    def load_selected(self) -> None:
        entry = self.selected_entry()
        if entry is None:
            return
        if not entry.ok:
            self.errorOccurred.emit(entry.error or f"{entry.file_name} cannot be read")
            return
        self.loadRequested.emit(str(entry.path))

    def reveal_selected(self) -> None:
        entry = self.selected_entry()
        if entry is not None:
            self._reveal(entry.path.parent)

    def delete_selected(self) -> None:
        entry = self.selected_entry()
        if entry is None or entry.source not in DELETABLE:
            return
        hf = entry.source is SourceKind.HF_CACHE
        question = delete_question(entry)
        if not self._confirm("Delete model", question):
            return
        try:
            self.library.delete(entry, allow_hf_cache=hf)
        except ParleyError as exc:          # refused: the message says why
            self.errorOccurred.emit(str(exc))
        except OSError as exc:
            self.errorOccurred.emit(f"Could not delete {entry.file_name}: {exc.strerror}")
        self.refresh()

    def add_folder(self, folder: str | Path) -> None:
        try:
            self.library.add_folder(folder)
        except ParleyError as exc:          # not a folder
            self.errorOccurred.emit(str(exc))
            return
        self.refresh()

    def remove_folder(self, folder: str | Path) -> None:
        if self.library.remove_folder(folder):
            self.refresh()

    def import_files(self, paths: Sequence[str | Path], *, move: bool = False) -> None:
        """Copy (or move) files into the models folder in the background, then list again."""
        files = [Path(p) for p in paths]
        self.status.setText(f"Importing {len(files)} file(s)…")

        def job(_task: object) -> list[str]:
            problems = []
            for path in files:
                try:
                    self.library.import_file(path, move=move)
                except (ParleyError, OSError) as exc:      # report it, go on
                    problems.append(str(exc))
            return problems

        self.tasks.start(job, returned=self._imported)

    def _imported(self, problems: list[str]) -> None:
        for problem in problems:
            self.errorOccurred.emit(problem)
        self.refresh()

    def set_palette(self, palette: Palette) -> None:
        """The page's colours come from the window's style sheet alone."""

    def shutdown(self) -> None:
        """Stop background work; call before the window closes."""
        self.tasks.shutdown()

    # -- drag and drop -----------------------------------------------------------------------
    def dragEnterEvent(self, event: QDragEnterEvent) -> None:  # noqa: N802
        if gguf_paths(event.mimeData().urls()):
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:  # noqa: N802
        paths = gguf_paths(event.mimeData().urls())
        if paths:
            event.acceptProposedAction()
            self.import_files(paths)

    # -- helpers -----------------------------------------------------------------------------
    def _update_buttons(self, *_args: object) -> None:
        entry = self.selected_entry()
        self.load_button.setEnabled(entry is not None and entry.ok)
        self.reveal_button.setEnabled(entry is not None)
        deletable = entry is not None and entry.source in DELETABLE
        self.delete_button.setEnabled(deletable)
        self.delete_button.setToolTip(
            "" if entry is None or deletable else
            f"Parley does not delete {entry.source_label}'s files; delete them there.")

    def _fill_folders_menu(self) -> None:
        fill_folders_menu(self.folders_menu, self.library.folders(), self._choose_folder,
                          self.remove_folder)

    def _choose_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Add a folder of models")
        if folder:
            self.add_folder(folder)

    def _choose_import(self) -> None:
        paths, _ = QFileDialog.getOpenFileNames(self, "Import models", "",
                                                "GGUF models (*.gguf)")
        if paths:
            self.import_files(paths)

    def _ask(self, title: str, question: str) -> bool:
        answer = QMessageBox.question(self, title, question)
        return answer == QMessageBox.StandardButton.Yes

