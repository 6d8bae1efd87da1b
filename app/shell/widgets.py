"""Small widget factories for the Library page."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

from PySide6.QtCore import QAbstractItemModel, Qt
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QHBoxLayout,
    QHeaderView,
    QMenu,
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
    table.horizontalHeader().setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
    return table


def fill_combo(combo: QComboBox, all_label: str, values: Iterable[str | None]) -> None:
    """Offer "all" plus each value, keeping the current choice when it is still there."""
    current = combo.currentData()
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
