"""Past perplexity runs: a sortable table (model, quant, text fingerprint, n_ctx, method, PPL ± SE,
date), with the runs on the current text in bold so the same text on other models compares."""

from __future__ import annotations

import math
import time

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QFont
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from app.data.store import StoreError
from app.perplexity.store import NewRun, PplRun, PplStore

COLUMNS = ("Date", "Model", "Quant", "Text", "Context", "Method", "PPL ± SE", "Tokens scored")
COLUMN_TIPS = {
    "Text": "The text's fingerprint (first 12 hex digits of its SHA-256) and its first words: "
            "runs with the same fingerprint measured exactly the same text.",
    "Context": "n_ctx: tokens per chunk (chunked) or per window (full text).",
    "Method": "chunked (as llama-perplexity) or full text; the two are not comparable.",
    "PPL ± SE": "Perplexity ± its standard error. Lower is better. Compare only runs on the same "
                "text, method and context.",
}
SORT_ROLE = Qt.ItemDataRole.UserRole + 1
RUN_ROLE = Qt.ItemDataRole.UserRole + 2


class _Item(QTableWidgetItem):
    """A cell that sorts by its SORT_ROLE value (numbers as numbers)."""

    def __init__(self, text: str, key: object) -> None:
        super().__init__(text)
        self.setData(SORT_ROLE, key)

    def __lt__(self, other: QTableWidgetItem) -> bool:
        a, b = self.data(SORT_ROLE), other.data(SORT_ROLE)
        try:
            return bool(a < b)
        except TypeError:
            return str(a) < str(b)


def ppl_text(ppl: float, se: float) -> str:
    return f"{ppl:.3f}" if math.isnan(se) else f"{ppl:.3f} ± {se:.3f}"


class PplHistory(QWidget):
    useTextRequested = Signal(str)            # a past run's text, to measure again

    def __init__(self, store: PplStore | None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("pplHistory")
        self.store = store
        self.current_sha = ""
        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setObjectName("pplRuns")
        self.table.setAccessibleName("Past perplexity runs")
        self.table.setHorizontalHeaderLabels(COLUMNS)
        for i, name in enumerate(COLUMNS):
            header_item = self.table.horizontalHeaderItem(i)
            if header_item is not None and name in COLUMN_TIPS:
                header_item.setToolTip(COLUMN_TIPS[name])
        self.table.verticalHeader().hide()
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSortingEnabled(True)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(3, QHeaderView.ResizeMode.Stretch)
        self.table.itemSelectionChanged.connect(self._update_buttons)
        self.only_this = QCheckBox("Only runs on this text")
        self.only_this.setToolTip("Show only the runs whose text has the same fingerprint as "
                                  "the text in the editor")
        self.only_this.toggled.connect(lambda _on: self.refresh())
        self.use_button = QPushButton("Use this run's text")
        self.use_button.setToolTip("Put the selected run's text in the editor, to measure it "
                                   "again (for example on another model)")
        self.use_button.clicked.connect(self._use_selected)
        self.delete_button = QPushButton("Delete run")
        self.delete_button.setAccessibleName("Delete the selected run")
        self.delete_button.clicked.connect(self.delete_selected)
        self.note = QLabel("")
        self.note.setObjectName("mutedLabel")
        row = QHBoxLayout()
        row.addWidget(self.only_this)
        row.addWidget(self.note, 1)
        row.addWidget(self.use_button)
        row.addWidget(self.delete_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 6, 0, 0)
        layout.addLayout(row)
        layout.addWidget(self.table, 1)
        if store is None:
            self.note.setText("Past runs are not available (the database could not be opened).")
        self.refresh()

    # -- data --------------------------------------------------------------------------------
    def add(self, run: NewRun) -> PplRun | None:
        """Save a finished run; None (and a one-line note) when the database refuses it."""
        if self.store is None:
            return None
        try:
            saved = self.store.add(run)
        except StoreError as exc:
            self._store_failed(f"This run was not saved ({exc}); its result is still shown.")
            return None
        self.refresh()
        return saved

    def _store_failed(self, message: str) -> None:
        self.note.setText(message)
        self.note.setToolTip(message)

    def set_current_text(self, sha256: str) -> None:
        if sha256 != self.current_sha:
            self.current_sha = sha256
            self.refresh()

    def runs(self) -> list[PplRun]:
        return [self.table.item(r, 0).data(RUN_ROLE) for r in range(self.table.rowCount())]

    def refresh(self) -> None:
        if self.store is None:
            return
        only = self.only_this.isChecked() and self.current_sha
        try:
            runs = self.store.runs(self.current_sha if only else None)
        except StoreError as exc:
            self._store_failed(f"Past runs cannot be read ({exc}).")
            return
        self.table.setSortingEnabled(False)
        self.table.setRowCount(len(runs))
        bold = QFont(self.font())
        bold.setBold(True)
        for row, run in enumerate(runs):
            se = run.ppl_se if not math.isnan(run.ppl_se) else math.inf
            cells = (
                (time.strftime("%Y-%m-%d %H:%M", time.localtime(run.created_at)),
                 run.created_at),
                (run.model_file, run.model_file.lower()),
                (run.quant or "—", run.quant),
                (f"{run.short_fingerprint} · {run.text_preview}", run.text_sha256),
                (str(run.n_ctx), run.n_ctx),
                ("full text" if run.method == "full" else run.method, run.method),
                (ppl_text(run.ppl, run.ppl_se), (run.ppl, se)),
                (f"{run.tokens_scored:,}", run.tokens_scored),
            )
            same = run.text_sha256 == self.current_sha
            for col, (text, key) in enumerate(cells):
                item = _Item(text, key)
                item.setData(RUN_ROLE, run)
                if col == 3:
                    item.setToolTip(f"SHA-256 {run.text_sha256}\n{run.text_chars:,} characters"
                                    f"\n{run.text_preview}")
                if same:
                    item.setFont(bold)
                self.table.setItem(row, col, item)
        self.table.setSortingEnabled(True)
        count = sum(r.text_sha256 == self.current_sha for r in runs) if self.current_sha else 0
        self.note.setText(f"{count} run{'s' if count != 1 else ''} on this text (in bold)"
                          if count else "")
        self._update_buttons()

    # -- actions -----------------------------------------------------------------------------
    def selected(self) -> PplRun | None:
        rows = self.table.selectionModel().selectedRows()
        return self.table.item(rows[0].row(), 0).data(RUN_ROLE) if rows else None

    def _use_selected(self) -> None:
        text = self._text_of(self.selected())
        if text is not None:
            self.useTextRequested.emit(text)

    def delete_selected(self) -> None:
        run = self.selected()
        if run is None or self.store is None:
            return
        try:
            self.store.delete(run.id)
        except StoreError as exc:
            self._store_failed(f"The run was not deleted ({exc}).")
            return
        self.refresh()

    def _text_of(self, run: PplRun | None) -> str | None:
        if run is None or self.store is None:
            return None
        try:
            return self.store.text(run.text_sha256)
        except StoreError as exc:
            self._store_failed(f"The run's text cannot be read ({exc}).")
            return None

    def _update_buttons(self) -> None:
        run = self.selected()
        self.delete_button.setEnabled(run is not None)
        self.use_button.setEnabled(self._text_of(run) is not None)
