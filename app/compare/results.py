"""The Results tab of the quant workbench: sortable table, quality-vs-size chart, exports."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QSortFilterProxyModel, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from app.compare.quality_chart import X_CHOICES, Y_CHOICES, QualityChart
from app.compare.table import SORT_ROLE, CompareTableModel
from app.shell.theme import Palette
from inference.common.errors import ParleyError
from inference.compare.export import write
from inference.compare.result import CompareResult

EXPORTS = (("JSON", ".json"), ("CSV", ".csv"), ("Markdown", ".md"))


class ResultsPanel(QWidget):
    errorOccurred = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.result: CompareResult | None = None
        layout = QVBoxLayout(self)
        self.summary = QLabel("No comparison yet.")
        self.summary.setWordWrap(True)
        layout.addWidget(self.summary)
        self.model = CompareTableModel(parent=self)
        self.proxy = QSortFilterProxyModel(self)
        self.proxy.setSourceModel(self.model)
        self.proxy.setSortRole(SORT_ROLE)
        self.table = QTableView()
        self.table.setModel(self.proxy)
        self.table.setSortingEnabled(True)
        self.table.setAccessibleName("Comparison results")
        layout.addWidget(self.table, 1)
        row = QHBoxLayout()
        self.y_axis, self.x_axis = QComboBox(), QComboBox()
        self.y_axis.setAccessibleName("Chart: quality measure")
        self.x_axis.setAccessibleName("Chart: plotted against")
        for combo, choices in ((self.y_axis, Y_CHOICES), (self.x_axis, X_CHOICES)):
            for key, label in choices.items():
                combo.addItem(label, key)
            combo.currentIndexChanged.connect(self._axes_changed)
        for widget in (QLabel("Chart"), self.y_axis, QLabel("against"), self.x_axis):
            row.addWidget(widget)
        row.addStretch(1)
        self.export_buttons: list[QPushButton] = []
        for label, suffix in EXPORTS:
            button = QPushButton(f"Export {label}")
            button.clicked.connect(lambda _=False, s=suffix: self._choose_export(s))
            button.setEnabled(False)
            self.export_buttons.append(button)
            row.addWidget(button)
        layout.addLayout(row)
        self.chart = QualityChart()
        layout.addWidget(self.chart, 1)

    def set_result(self, result: CompareResult) -> None:
        self.result = result
        self.model.set_result(result)
        self.chart.set_result(result)
        self.table.resizeColumnsToContents()
        self.summary.setText(
            f"Reference <b>{result.reference}</b> · n_ctx {result.n_ctx} · {result.tokens:,} "
            f"tokens in {result.chunks} chunks, {result.tokens_scored:,} positions scored · "
            f"{result.seconds:.1f} s")

    def set_palette(self, palette: Palette) -> None:
        self.chart.set_palette(palette)

    def set_exports_enabled(self, enabled: bool) -> None:
        for button in self.export_buttons:
            button.setEnabled(enabled)

    def _axes_changed(self) -> None:
        self.chart.set_axes(self.x_axis.currentData(), self.y_axis.currentData())

    def _choose_export(self, suffix: str) -> None:
        name, _ = QFileDialog.getSaveFileName(self, "Export the comparison",
                                              f"comparison{suffix}")
        if name:
            self.export_to(Path(name))

    def export_to(self, path: Path) -> Path | None:
        if self.result is None:
            return None
        try:
            return write(self.result, path)
        except (OSError, ParleyError) as exc:
            self.errorOccurred.emit(f"Could not export: {exc}")
            return None
