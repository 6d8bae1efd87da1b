"""The settings' "Beam search" box: on/off, width and length penalty. While it is on, the
sampling sliders are greyed out (they do nothing to a beam search), their tooltip says why."""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QCheckBox, QVBoxLayout, QWidget

from app.settings.slider_field import FieldSpec, SliderField
from inference.engine.sampling import MAX_BEAMS, SAMPLING_RANGES

DEFAULT_WIDTH = 4
# Sliders that shape sampling and so do nothing to a beam search.
SAMPLING_ONLY = ("temperature", "top_k", "top_p", "min_p", "repeat_penalty", "presence_penalty",
                 "frequency_penalty", "seed")
GREYED_REASON = ("Beam search is on: it keeps the most likely whole continuations, so this "
                 "sampling setting does nothing. Turn beam search off to use it.")


def _tip(key: str) -> str:
    return f"{SAMPLING_RANGES[key].help}\nRange: {SAMPLING_RANGES[key].describe()}."


class BeamSearchBox(QWidget):
    """`beams()` is 0 when off; `changed` on any edit."""

    changed = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("beamSearch")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        self.switch = QCheckBox("Beam search (Text and Instruct modes)")
        self.switch.setAccessibleName("Beam search")
        self.switch.setToolTip("Follow several continuations at once and keep the most "
                                "likely whole reply; the other finished beams are shown "
                                "beside it with their scores.")
        self.width_field = SliderField(FieldSpec("beams", "Beam width", 1, MAX_BEAMS, 1, 0,
                                           slider_high=16, tooltip=_tip("beams")))
        rng = SAMPLING_RANGES["length_penalty"]
        self.penalty_field = SliderField(FieldSpec(
            "length_penalty", "Length penalty", rng.low, rng.high, 0.1, 1, slider_low=-2,
            slider_high=3, tooltip=_tip("length_penalty")))
        self.width_field.set_value(DEFAULT_WIDTH)
        self.penalty_field.set_value(1.0)
        for widget in (self.switch, self.width_field, self.penalty_field):
            layout.addWidget(widget)
        self.switch.toggled.connect(self._toggled)
        self.width_field.valueChanged.connect(self.changed)
        self.penalty_field.valueChanged.connect(self.changed)
        self._toggled(False, notify=False)

    def beams(self) -> int:
        return int(self.width_field.value()) if self.switch.isChecked() else 0

    def length_penalty_value(self) -> float:
        return float(self.penalty_field.value())

    def set_values(self, beams: int, length_penalty: float) -> None:
        """Load settings without emitting `changed`."""
        self.switch.blockSignals(True)
        self.switch.setChecked(beams > 0)
        self.switch.blockSignals(False)
        if beams > 0:
            self.width_field.set_value(beams)
        self.penalty_field.set_value(length_penalty)
        self._toggled(beams > 0, notify=False)

    def grey_out(self, fields: dict[str, SliderField]) -> None:
        """Enable the sampling sliders, or grey them out with the reason, as the box says."""
        on = self.switch.isChecked()
        for key in SAMPLING_ONLY:
            field = fields[key]
            field.setEnabled(not on)
            tip = GREYED_REASON if on else field.spec.tooltip
            for widget in (field, field.label, field.spin, field.slider):
                widget.setToolTip(tip)

    def _toggled(self, on: bool, notify: bool = True) -> None:
        self.width_field.setEnabled(on)
        self.penalty_field.setEnabled(on)
        if notify:
            self.changed.emit()
