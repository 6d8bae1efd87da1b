"""The Perplexity page: a text (pasted or opened), its token count and method, a measurement on
the engine worker with progress, ETA and Cancel, the result, a surprise heatmap, and past runs.

Nothing here waits on the engine: tokenizing and measuring are requests to the EngineClient whose
answers arrive as callbacks on the GUI thread.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QSizePolicy,
    QSplitter,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from app.engine.client import ClientState, EngineClient
from app.engine.perplexity_job import PerplexityHandlers, PerplexityOptions
from app.perplexity.heat_colors import HeatLegend
from app.perplexity.heatmap_view import MAX_TOKENS, HeatmapView
from app.perplexity.history import PplHistory, ppl_text
from app.perplexity.job import METHOD_HELP, PPL_HELP
from app.perplexity.store import NewRun, PplStore
from app.perplexity.text_input import TextInput
from app.remote import LocalOnlyNote, remote_name
from app.shell.formatting import RateEta
from app.shell.theme import Palette
from inference.engine.api import LoadedModel
from inference.perplexity.measure import PerplexityResult

EMPTY_MESSAGE = "The text is empty. Paste a text or open a .txt or .md file to measure."
NO_MODEL = "No model is loaded. Load one from the Library or the Chat page first."


@dataclass(frozen=True)
class _Run:
    text: str
    options: PerplexityOptions
    model: LoadedModel


class PerplexityPage(QWidget):
    errorOccurred = Signal(str)

    def __init__(self, client: EngineClient, store: PplStore | None,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("perplexityPage")
        self.client = client
        self.result: PerplexityResult | None = None
        self._run: _Run | None = None
        self._eta = RateEta(time.monotonic())
        self._build(store)
        client.modelLoaded.connect(self._model_changed)
        client.modelUnloaded.connect(self._model_changed)
        client.engineCrashed.connect(self._model_changed)
        client.perplexityProgress.connect(self._progress)
        self._model_changed()

    # -- construction ------------------------------------------------------------------------
    def _build(self, store: PplStore | None) -> None:
        title = QLabel("Perplexity")
        title.setObjectName("pageTitle")
        what = QLabel("What is perplexity?")
        what.setObjectName("helpLabel")
        what.setToolTip(PPL_HELP)
        what.setAccessibleDescription(PPL_HELP)
        what.setCursor(Qt.CursorShape.WhatsThisCursor)
        self.model_label = _plain_label("mutedLabel")
        head = QHBoxLayout()
        head.addWidget(title)
        head.addWidget(what)
        head.addWidget(self.model_label, 1)
        self.model_label.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        self.input = TextInput(self.client)
        self.input.messageRequested.connect(self.show_message)
        self.editor = self.input.editor
        self.run_button = QPushButton("Measure")
        self.run_button.setObjectName("primaryButton")
        self.run_button.setAccessibleName("Measure perplexity")
        self.run_button.setToolTip(PPL_HELP)
        self.run_button.clicked.connect(self.run)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setAccessibleName("Cancel the measurement")
        self.cancel_button.clicked.connect(self.cancel)
        for button in (self.run_button, self.cancel_button):
            button.setMinimumWidth(110)
            button.setSizePolicy(QSizePolicy.Policy.Fixed, QSizePolicy.Policy.Fixed)
        self.progress = QProgressBar()
        self.progress.setAccessibleName("Measurement progress")
        self.eta = QLabel("")
        self.eta.setObjectName("mutedLabel")
        self.message = _plain_label("pplMessage")
        self.message.setWordWrap(True)
        self.message.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        run_row = QHBoxLayout()
        for widget in (self.run_button, self.cancel_button):
            run_row.addWidget(widget)
        run_row.addWidget(self.progress, 1)
        run_row.addWidget(self.eta)
        run_row.addStretch(0)
        top = QWidget()
        top_layout = QVBoxLayout(top)
        top_layout.setContentsMargins(0, 0, 0, 0)
        top_layout.addLayout(head)
        self.remote_note = LocalOnlyNote("perplexity")
        top_layout.addWidget(self.remote_note)
        top_layout.addWidget(self.input, 1)
        top_layout.addLayout(run_row)
        top_layout.addWidget(self.message)
        self.ppl_value = QLabel("—")
        self.ppl_value.setObjectName("pplValue")
        self.ppl_value.setToolTip(PPL_HELP)
        self.ppl_value.setAccessibleName("Perplexity result")
        self.ppl_value.setAccessibleDescription(PPL_HELP)
        self.details = _plain_label("mutedLabel")
        self.details.setText("Measure a text to see its perplexity.")
        self.details.setWordWrap(True)
        self.details.setToolTip(METHOD_HELP)
        self.details.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        result_row = QHBoxLayout()
        result_row.addWidget(self.ppl_value)
        result_row.addWidget(self.details, 1)
        self.heatmap = HeatmapView()
        self.heatmap.clear_scores("The heatmap appears here after a measurement.")
        self.legend = HeatLegend()
        self.token_info = _plain_label("mutedLabel")
        self.token_info.setAccessibleName("The token at the cursor")
        self.heatmap.tokenFocused.connect(self.token_info.setText)
        heat_tab = QWidget()
        heat_layout = QVBoxLayout(heat_tab)
        heat_layout.setContentsMargins(0, 6, 0, 0)
        legend_row = QHBoxLayout()
        legend_row.addWidget(self.legend)
        legend_row.addWidget(self.token_info, 1)
        heat_layout.addLayout(legend_row)
        heat_layout.addWidget(self.heatmap, 1)
        self.history = PplHistory(store)
        self.history.useTextRequested.connect(self.input.set_text)
        self.input.fingerprintChanged.connect(self.history.set_current_text)
        self.tabs = QTabWidget()
        self.tabs.setObjectName("pplTabs")
        self.tabs.addTab(heat_tab, "Heatmap")
        self.tabs.addTab(self.history, "Past runs")
        bottom = QWidget()
        bottom_layout = QVBoxLayout(bottom)
        bottom_layout.setContentsMargins(0, 4, 0, 0)
        bottom_layout.addLayout(result_row)
        bottom_layout.addWidget(self.tabs, 1)
        split = QSplitter(Qt.Orientation.Vertical)
        split.addWidget(top)
        split.addWidget(bottom)
        split.setStretchFactor(0, 2)
        split.setStretchFactor(1, 3)
        split.setChildrenCollapsible(False)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(16, 10, 16, 12)
        layout.addWidget(split)
        self._set_running(False)

    # -- measuring ---------------------------------------------------------------------------
    def run(self) -> bool:
        """Measure the editor's text on the loaded model; False (with a message) if it can't."""
        text = self.input.text()
        loaded = self.client.loaded
        problem = (EMPTY_MESSAGE if not text.strip() else NO_MODEL if loaded is None
                   else self.remote_note.label.text() if remote_name(loaded)
                   else "The engine is busy (loading a model or writing a reply); try again "
                   "when it has finished." if self.client.state != ClientState.IDLE else "")
        if problem or loaded is None:
            self.show_message(problem, error=True)
            return False
        tokens = self.input.tokens
        options = PerplexityOptions(n_ctx=self.input.n_ctx(),
                                    per_token=tokens is None or tokens <= MAX_TOKENS)
        handlers = PerplexityHandlers(on_finished=self._finished, on_cancelled=self._cancelled,
                                      on_failed=self._failed)
        if not self.client.perplexity(text, options, handlers):
            self.show_message("The engine is busy; try again in a moment.", error=True)
            return False
        self._run = _Run(text, options, loaded)
        self._eta = RateEta(time.monotonic())
        self._set_running(True)
        self.show_message(f"Measuring on {loaded.config.path.name}…")
        return True

    def cancel(self) -> None:
        if self._run is not None and self.client.state == ClientState.MEASURING:
            self.client.stop()
            self.eta.setText("cancelling…")

    @property
    def running(self) -> bool:
        return self._run is not None

    def _progress(self, done: int, total: int, _engine_eta: float | None) -> None:
        """Progress; the time left is the one rate-based estimate every page shows."""
        if self._run is None:
            return
        self.progress.setRange(0, max(total, 1))
        self.progress.setValue(done)
        now = time.monotonic()
        self._eta.update(done / total if total else 1.0, now)
        self.eta.setText(self._eta.text(now) or "estimating…")

    def _finished(self, result: PerplexityResult) -> None:
        run, self._run = self._run, None
        self._set_running(False)
        self.result = result
        self.ppl_value.setText(f"PPL {ppl_text(result.ppl, result.ppl_se)}")
        method = "chunked" if result.method == "chunked" else "full text"
        self.details.setText(
            f"{result.tokens_scored:,} of {result.tokens_total:,} tokens scored · {method} · "
            f"context {result.n_ctx:,} · {result.tokens_per_second:,.0f} tokens/s · "
            f"{result.seconds:.2f} s" + (f" · {run.model.config.path.name}" if run else ""))
        self.show_message("")
        if result.per_token:
            self.heatmap.show_scores(run.text if run else "", result.per_token)
        else:
            self.heatmap.clear_scores(f"No heatmap: the text is longer than {MAX_TOKENS:,} "
                                      "tokens.")
        self.tabs.setCurrentIndex(0)
        if run is not None:
            self.history.add(NewRun(
                model_file=run.model.config.path.name, model_path=str(run.model.config.path),
                quant=str(run.model.info.get("quant") or ""), text=run.text,
                n_ctx=result.n_ctx, method=result.method, ppl=result.ppl,
                ppl_se=result.ppl_se if math.isfinite(result.ppl_se) else math.nan,
                tokens_total=result.tokens_total, tokens_scored=result.tokens_scored,
                seconds=result.seconds))

    def _cancelled(self) -> None:
        self._run = None
        self._set_running(False)
        self.show_message("Cancelled. Nothing was measured.")

    def _failed(self, message: str) -> None:
        self._run = None
        self._set_running(False)
        self.show_message(message, error=True)

    def _set_running(self, running: bool) -> None:
        self.run_button.setEnabled(not running)
        self.cancel_button.setEnabled(running)
        self.input.set_running(running)
        self.progress.setRange(0, 1)
        self.progress.setValue(0)
        self.progress.setVisible(running)
        self.eta.setText("estimating…" if running else "")

    # -- state -------------------------------------------------------------------------------
    def show_message(self, text: str, error: bool = False) -> None:
        self.message.setProperty("kind", "error" if error else "info")
        self.message.style().unpolish(self.message)
        self.message.style().polish(self.message)
        self.message.setText(text)
        self.message.setVisible(bool(text))

    def _model_changed(self, *_args: object) -> None:
        loaded = self.client.loaded
        self.remote_note.set_engine(remote_name(loaded))
        if loaded is None:
            self.model_label.setText("No model loaded")
        else:
            quant = loaded.info.get("quant") or ""
            self.model_label.setText(f"Model: {loaded.config.path.name}"
                                     + (f" · {quant}" if quant else ""))
        self.input.recount()

    def set_palette(self, palette: Palette) -> None:
        self.heatmap.set_palette(palette)
        self.legend.set_palette(palette)

    def shutdown(self) -> None:
        """Stop a running measurement and close the history database."""
        self.input.shutdown()
        if self._run is not None:
            self.client.stop()
            self._run = None
        if self.history.store is not None:
            self.history.store.close()
            self.history.store = None


def _plain_label(name: str) -> QLabel:
    """A label for text that may hold anything (file names, tokens like "<h1>"): shown as plain
    text, and never widening the window however long it gets."""
    label = QLabel("")
    label.setObjectName(name)
    label.setTextFormat(Qt.TextFormat.PlainText)
    label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
    label.setMinimumWidth(40)
    return label
