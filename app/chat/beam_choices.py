"""A beam search's other finished beams beside its reply (Text and Instruct modes): each is kept
as one of the reply's alternatives in the store (`Store.add_alternative`, as regenerate keeps
them), listed here with its score; picking one shows it as the reply instead."""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QLabel, QListWidget, QListWidgetItem, QVBoxLayout, QWidget

from app.data.store import Store
from inference.engine.events import Finished

PREVIEW_CHARS = 120


@dataclass(frozen=True)
class BeamOption:
    """One finished beam as stored: its place among the reply's alternatives (0: the best,
    the reply itself), its score and text."""

    index: int
    score: float
    text: str


def store_beams(store: Store, reply_id: int, fin: Finished, *, mode: str, model: str,
                sampling: dict) -> list[BeamOption]:
    """Keep every beam after the best as an alternative of reply `reply_id` (which holds the
    best), the best still shown. Raises StoreError when the store refuses."""
    first = len(store.alternatives(reply_id))
    for beam in fin.beams[1:]:
        alt = store.add_alternative(reply_id, mode=mode, model=model, sampling=sampling)
        store.update_message(alt.id, beam.text, complete=True, stats=fin.stats.to_dict(),
                             finish_reason=beam.finish_reason.value, reasoning=beam.reasoning)
    store.show_alternative(reply_id, first - 1)
    return [BeamOption(first - 1 + i, b.score, b.text) for i, b in enumerate(fin.beams)]


class BeamChoices(QWidget):
    """The finished beams, best first, with their scores; `picked` gives the chosen option."""

    picked = Signal(object)             # BeamOption

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("beamChoices")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        title = QLabel("Beams (score = log-probability ÷ length^penalty; pick one to keep)")
        title.setObjectName("mutedLabel")
        title.setWordWrap(True)
        layout.addWidget(title)
        self.list = QListWidget()
        self.list.setAccessibleName("Finished beams")
        self.list.setMaximumHeight(120)
        self.list.itemActivated.connect(self._activated)
        self.list.itemClicked.connect(self._activated)
        layout.addWidget(self.list)
        self._options: list[BeamOption] = []
        self.hide()

    def show_options(self, options: list[BeamOption]) -> None:
        """List the beams (hidden below two); the first, the reply, is selected."""
        self._options = list(options)
        self.list.clear()
        for rank, option in enumerate(options, start=1):
            preview = " ".join(option.text.split())[:PREVIEW_CHARS] or "(empty)"
            item = QListWidgetItem(f"{rank}. score {option.score:.4f} — {preview}")
            item.setToolTip(option.text)
            self.list.addItem(item)
        if options:
            self.list.setCurrentRow(0)
        self.setVisible(len(options) > 1)

    def clear(self) -> None:
        self.show_options([])

    def _activated(self, item: QListWidgetItem) -> None:
        row = self.list.row(item)
        if 0 <= row < len(self._options):
            self.picked.emit(self._options[row])
