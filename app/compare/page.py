"""The quant workbench page: choose files (from disk or the library, or make a ladder), a
text, run, read, export; every finished comparison is saved and can be reopened.

All long work goes through `CompareRunner` (its own QThread, separate from the chat engine);
the page only builds requests and shows what comes back. Tabs: Setup (files, text, progress per
file with an ETA, Cancel), Results (sortable table, quality-vs-size chart, exports), Same
prompt, Past comparisons (`data/comparisons/*.json`).
"""

from __future__ import annotations

import time
from pathlib import Path

from PySide6.QtCore import QTimer, Signal
from PySide6.QtWidgets import QTabWidget, QVBoxLayout, QWidget

from app.compare.history_view import HistoryPanel
from app.compare.library_picker import LibraryPicker
from app.compare.prompt_view import SamePromptView
from app.compare.results import ResultsPanel
from app.compare.setup import AUTO_REFERENCE, AUTO_REFERENCE_TIP, SAMPLES_DIR, SetupTab
from app.compare.worker import CompareBackend, CompareRunner, LadderJob
from app.remote import LocalOnlyNote
from app.shell.formatting import RateEta
from app.shell.theme import Palette
from inference.compare.comparison import CompareProgress, CompareSettings
from inference.compare.history import CompareHistory
from inference.compare.prompt import PromptSettings
from inference.compare.result import CompareResult
from inference.library.library import Library
from inference.quantize.quantize import QuantizeProgress, QuantizeResult

__all__ = ["AUTO_REFERENCE", "AUTO_REFERENCE_TIP", "ComparePage"]
RESULTS_TAB = 1
ETA_TICK_MS = 1000           # the time left counts down between progress reports


class ComparePage(QWidget):
    errorOccurred = Signal(str)
    errorResolved = Signal()                # what the last error said no longer holds
    resultReady = Signal(object)            # CompareResult

    def __init__(self, backend: CompareBackend | None = None, samples_dir: Path = SAMPLES_DIR,
                 parent: QWidget | None = None, *, library: Library | None = None,
                 history: CompareHistory | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("comparePage")
        self.runner = CompareRunner(backend, self)
        self.result: CompareResult | None = None
        self._eta: RateEta | None = None
        self._eta_timer = QTimer(self, interval=ETA_TICK_MS)
        self._eta_timer.timeout.connect(self._show_eta)
        self.setup = s = SetupTab(samples_dir, library)
        s.errorOccurred.connect(self.errorOccurred)
        s.run_button.clicked.connect(self.start_compare)
        s.cancel_button.clicked.connect(self.runner.cancel)
        s.ladder_button.clicked.connect(self.start_ladder)
        # the Setup tab's parts, by their short names
        self.files, self.reference, self.ctx, self.text = s.files, s.reference, s.ctx, s.text
        self.measure_speed, self.ladder_types = s.measure_speed, s.ladder_types
        self.allow_requantize, self.ladder_button = s.allow_requantize, s.ladder_button
        self.run_button, self.cancel_button = s.run_button, s.cancel_button
        self.progress, self.eta, self.status = s.progress, s.eta, s.status
        self.paths, self.add_files, self.set_text_from = s.paths, s.add_files, s.set_text_from
        self.use_sample = s.use_sample
        self.tabs = QTabWidget()
        self.tabs.addTab(s, "Setup")
        self.results = ResultsPanel()
        self.results.errorOccurred.connect(self.errorOccurred)
        self.tabs.addTab(self.results, "Results")
        self.prompt_view = SamePromptView()
        self.tabs.addTab(self.prompt_view, "Same prompt")
        self.history = HistoryPanel(history or CompareHistory())
        self.history.opened.connect(self.show_result)
        self.history.errorOccurred.connect(self.errorOccurred)
        self.tabs.addTab(self.history, "Past comparisons")
        self.remote_note = LocalOnlyNote("a comparison")
        layout = QVBoxLayout(self)
        layout.addWidget(self.remote_note)
        layout.addWidget(self.tabs)
        w = self.runner
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
        source = self.setup.selected_source()
        if source is None:
            self.errorOccurred.emit("Add (and select) the file to make the ladder from.")
            return
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
        self.eta.setText("")
        self._eta = RateEta(time.monotonic())
        self._eta_timer.start()
        self._set_busy(True)

    def _show_eta(self) -> None:
        self.eta.setText(self._eta.text(time.monotonic()) if self._eta is not None else "")

    def _end_eta(self) -> None:
        self._eta = None
        self._eta_timer.stop()
        self.eta.setText("")

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
        if self._eta is not None:
            self._eta.update(value, time.monotonic())
            self._show_eta()

    def _on_compared(self, result: CompareResult) -> None:
        self.progress.setValue(1000)
        self._end_eta()
        if result.partial:
            self.status.addItem(f"Cancelled: kept the {len(result.rows)} of "
                                f"{result.files_asked} files measured before it.")
        try:
            saved: Path | None = self.history.history.save(result)
        except OSError as exc:
            saved = None
            self.errorOccurred.emit(f"The comparison could not be saved: {exc}")
        self.history.refresh(select=saved)
        self.show_result(result)
        self.resultReady.emit(result)

    def show_result(self, result: CompareResult) -> None:
        """Show a comparison (just finished or reopened) in the Results tab."""
        self.result = result
        self.results.set_result(result)
        self._set_busy(self.runner.busy)
        self.tabs.setCurrentIndex(RESULTS_TAB)

    def _on_laddered(self, results: tuple[QuantizeResult, ...]) -> None:
        self.add_files([r.output for r in results])
        for i, r in enumerate(results):
            if i < self.status.count():
                how = "kept the existing file" if r.reused else f"made in {r.seconds:.0f} s"
                self.status.item(i).setText(f"{r.quant}: {r.output.name}, {how} "
                                            f"({r.bits_per_weight:.2f} bpw)")
        self.progress.setValue(1000)
        self._end_eta()
        self._set_busy(False)
        self.errorResolved.emit()              # e.g. the refusal to requantize, now allowed

    def _on_replied(self, replies: object) -> None:
        self.prompt_view.finish(replies)  # type: ignore[arg-type]
        self._set_busy(False)

    def _on_failed(self, message: str) -> None:
        message = gui_wording(message)
        self.status.addItem(f"Failed: {message}")
        self._end_eta()
        self._set_busy(False)
        self.prompt_view.set_busy(False)
        self.errorOccurred.emit(message)

    def _on_cancelled(self) -> None:
        self.status.addItem("Cancelled.")
        self._end_eta()
        self._set_busy(False)
        self.prompt_view.set_busy(False)

    def open_library_picker(self) -> LibraryPicker:
        return self.setup.open_library_picker()

    def set_palette(self, palette: Palette) -> None:
        """The page's colours come from the window's style sheet; the chart's from the
        palette."""
        self.results.set_palette(palette)

    def shutdown(self) -> None:
        """Cancel running work and stop the worker thread (call when the window closes)."""
        if self.setup.picker is not None:
            self.setup.picker.tasks.shutdown()
        self.runner.shutdown()


CLI_FLAGS = {"(--allow-requantize)": "(tick “Allow requantizing”)"}


def gui_wording(message: str) -> str:
    """An engine message as the page says it: the setting to change, not the CLI's flag."""
    for flag, words in CLI_FLAGS.items():
        message = message.replace(flag, words)
    return message
