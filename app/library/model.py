"""The library as a Qt table: one row per model, sortable by raw values, filterable by text,
architecture and quant."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from PySide6.QtCore import (
    QAbstractTableModel,
    QModelIndex,
    QPersistentModelIndex,
    QSortFilterProxyModel,
    Qt,
    QUrl,
)

from inference.library.library import LibraryEntry, LibraryListing
from inference.library.sources import SourceKind
from inference.memory.fit import human_bytes

Index = QModelIndex | QPersistentModelIndex
ENTRY_ROLE = Qt.ItemDataRole.UserRole + 1     # the LibraryEntry
SORT_ROLE = Qt.ItemDataRole.UserRole + 2      # a raw value to sort by

COLUMNS = ("Model", "Architecture", "Parameters", "Quant", "Bits/weight", "Size", "Context",
           "Fit", "Source")
FIT_WORDS = {"gpu": "GPU", "partial": "Partly GPU", "ram": "RAM", "too_large": "Too large"}
ALL = ""                                       # the "any architecture / quant" filter value


def params_text(n: int | None) -> str:
    if not n:
        return "—"
    for scale, unit in ((1e9, "B"), (1e6, "M"), (1e3, "K")):
        if n >= scale:
            return f"{n / scale:.3g}{unit}"
    return str(n)


def fit_text(e: LibraryEntry) -> str:
    if e.info is None:
        return "Unreadable"
    if e.missing_parts:
        return "Parts missing"
    return FIT_WORDS.get(e.fit.fit.value, "?") if e.fit else "—"


def quant_base(quant: str | None) -> str:
    """"Q4_K_M" stays; "F16 (guessed)" -> "F16"."""
    return (quant or "").split(" (")[0]


def listing_summary(listing: LibraryListing) -> str:
    broken = sum(1 for e in listing.entries if e.error)
    return (f"{len(listing.entries)} models" + (f" ({broken} with problems)" if broken else "")
            + f" · listed in {listing.seconds * 1000:.0f} ms"
            + (f", {listing.cache_hits} headers from the cache" if listing.cache_hits else "")
            + " · drop .gguf files here to import them")


def delete_question(entry: LibraryEntry) -> str:
    others = len(entry.parts) - 1
    question = (f"Delete {entry.file_name}"
                + (f" and its {others} other parts" if others > 0 else "")
                + f" from disk?\n\n{entry.path}")
    if entry.source is SourceKind.HF_CACHE:
        question += ("\n\nIt is in the Hugging Face cache, which other programs share; "
                     "they will have to download it again.")
    return question


def gguf_paths(urls: Sequence[QUrl]) -> list[str]:
    """The local .gguf files among dropped URLs."""
    return [u.toLocalFile() for u in urls
            if u.isLocalFile() and u.toLocalFile().lower().endswith(".gguf")]


class LibraryTableModel(QAbstractTableModel):
    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self._entries: list[LibraryEntry] = []

    def set_entries(self, entries: Sequence[LibraryEntry]) -> None:
        self.beginResetModel()
        self._entries = list(entries)
        self.endResetModel()

    def entries(self) -> list[LibraryEntry]:
        return list(self._entries)

    def entry(self, row: int) -> LibraryEntry:
        return self._entries[row]

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008, N802
        return 0 if parent.isValid() else len(self._entries)

    def columnCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008, N802
        return 0 if parent.isValid() else len(COLUMNS)

    def headerData(self, section: int, orientation: Qt.Orientation,  # noqa: N802
                   role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return COLUMNS[section]
        return None

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        e = self._entries[index.row()]
        col = index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            return self._display(e, col)
        if role == SORT_ROLE:
            return self._sort_value(e, col)
        if role == ENTRY_ROLE:
            return e
        if role == Qt.ItemDataRole.ToolTipRole:
            return self._tooltip(e)
        if role == Qt.ItemDataRole.TextAlignmentRole and col in (2, 4, 5, 6):
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        return None

    def _display(self, e: LibraryEntry, col: int) -> str:
        values = (
            e.file_name,
            e.architecture or "—",
            params_text(e.parameters),
            e.quant or "—",
            f"{e.bits_per_weight:.2f}" if e.bits_per_weight else "—",
            human_bytes(e.size),
            f"{e.context_length:,}" if e.context_length else "—",
            fit_text(e),
            e.source_label + (f" · {e.repo_id}" if e.repo_id else "")
            + (" · not verified" if e.unverified else ""),
        )
        return values[col]

    def _sort_value(self, e: LibraryEntry, col: int) -> Any:
        raw = (e.file_name.lower(), e.architecture or "", e.parameters or 0, e.quant or "",
               e.bits_per_weight or 0.0, e.size, e.context_length or 0,
               e.fit.estimate.total_bytes if e.fit else -1, e.source_label)
        return raw[col]

    def _tooltip(self, e: LibraryEntry) -> str:
        lines = [str(e.path)]
        if e.name != e.path.stem:
            lines.insert(0, e.name)
        if e.fit is not None:
            lines.append(e.fit.message)
        if e.download_check is not None:
            lines.append(f"Downloaded by Parley, {e.download_check.words}")
        if e.error:
            lines.append(f"Error: {e.error}")
        return "\n".join(lines)


class LibraryFilter(QSortFilterProxyModel):
    """Text search over name, file name, path and repo; exact architecture and quant filters."""

    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self._text = ""
        self._arch = ALL
        self._quant = ALL
        self.setSortRole(SORT_ROLE)
        self.setDynamicSortFilter(True)

    def set_text(self, text: str) -> None:
        self._change("_text", text.strip().lower())

    def set_architecture(self, arch: str) -> None:
        self._change("_arch", arch)

    def set_quant(self, quant: str) -> None:
        self._change("_quant", quant)

    def _change(self, name: str, value: str) -> None:
        """Set one filter value (Qt ≥ 6.9 has begin/endFilterChange; older Qt invalidates)."""
        if not hasattr(self, "beginFilterChange"):
            setattr(self, name, value)
            self.invalidateFilter()
            return
        self.beginFilterChange()
        setattr(self, name, value)
        self.endFilterChange(QSortFilterProxyModel.Direction.Rows)

    def filterAcceptsRow(self, row: int, parent: Index) -> bool:  # noqa: N802
        model = self.sourceModel()
        if not isinstance(model, LibraryTableModel):
            return True
        e = model.entry(row)
        if self._arch and (e.architecture or "") != self._arch:
            return False
        if self._quant and quant_base(e.quant) != self._quant:
            return False
        if self._text:
            hay = " ".join(filter(None, (e.name, e.file_name, str(e.path), e.repo_id,
                                         e.architecture, e.quant))).lower()
            return all(word in hay for word in self._text.split())
        return True
