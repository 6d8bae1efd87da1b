"""The welcome view's list of recommended models: each with its size, quant, what it is good
for, its licence, whether it fits this computer and a Download button; under the list, the one
download started here (progress, speed, time left; Resume when it stopped)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from PySide6.QtCore import Signal
from PySide6.QtGui import QFont
from PySide6.QtWidgets import (
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from app.hub.download_list import STATE_WORDS
from app.shell.first_run_check import Offer
from app.shell.formatting import eta_text
from inference.hub.queue import DownloadItem, DownloadState
from inference.hub.search import SizeFit
from inference.memory.fit import Fit, human_bytes

FIT_WORDS = {Fit.GPU: "fits on the GPU", Fit.PARTIAL: "fits partly on the GPU",
             Fit.RAM: "fits in memory", Fit.TOO_LARGE: "too big for this computer"}
PROGRESS_STEPS = 1000
ROWS_PER_MODEL = 4               # name, good for, licence and fit, a gap
GAP_PX = 10


@dataclass(frozen=True)
class OfferRow:
    """The widgets of one listed model (tests read them as a person would)."""

    offer: Offer
    name: QLabel
    details: QLabel
    fit: QLabel
    button: QPushButton


class RecommendedList(QWidget):
    downloadRequested = Signal(object)          # the Offer picked
    resumeRequested = Signal()                  # the stopped download, again

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("recommendedList")
        self.rows: list[OfferRow] = []
        self._grid = QGridLayout()
        self._grid.setContentsMargins(0, 0, 0, 0)
        self._grid.setHorizontalSpacing(12)
        self._grid.setVerticalSpacing(2)
        self._grid.setColumnStretch(0, 1)
        self.progress = QProgressBar()
        self.progress.setRange(0, PROGRESS_STEPS)
        self.progress.setAccessibleName("Download progress")
        self.progress_text = QLabel("")
        self.progress_text.setObjectName("mutedLabel")
        self.progress_text.setWordWrap(True)
        self.resume_button = QPushButton("Resume the download")
        self.resume_button.clicked.connect(self.resumeRequested)
        under = QHBoxLayout()
        under.addWidget(self.progress_text, 1)
        under.addWidget(self.resume_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(self._grid)
        layout.addWidget(self.progress)
        layout.addLayout(under)
        for widget in (self.progress, self.progress_text, self.resume_button):
            widget.hide()

    def show_offers(self, offers: Sequence[Offer], fits: Sequence[SizeFit | None]) -> None:
        """List `offers` (smallest first, as the file has them), each with its fit verdict."""
        self.clear()
        bold = QFont(self.font())
        bold.setBold(True)
        for i, (offer, verdict) in enumerate(zip(offers, fits, strict=True)):
            model = offer.model
            name = QLabel(f"{model.name}  ·  {human_bytes(offer.size)}  ·  {model.quant}")
            name.setFont(bold)
            details = QLabel(model.good_for)
            details.setWordWrap(True)
            fit_words = FIT_WORDS[verdict.fit] if verdict else "fit unknown (no size listed)"
            fit = QLabel(f"Licence: {model.licence}  ·  {fit_words.capitalize()}")
            fit.setObjectName("mutedLabel")
            fit.setWordWrap(True)
            fit.setToolTip(verdict.message if verdict else "")
            button = QPushButton("Download")
            button.setAccessibleName(f"Download {model.name} ({human_bytes(offer.size)})")
            button.setToolTip(f"{model.repo}/{model.file}: downloaded into Parley's models "
                              "folder, then loaded")
            button.clicked.connect(lambda _c=False, o=offer: self.downloadRequested.emit(o))
            top = ROWS_PER_MODEL * i
            self._grid.addWidget(name, top, 0)
            self._grid.addWidget(button, top, 1, 2, 1)
            self._grid.addWidget(details, top + 1, 0)
            self._grid.addWidget(fit, top + 2, 0)
            self._grid.setRowMinimumHeight(top + 3, GAP_PX)     # between two models
            for label in (name, details, fit):     # a squeezed grid row would cut the
                label.setMinimumHeight(label.fontMetrics().height() + 2)   # descenders
            self.rows.append(OfferRow(offer, name, details, fit, button))

    def clear(self) -> None:
        while self._grid.count():
            item = self._grid.takeAt(0)
            if item.widget():
                item.widget().deleteLater()
        self.rows = []

    def show_download(self, name: str, item: DownloadItem) -> None:
        """The download started here, as its queue reports it (GUI thread)."""
        p = item.progress
        total = item.file.size or (p.total if p else None)
        done = total if item.state == DownloadState.DONE and total else (p.done if p else 0)
        self.progress.setValue(int(PROGRESS_STEPS * done / total) if total else 0)
        self.progress.setFormat(f"{human_bytes(done)} / {human_bytes(total)}" if total else "")
        words = f"{STATE_WORDS[item.state]} {name}"
        if item.state == DownloadState.RUNNING and p is not None and p.speed > 0:
            words += f"  ·  {human_bytes(p.speed)}/s  ·  {eta_text(p.eta_s)}"
        elif item.state == DownloadState.DONE:
            words += "  ·  loading it now"
        elif item.state == DownloadState.FAILED:
            words += f": {item.error or 'the download failed'}"
        elif item.state == DownloadState.PAUSED:
            words += "  ·  what has arrived is kept"
        self.progress_text.setText(words)
        stopped = item.state in (DownloadState.PAUSED, DownloadState.FAILED,
                                 DownloadState.CANCELLED)
        self.progress.setVisible(item.state != DownloadState.FAILED)
        self.progress_text.show()
        self.resume_button.setVisible(stopped)
        busy = item.state.active
        for row in self.rows:
            row.button.setEnabled(not busy)

