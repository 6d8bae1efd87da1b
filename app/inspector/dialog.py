"""The inspector of one token: its candidates stage by stage, what each stage does (the very
text of the sliders' tooltips, inference.engine.sampling.sampling_help), and "what if" sliders
that re-shape the distribution from the stored candidates at once (no model call)."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QScrollArea,
    QSlider,
    QVBoxLayout,
    QWidget,
)

from app.inspector.chart import StageChart
from app.shell.theme import LIGHT, Palette
from inference.engine.sampling import sampling_help
from inference.inspector.choice import Inspection
from inference.inspector.whatif import Shaping, reshape

# setting → (label, slider steps per unit, slider maximum in steps)
KNOBS: dict[str, tuple[str, int, int]] = {
    "temperature": ("Temperature", 100, 300), "top_k": ("Top-k", 1, 100),
    "top_p": ("Top-p", 100, 100), "min_p": ("Min-p", 100, 100)}


class InspectorDialog(QDialog):
    """Token `position` of `inspection`, with "what if" for the four shaping settings and
    `continueFrom(position, token)` when the user asks to go on from here with a candidate."""

    continueFrom = Signal(int, int)

    def __init__(self, inspection: Inspection, position: int, palette: Palette = LIGHT,
                 parent: QWidget | None = None, *, branching: bool = False) -> None:
        super().__init__(parent)
        self.setObjectName("tokenInspector")
        self.inspection, self.position = inspection, position
        self.choice = choice = inspection.choices[position]
        piece = inspection.pieces[position].decode("utf-8", errors="replace")
        self.setWindowTitle(f"Token {position + 1} of {len(inspection.choices)}")
        drawn = choice.drawn_index
        self.summary = QLabel(
            f"Drawn: {piece!r} — raw probability {pow(2.718281828, choice.logprob):.1%}, "
            f"{choice.final_probs[drawn]:.1%} after the chain; entropy of the raw "
            f"distribution {choice.entropy:.2f} nats. The chain, in order: raw → "
            f"{' → '.join(choice.stages)}.")
        self.summary.setWordWrap(True)
        self.chart = StageChart(choice, inspection.texts, palette, self)
        scroll = QScrollArea(self)
        scroll.setWidget(self.chart)
        scroll.setWidgetResizable(True)
        self.definitions = QLabel("\n\n".join(
            f"{label}: {sampling_help(key)}" for key, (label, _, _) in KNOBS.items()))
        self.definitions.setWordWrap(True)
        self.definitions.setObjectName("inspectorDefinitions")
        self.sliders: dict[str, QSlider] = {}
        self.values: dict[str, QLabel] = {}
        form = QFormLayout()
        own = Shaping.from_sampling(inspection.sampling)
        for key, (label, steps, top) in KNOBS.items():
            slider = QSlider(Qt.Orientation.Horizontal, self)
            slider.setObjectName(f"whatIf_{key}")
            slider.setRange(0, top)
            slider.setValue(round(getattr(own, key) * steps))
            slider.setToolTip(sampling_help(key))        # the settings panel's very tooltip
            value = QLabel(self)
            slider.valueChanged.connect(self._reshape)
            row = QHBoxLayout()
            row.addWidget(slider, 1)
            row.addWidget(value)
            form.addRow(label, row)
            self.sliders[key], self.values[key] = slider, value
        side = QVBoxLayout()
        side.addWidget(QLabel("<b>What each stage does</b>"))
        side.addWidget(self.definitions)
        side.addWidget(QLabel("<b>What if</b> (from the stored candidates; no model call)"))
        side.addLayout(form)
        self.candidates = QComboBox(self)
        self.candidates.setObjectName("inspectorCandidate")
        for index in self.chart.rows:
            self.candidates.addItem(self.chart.label(index), int(choice.ids[index]))
        self.candidates.setCurrentIndex(self.chart.rows.index(drawn))
        self.continue_button = QPushButton("Continue from here with this token", self)
        self.continue_button.setToolTip("Keep the reply up to this token, put the chosen "
                                        "candidate in its place and let the model go on")
        self.continue_button.clicked.connect(self._continue)
        side.addWidget(self.candidates)
        side.addWidget(self.continue_button)
        # only where the view can go on from a token (the Text view); hidden, not dead
        self.candidates.setVisible(branching)
        self.continue_button.setVisible(branching)
        side.addStretch(1)
        body = QHBoxLayout()
        body.addWidget(scroll, 3)
        body.addLayout(side, 2)
        layout = QVBoxLayout(self)
        layout.addWidget(self.summary)
        layout.addLayout(body, 1)
        self.resize(1100, 560)
        self._reshape()

    def shaping(self) -> Shaping:
        """What the what-if sliders say now."""
        v = {key: self.sliders[key].value() / steps for key, (_, steps, _) in KNOBS.items()}
        return Shaping(v["temperature"], int(v["top_k"]), v["top_p"], v["min_p"])

    def _continue(self) -> None:
        self.continueFrom.emit(self.position, int(self.candidates.currentData()))
        self.accept()

    def _reshape(self) -> None:
        shaping = self.shaping()
        for key in KNOBS:
            value = getattr(shaping, key)
            self.values[key].setText(str(value) if key == "top_k" else f"{value:.2f}")
        result = reshape(self.choice, shaping)
        self.chart.set_what_if(result.probs, result.exact)
