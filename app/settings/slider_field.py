"""SliderField: a labelled slider with a numeric field, kept in step both ways."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QDoubleSpinBox,
    QGridLayout,
    QLabel,
    QSlider,
    QWidget,
)


@dataclass(frozen=True)
class FieldSpec:
    key: str
    label: str
    low: float
    high: float
    step: float = 1.0
    decimals: int = 0
    slider_low: float | None = None       # the slider may cover a handier part of the range
    slider_high: float | None = None
    stops: Sequence[int] = ()             # discrete slider positions (e.g. context sizes)
    tooltip: str = ""
    suffix: str = ""


class SliderField(QWidget):
    """`value()` is a float (int-valued for whole-number fields); `valueChanged` on any edit."""

    valueChanged = Signal(float)

    def __init__(self, spec: FieldSpec, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.spec = spec
        self.setObjectName(f"field_{spec.key}")
        self._syncing = False
        self.label = QLabel(spec.label)
        self.label.setObjectName("fieldLabel")
        self.spin = QDoubleSpinBox()
        self.spin.setDecimals(spec.decimals)
        self.spin.setRange(spec.low, spec.high)
        self.spin.setSingleStep(spec.step)
        self.spin.setSuffix(spec.suffix)
        self.spin.setKeyboardTracking(False)
        self.spin.setAlignment(Qt.AlignmentFlag.AlignRight)
        self.spin.setFixedWidth(84)
        self.spin.setAccessibleName(spec.label)
        self.slider = QSlider(Qt.Orientation.Horizontal)
        self.slider.setAccessibleName(f"{spec.label} slider")
        self._configure_slider()
        self.label.setBuddy(self.spin)
        for widget in (self, self.label, self.spin, self.slider):
            widget.setToolTip(spec.tooltip)
        grid = QGridLayout(self)
        grid.setContentsMargins(0, 2, 0, 2)
        grid.setHorizontalSpacing(8)
        grid.setVerticalSpacing(2)
        grid.addWidget(self.label, 0, 0)
        grid.addWidget(self.spin, 0, 1, Qt.AlignmentFlag.AlignRight)
        grid.addWidget(self.slider, 1, 0, 1, 2)
        self.slider.valueChanged.connect(self._slider_moved)
        self.spin.valueChanged.connect(self._spin_changed)

    # -- public ------------------------------------------------------------------------------
    def value(self) -> float:
        return self.spin.value()

    def set_value(self, value: float) -> None:
        """Set without emitting valueChanged (for loading settings)."""
        self._syncing = True
        try:
            self.spin.setValue(value)
            self.slider.setValue(self._to_position(self.spin.value()))
        finally:
            self._syncing = False

    def set_range(self, low: float, high: float, stops: Sequence[int] = ()) -> None:
        current = self.value()
        self.spec = FieldSpec(**{**self.spec.__dict__, "low": low, "high": high,
                                 "slider_low": None, "slider_high": None,
                                 "stops": tuple(stops)})
        self.spin.setRange(low, high)
        self._configure_slider()
        self.set_value(min(max(current, low), high))

    # -- internals ---------------------------------------------------------------------------
    def _configure_slider(self) -> None:
        s = self.spec
        if s.stops:
            self.slider.setRange(0, len(s.stops) - 1)
            self.slider.setPageStep(1)
        else:
            low = s.low if s.slider_low is None else s.slider_low
            high = s.high if s.slider_high is None else s.slider_high
            self.slider.setRange(round(low / s.step), round(high / s.step))
            self.slider.setPageStep(max(1, (self.slider.maximum() - self.slider.minimum()) // 10))

    def _to_position(self, value: float) -> int:
        s = self.spec
        if s.stops:
            return min(range(len(s.stops)), key=lambda i: abs(math.log2(max(s.stops[i], 1))
                                                             - math.log2(max(value, 1))))
        # a typed value past the slider's handier part (a seed of 4e9) pins it at that end
        return max(self.slider.minimum(), min(self.slider.maximum(), round(value / s.step)))

    def _from_position(self, position: int) -> float:
        s = self.spec
        if s.stops:
            return float(s.stops[position])
        return round(position * s.step, s.decimals)

    def _slider_moved(self, position: int) -> None:
        if self._syncing:
            return
        self._syncing = True
        try:
            self.spin.setValue(self._from_position(position))
        finally:
            self._syncing = False
        self.valueChanged.emit(self.spin.value())

    def _spin_changed(self, value: float) -> None:
        if self._syncing:
            return
        self._syncing = True
        try:
            self.slider.setValue(self._to_position(value))
        finally:
            self._syncing = False
        self.valueChanged.emit(value)
