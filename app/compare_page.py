"""The quant workbench page: choose files (or make a ladder), a text, run, read, export.

All long work goes through `CompareRunner` (its own QThread, separate from the chat engine);
the page only builds requests and shows what comes back. Tabs: Setup (files, text, progress per
file, Cancel), Results (sortable table, quality-vs-size chart, exports), Same prompt.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from inference.compare import CompareProgress, CompareSettings
from inference.compare_prompt import PromptSettings
from inference.compare_result import CompareResult
from inference.quantize import QuantizeProgress, QuantizeResult

from .compare_prompt_view import SamePromptView
from .compare_results import ResultsPanel
from .compare_worker import CompareBackend, CompareRunner, LadderJob

SAMPLES_DIR = Path(__file__).resolve().parents[1] / "resources" / "samples"
DEFAULT_LADDER = "Q8_0,Q6_K,Q4_K_M,Q4_0,Q2_K"
AUTO_REFERENCE = "Most bits per weight (automatic)"


def _button(text: str, slot: object, tip: str = "") -> QPushButton:
    button = QPushButton(text)
    button.clicked.connect(slot)
    button.setToolTip(tip)
    return button


class ComparePage(QWidget):
    errorOccurred = Signal(str)
    resultReady = Signal(object)            # CompareResult

    def __init__(self, backend: CompareBackend | None = None, samples_dir: Path = SAMPLES_DIR,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("comparePage")
        self.samples_dir = samples_dir
        self.runner = CompareRunner(backend, self)
        self.result: CompareResult | None = None
        self.tabs = QTabWidget()
        self.tabs.addTab(self._setup_tab(), "Setup")
        self.results = ResultsPanel()
        self.results.errorOccurred.connect(self.errorOccurred)
        self.tabs.addTab(self.results, "Results")
        self.prompt_view = SamePromptView()
        self.tabs.addTab(self.prompt_view, "Same prompt")
        QVBoxLayout(self).addWidget(self.tabs)
        w = self.runner.worker
        w.progressed.connect(self._on_progress)
        w.compared.connect(self._on_compared)
        w.laddered.connect(self._on_laddered)
        w.pieceReceived.connect(self.prompt_view.append)
        w.replied.connect(self._on_replied)
        w.failed.connect(self._on_failed)
        w.cancelled.connect(self._on_cancelled)
        self.prompt_view.runRequested.connect(self.start_same_prompt)
        self.prompt_view.cancelRequested.connect(self.runner.cancel)
        self._set_busy(False)

    # -- construction --------------------------------------------------------------------------
    def _setup_tab(self) -> QWidget:
        tab = QWidget()
        layout = QVBoxLayout(tab)
        layout.addWidget(QLabel("<b>Files</b> — quantizations of one model"))
        self.files = QListWidget()
        self.files.setAccessibleName("Files to compare")
        self.files.setMaximumHeight(130)
        layout.addWidget(self.files)
        row = QHBoxLayout()
        row.addWidget(_button("Add files…", self._choose_files))
        row.addWidget(_button("Remove", self._remove_selected))
        self.ladder_types = QLineEdit(DEFAULT_LADDER)
        self.ladder_types.setAccessibleName("Quantization types for the ladder")
        self.allow_requantize = QCheckBox("Allow requantizing")
        self.allow_requantize.setToolTip("The selected file is already quantized: make the "
                                         "ladder anyway (files are marked as requantized)")
        self.ladder_button = _button("Make a ladder from selected", self.start_ladder,
                                     "Quantize the selected file into every listed type")
        for widget in (self.ladder_types, self.allow_requantize, self.ladder_button):
            row.addWidget(widget)
        layout.addLayout(row)
        ref_row = QHBoxLayout()
        ref_row.addWidget(QLabel("Reference"))
        self.reference = QComboBox()
        self.reference.setAccessibleName("Reference file")
        self.reference.addItem(AUTO_REFERENCE)
        ref_row.addWidget(self.reference, 1)
        ref_row.addWidget(QLabel("Context"))
        self.ctx = QSpinBox()
        self.ctx.setAccessibleName("Context size")
        self.ctx.setRange(16, 32768)
        self.ctx.setValue(512)
        self.ctx.setToolTip("Tokens per chunk (n_ctx); the text needs at least twice as many")
        ref_row.addWidget(self.ctx)
        self.measure_speed = QCheckBox("Measure pp512 / tg128 speed")
        self.measure_speed.setChecked(True)
        ref_row.addWidget(self.measure_speed)
        layout.addLayout(ref_row)
        text_row = QHBoxLayout()
        text_row.addWidget(QLabel("<b>Text</b>"))
        text_row.addStretch(1)
        text_row.addWidget(_button("Open text file…", self._choose_text))
        text_row.addWidget(_button("Use bundled sample", self.use_sample))
        layout.addLayout(text_row)
        self.text = QPlainTextEdit()
        self.text.setAccessibleName("Text to measure on")
        self.text.setPlaceholderText("Paste a text (at least 2 × context tokens)…")
        layout.addWidget(self.text, 1)
        run_row = QHBoxLayout()
        self.run_button = _button("Compare", self.start_compare)
        self.run_button.setObjectName("primaryButton")
        self.cancel_button = _button("Cancel", self.runner.cancel)
        self.progress = QProgressBar()
        self.progress.setRange(0, 1000)
        for widget in (self.run_button, self.cancel_button):
            run_row.addWidget(widget)
        run_row.addWidget(self.progress, 1)
        layout.addLayout(run_row)
        self.status = QListWidget()
        self.status.setAccessibleName("Progress per file")
        self.status.setMaximumHeight(110)
        layout.addWidget(self.status)
        return tab

    # -- inputs --------------------------------------------------------------------------------
    def paths(self) -> list[Path]:
        return [Path(self.files.item(i).data(Qt.ItemDataRole.UserRole))
                for i in range(self.files.count())]

    def add_files(self, paths: list[Path]) -> None:
        known = {p.resolve() for p in self.paths()}
        for path in paths:
            if Path(path).resolve() in known:
                continue
            self.files.addItem(Path(path).name)
            item = self.files.item(self.files.count() - 1)
            item.setData(Qt.ItemDataRole.UserRole, str(path))
            item.setToolTip(str(path))
            self.reference.addItem(Path(path).name, str(path))
            known.add(Path(path).resolve())

    def _remove_selected(self) -> None:
        for item in self.files.selectedItems():
            row = self.files.row(item)
            self.files.takeItem(row)
            self.reference.removeItem(row + 1)

    def _choose_files(self) -> None:
        names, _ = QFileDialog.getOpenFileNames(self, "GGUF files to compare", "",
                                                "GGUF models (*.gguf)")
        self.add_files([Path(n) for n in names])

    def _choose_text(self) -> None:
        name, _ = QFileDialog.getOpenFileName(self, "Text to measure on", "",
                                              "Text (*.txt *.md);;All files (*)")
        if name:
            self.set_text_from(Path(name))

    def set_text_from(self, path: Path) -> None:
        text = path.read_text(encoding="utf-8", errors="replace")
        self.text.setPlainText(text[:-1] if text.endswith("\n") else text)

    def use_sample(self) -> None:
        samples = sorted(self.samples_dir.glob("*.txt"))
        if not samples:
            self.errorOccurred.emit(f"No bundled sample text in {self.samples_dir}")
            return
        self.set_text_from(samples[0])

    # -- runs ----------------------------------------------------------------------------------
    def start_compare(self) -> None:
        paths = self.paths()
        if not paths:
            self.errorOccurred.emit("Add the GGUF files to compare first.")
            return
        ref_data = self.reference.currentData()
        settings = CompareSettings(n_ctx=self.ctx.value(),
                                   speed=CompareSettings().speed if self.measure_speed.isChecked()
                                   else None)
        self._begin([p.name for p in paths])
        self.runner.compare(paths, self.text.toPlainText(),
                            Path(ref_data) if ref_data else None, settings)

    def start_ladder(self) -> None:
        selected = self.files.selectedItems() or ([self.files.item(0)] if self.files.count()
                                                  else [])
        if not selected:
            self.errorOccurred.emit("Add (and select) the file to make the ladder from.")
            return
        source = Path(selected[0].data(Qt.ItemDataRole.UserRole))
        types = tuple(t.strip() for t in self.ladder_types.text().split(",") if t.strip())
        self._begin([f"{source.name} → {t}" for t in types])
        self.runner.ladder(LadderJob(source, types, source.parent / "quants",
                                     self.allow_requantize.isChecked()))

    def start_same_prompt(self, settings: PromptSettings) -> None:
        if not self.paths():
            self.errorOccurred.emit("Add the GGUF files first.")
            return
        self.prompt_view.start([p.name for p in self.paths()])
        self._set_busy(True)
        self.runner.same_prompt(self.paths(), settings)

    def _begin(self, names: list[str]) -> None:
        self.status.clear()
        self.status.addItems([f"{n}: waiting" for n in names])
        self.progress.setValue(0)
        self._set_busy(True)

    def _set_busy(self, busy: bool) -> None:
        for button in (self.run_button, self.ladder_button, self.prompt_view.run_button):
            button.setEnabled(not busy)
        self.cancel_button.setEnabled(busy)
        self.results.set_exports_enabled(not busy and self.result is not None)

    # -- results -------------------------------------------------------------------------------
    def _on_progress(self, p: object) -> None:
        if isinstance(p, CompareProgress):
            text = f"{p.file}: {p.stage} {p.detail or f'{100 * p.fraction:.0f} %'}"
            row, value = p.index, p.overall
        elif isinstance(p, QuantizeProgress):
            text = f"{p.target}: {p.tensors_done}/{p.tensors_total or '?'} tensors"
            row, value = p.job - 1, (p.job - 1 + p.fraction) / p.jobs
        else:
            return
        if 0 <= row < self.status.count():
            self.status.item(row).setText(text)
        self.progress.setValue(int(1000 * value))

    def _on_compared(self, result: CompareResult) -> None:
        self.result = result
        self.results.set_result(result)
        self.progress.setValue(1000)
        self._set_busy(False)
        self.tabs.setCurrentIndex(1)
        self.resultReady.emit(result)

    def _on_laddered(self, results: tuple[QuantizeResult, ...]) -> None:
        self.add_files([r.output for r in results])
        self.progress.setValue(1000)
        self._set_busy(False)

    def _on_replied(self, replies: object) -> None:
        self.prompt_view.finish(replies)  # type: ignore[arg-type]
        self._set_busy(False)

    def _on_failed(self, message: str) -> None:
        self.status.addItem(f"Failed: {message}")
        self._set_busy(False)
        self.prompt_view.set_busy(False)
        self.errorOccurred.emit(message)

    def _on_cancelled(self) -> None:
        self.status.addItem("Cancelled.")
        self._set_busy(False)
        self.prompt_view.set_busy(False)

    def shutdown(self) -> None:
        """Cancel running work and stop the worker thread (call when the window closes)."""
        self.runner.shutdown()
