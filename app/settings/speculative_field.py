"""Model settings → speculative decoding: off / prompt lookup / draft model (a file), and the
longest draft; carried to the engine in the `LoadSpec` (applied with a reload)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QComboBox,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from inference.engine.config import ModelConfig
from inference.speculative.settings import DRAFT_MAX_LIMIT, SpeculativeMode

MODES = ((SpeculativeMode.OFF, "Off"), (SpeculativeMode.LOOKUP, "Prompt lookup"),
         (SpeculativeMode.DRAFT, "Draft model"))
HELP = ("Speculative decoding: guess several tokens cheaply and let the model check them in one "
        "step, keeping only those it would have written itself — the text is the same, often "
        "faster when the reply repeats its input. Prompt lookup copies from the conversation; "
        "a draft model (a smaller GGUF of the same family) guesses. Applied with a reload.")
LENGTH_HELP = ("The longest draft checked in one step; the length adapts below it. Up to 6 the "
               "text is bit for bit the text without speculation.")


@dataclass(frozen=True)
class SpeculativeChoice:
    mode: SpeculativeMode = SpeculativeMode.OFF
    draft_model: Path | None = None
    draft_max: int = ModelConfig.draft_max

    @classmethod
    def of(cls, config: ModelConfig) -> SpeculativeChoice:
        return cls(config.speculative, config.draft_model, config.draft_max)


class SpeculativeField(QWidget):
    changed = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._draft: Path | None = None
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(4)
        title = QLabel("Speculative decoding")
        title.setToolTip(HELP)
        self.mode = QComboBox()
        self.mode.setObjectName("speculativeMode")
        self.mode.setAccessibleName("Speculative decoding")
        self.mode.setToolTip(HELP)
        for mode, label in MODES:
            self.mode.addItem(label, mode.value)
        self.length = QSpinBox()
        self.length.setAccessibleName("Draft length")
        self.length.setToolTip(LENGTH_HELP)
        self.length.setRange(1, DRAFT_MAX_LIMIT)
        self.length.setValue(ModelConfig.draft_max)
        self.length.setPrefix("draft ≤ ")
        self.choose = QPushButton("Choose draft model…")
        self.choose.setAccessibleName("Choose the draft model file")
        self.choose.clicked.connect(self._choose_file)
        self.file_label = QLabel("no draft model chosen")
        self.file_label.setObjectName("mutedLabel")
        self.file_label.setWordWrap(True)
        row = QHBoxLayout()
        row.addWidget(self.mode, 1)
        row.addWidget(self.length)
        layout.addWidget(title)
        layout.addLayout(row)
        layout.addWidget(self.choose)
        layout.addWidget(self.file_label)
        self.mode.currentIndexChanged.connect(self._mode_changed)
        self.length.valueChanged.connect(self.changed)
        self._mode_changed()

    def value(self) -> SpeculativeChoice:
        mode = SpeculativeMode(self.mode.currentData())
        draft = self._draft if mode is SpeculativeMode.DRAFT else None
        if mode is SpeculativeMode.DRAFT and draft is None:
            mode = SpeculativeMode.OFF               # nothing to draft with yet
        return SpeculativeChoice(mode, draft, int(self.length.value()))

    def set_value(self, choice: SpeculativeChoice) -> None:
        self._draft = choice.draft_model or self._draft
        self._show_file()
        self.length.setValue(choice.draft_max)
        self.mode.setCurrentIndex(self.mode.findData(choice.mode.value))

    def set_draft_model(self, path: Path) -> None:
        """The draft model file (what the file dialog picks); selects the draft mode."""
        self._draft = path
        self._show_file()
        self.mode.setCurrentIndex(self.mode.findData(SpeculativeMode.DRAFT.value))
        self.changed.emit()

    def _choose_file(self) -> None:
        start = str(self._draft.parent) if self._draft else ""
        name, _ = QFileDialog.getOpenFileName(self, "Choose a draft model", start,
                                              "GGUF models (*.gguf)")
        if name:
            self.set_draft_model(Path(name))

    def _show_file(self) -> None:
        self.file_label.setText(f"draft: {self._draft.name}" if self._draft
                                else "no draft model chosen")

    def _mode_changed(self) -> None:
        draft = self.mode.currentData() == SpeculativeMode.DRAFT.value
        self.length.setEnabled(self.mode.currentData() != SpeculativeMode.OFF.value)
        self.choose.setVisible(draft)
        self.file_label.setVisible(draft)
        self.changed.emit()
