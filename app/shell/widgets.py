"""Small widgets and factories the pages share: the library's table and filters, rows, a label
that elides its text (the full text in its tooltip), a table header sized to its titles."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

from PySide6.QtCore import QAbstractItemModel, QSize, Qt
from PySide6.QtGui import QResizeEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QMenu,
    QStyle,
    QTableView,
    QWidget,
)

from app.library.model import ALL


def library_table(model: QAbstractItemModel) -> QTableView:
    """A read-only, sortable, single-row-selection table over `model`."""
    table = QTableView()
    table.setObjectName("libraryTable")
    table.setAccessibleName("Models")
    table.setModel(model)
    table.setSortingEnabled(True)
    table.sortByColumn(0, Qt.SortOrder.AscendingOrder)
    table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
    table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
    table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    table.verticalHeader().hide()
    table.setTextElideMode(Qt.TextElideMode.ElideMiddle)   # a file name keeps its quant
    fit_header(table)
    return table


def fit_header(table: QTableView) -> None:
    """The first column takes the room left but never less than its title; every other one is
    as wide as its title and cells. Where they do not all fit, the table scrolls sideways: no
    title is ever cut ("Repository", not "epositor")."""
    header = table.horizontalHeader()
    header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
    header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
    model = table.model()
    title = str(model.headerData(0, Qt.Orientation.Horizontal) or "") if model else ""
    style = header.style()
    chrome = 2 * style.pixelMetric(QStyle.PixelMetric.PM_HeaderMargin, None, header) + 8
    if table.isSortingEnabled():
        chrome += style.pixelMetric(QStyle.PixelMetric.PM_HeaderMarkSize, None, header)
    header.setMinimumSectionSize(header.fontMetrics().horizontalAdvance(title) + chrome)


def fill_combo(combo: QComboBox, all_label: str, values: Iterable[str | None]) -> None:
    """Offer "all" plus each value, keeping the current choice when it is still there."""
    current = combo.currentData()
    combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)   # grows with them
    combo.blockSignals(True)
    combo.clear()
    combo.addItem(all_label, ALL)
    for value in sorted(v for v in set(values) if v):
        combo.addItem(value, value)
    combo.setCurrentIndex(max(0, combo.findData(current)))
    combo.blockSignals(False)


def row_of(*widgets: QWidget | None) -> QHBoxLayout:
    """A row of widgets; None is a stretch."""
    row = QHBoxLayout()
    for widget in widgets:
        if widget is None:
            row.addStretch(1)
        else:
            row.addWidget(widget)
    return row


def fill_folders_menu(menu: QMenu, folders: Sequence[Path], add: Callable[[], None],
                      remove: Callable[[Path], None]) -> None:
    """"Add folder…", then one "Remove <folder>" per added folder."""
    menu.clear()
    menu.addAction("Add folder…", add)
    if folders:
        menu.addSeparator()
    for folder in folders:
        menu.addAction(f"Remove {folder}", lambda f=folder: remove(f))


class ElidedLabel(QLabel):
    """A one-line label that shows as much of its text as fits, ending in "…", with the whole
    text in its tooltip when it is cut; it never asks for more width than `min_chars`
    characters, so a long text cannot widen the window."""

    def __init__(self, text: str = "", min_chars: int = 8,
                 mode: Qt.TextElideMode = Qt.TextElideMode.ElideRight,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._full = ""
        self._tip = ""
        self._min_chars = min_chars
        self._mode = mode
        self.setText(text)

    def setText(self, text: str) -> None:  # noqa: N802
        self._full = text
        self._elide()
        self.updateGeometry()

    def text(self) -> str:
        """The whole text (what is shown may be cut: `shown_text`)."""
        return self._full

    def shown_text(self) -> str:
        return super().text()

    def set_tip(self, tip: str) -> None:
        """A tooltip of its own (shown when the text is whole; the full text leads it when cut)."""
        self._tip = tip
        self._elide()

    def minimumSizeHint(self) -> QSize:  # noqa: N802
        hint = super().minimumSizeHint()
        width = self.fontMetrics().horizontalAdvance("x" * self._min_chars + "…")
        return QSize(min(width, self._text_width()), hint.height())

    def sizeHint(self) -> QSize:  # noqa: N802
        return QSize(self._text_width(), super().sizeHint().height())

    def resizeEvent(self, event: QResizeEvent) -> None:  # noqa: N802
        super().resizeEvent(event)
        self._elide()

    def _text_width(self) -> int:
        margins = self.contentsMargins()
        return (self.fontMetrics().horizontalAdvance(self._full) + margins.left()
                + margins.right() + 2 * self.margin() + 2)

    def _elide(self) -> None:
        room = self.contentsRect().width() - 2 * self.margin()
        shown = self.fontMetrics().elidedText(self._full, self._mode, max(room, 0))
        super().setText(shown)
        cut = shown != self._full
        self.setToolTip("\n".join(t for t in ((self._full if cut else ""), self._tip) if t))
