""""Add from library…": pick GGUF files of the library for a comparison.

The library is listed in the background (`Library.scan`, headers cached); the table is the
Library page's model and filter, with several rows selectable. The architecture filter starts
on the architecture of the files already chosen, since only quantizations of one model compare.
Files that cannot be used (unreadable, split parts missing) are left out.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QItemSelectionModel, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QLabel,
    QLineEdit,
    QVBoxLayout,
    QWidget,
)

from app.engine.jobs import JobPool
from app.library import ALL, ENTRY_ROLE, LibraryFilter, LibraryTableModel
from app.shell.widgets import fill_combo, library_table, row_of
from inference.common.errors import ParleyError
from inference.library.library import Library, LibraryEntry, LibraryListing

ANY_ARCHITECTURE = "Any architecture"


def usable(entry: LibraryEntry) -> bool:
    """A file a comparison can read: a header, and every part of a split model."""
    return entry.info is not None and not entry.missing_parts and not entry.error


class LibraryPicker(QDialog):
    chosen = Signal(object)                      # list[Path], when "Add" is pressed

    def __init__(self, library: Library, architecture: str | None = None,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Add files from the library")
        self.setObjectName("compareLibraryPicker")
        self.resize(900, 440)
        self.library = library
        self.wanted_architecture = architecture or ALL
        self.tasks = JobPool(1, self)
        self.model = LibraryTableModel(self)
        self.proxy = LibraryFilter(self)
        self.proxy.setSourceModel(self.model)
        layout = QVBoxLayout(self)
        self.search = QLineEdit()
        self.search.setPlaceholderText("Search by name, quant, folder…")
        self.search.setAccessibleName("Search the library")
        self.search.textChanged.connect(self.proxy.set_text)
        self.architecture = QComboBox()
        self.architecture.setAccessibleName("Architecture")
        self.architecture.setToolTip("Only quantizations of one model can be compared: the "
                                     "list starts with the architecture of the files chosen")
        self.architecture.currentIndexChanged.connect(
            lambda _i: self.proxy.set_architecture(self.architecture.currentData() or ALL))
        layout.addLayout(row_of(self.search, self.architecture))
        self.table = library_table(self.proxy)
        self.table.setAccessibleName("Library models to add")
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.table.doubleClicked.connect(lambda _i: self.add_selected())
        layout.addWidget(self.table, 1)
        self.status = QLabel("Looking for models…")
        self.status.setObjectName("mutedLabel")
        layout.addWidget(self.status)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel)
        self.add_button = self.buttons.addButton("Add selected",
                                                 QDialogButtonBox.ButtonRole.AcceptRole)
        self.add_button.setEnabled(False)
        self.buttons.accepted.connect(self.add_selected)
        self.buttons.rejected.connect(self.reject)
        layout.addWidget(self.buttons)
        self.table.selectionModel().selectionChanged.connect(self._update_button)
        self.finished.connect(lambda _r: self.tasks.shutdown())
        self.listing: LibraryListing | None = None
        self.tasks.start(lambda t: self.library.scan(None, cancel=t.token),
                         returned=self._listed, errored=self._failed)

    @property
    def listed(self) -> bool:
        return self.listing is not None

    def entries(self) -> list[LibraryEntry]:
        """The entries shown now (after the filters), in table order."""
        return [self.proxy.index(r, 0).data(ENTRY_ROLE) for r in range(self.proxy.rowCount())]

    def select_paths(self, paths: list[Path]) -> int:
        """Select the rows of these files (for keyboard-less use and tests); how many matched."""
        wanted = {p.resolve() for p in paths}
        selection = self.table.selectionModel()
        selection.clearSelection()
        flags = QItemSelectionModel.SelectionFlag.Select | QItemSelectionModel.SelectionFlag.Rows
        found = 0
        for r in range(self.proxy.rowCount()):
            entry: LibraryEntry = self.proxy.index(r, 0).data(ENTRY_ROLE)
            if entry.path.resolve() in wanted:
                selection.select(self.proxy.index(r, 0), flags)
                found += 1
        return found

    def selected_paths(self) -> list[Path]:
        rows = sorted({i.row() for i in self.table.selectionModel().selectedRows()})
        return [self.proxy.index(r, 0).data(ENTRY_ROLE).path for r in rows]

    def add_selected(self) -> None:
        paths = self.selected_paths()
        if paths:
            self.chosen.emit(paths)
            self.accept()

    def _listed(self, listing: LibraryListing) -> None:
        self.listing = listing
        entries = [e for e in listing.entries if usable(e)]
        self.model.set_entries(entries)
        archs = {e.architecture for e in entries}
        fill_combo(self.architecture, ANY_ARCHITECTURE, archs)
        if self.wanted_architecture in archs:
            self.architecture.setCurrentIndex(self.architecture.findData(
                self.wanted_architecture))
        self.proxy.set_architecture(self.architecture.currentData() or ALL)
        left_out = len(listing.entries) - len(entries)
        self.status.setText(f"{len(entries)} GGUF files in the library"
                            + (f" ({left_out} unreadable or incomplete left out)"
                               if left_out else "")
                            + " · select several with Ctrl or Shift")

    def _failed(self, exc: object) -> None:
        reason = str(exc) if isinstance(exc, ParleyError) else f"{type(exc).__name__}: {exc}"
        self.status.setText(f"Could not list the library: {reason}")

    def _update_button(self, *_args: object) -> None:
        self.add_button.setEnabled(bool(self.table.selectionModel().selectedRows()))
