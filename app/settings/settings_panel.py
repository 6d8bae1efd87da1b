"""Settings: sampling sliders, system prompt, reset to defaults, and named presets."""

from __future__ import annotations

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QInputDialog,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from app.data.prefs import DEFAULT_SYSTEM_PROMPT, PrefsStore
from app.settings.beam_fields import BeamSearchBox
from app.settings.slider_field import FieldSpec, SliderField
from inference.common.errors import InvalidSettingError
from inference.engine.sampling import SAMPLING_RANGES, SamplingParams, sampling_help


def _help(key: str) -> str:
    return sampling_help(key)


def _field(key: str, label: str, step: float, decimals: int, **kw: float) -> FieldSpec:
    """A slider over the engine's own limits (inference/engine/sampling.py), never a copy of
    them.
    """
    rng = SAMPLING_RANGES[key]
    low = rng.low + step if rng.low_exclusive else rng.low
    return FieldSpec(key, label, low, rng.high, step, decimals, tooltip=_help(key), **kw)


SAMPLING_FIELDS = (
    _field("temperature", "Temperature", 0.05, 2, slider_high=2),
    _field("top_k", "Top-k", 1, 0, slider_high=200),
    _field("top_p", "Top-p", 0.01, 2),
    _field("min_p", "Min-p", 0.01, 2),
    _field("repeat_penalty", "Repeat penalty", 0.01, 2, slider_high=2),
    _field("presence_penalty", "Presence penalty", 0.05, 2),
    _field("frequency_penalty", "Frequency penalty", 0.05, 2),
    _field("max_tokens", "Max tokens", 1, 0, slider_high=8192),
    _field("seed", "Seed", 1, 0, slider_high=9999),
)
INT_FIELDS = ("top_k", "max_tokens", "seed")


class SettingsPanel(QWidget):
    samplingChanged = Signal(object)       # SamplingParams
    systemPromptChanged = Signal(str)
    themeChosen = Signal(str)              # system | light | dark

    def __init__(self, prefs_store: PrefsStore, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("settingsPanel")
        self._prefs_store = prefs_store
        self._stop: tuple[str, ...] = ()
        layout = QVBoxLayout(self)
        layout.setContentsMargins(12, 12, 12, 12)
        layout.setSpacing(6)
        layout.addLayout(self._presets_row())
        layout.addWidget(_heading("Sampling"))
        self.fields: dict[str, SliderField] = {}
        for spec in SAMPLING_FIELDS:
            field = SliderField(spec)
            field.valueChanged.connect(self._emit_sampling)
            self.fields[spec.key] = field
            layout.addWidget(field)
        self.fields["seed"].spin.setSpecialValueText("random")
        self.beam_search = BeamSearchBox()
        self.beam_search.changed.connect(self._beam_changed)
        layout.addWidget(self.beam_search)
        layout.addWidget(_heading("System prompt"))
        self.system_prompt = QPlainTextEdit()
        self.system_prompt.setObjectName("systemPrompt")
        self.system_prompt.setAccessibleName("System prompt")
        self.system_prompt.setPlaceholderText("Instructions the model follows in Chat and "
                                              "Instruct modes")
        self.system_prompt.setTabChangesFocus(True)
        self.system_prompt.setFixedHeight(92)
        layout.addWidget(self.system_prompt)
        self._prompt_timer = QTimer(self, singleShot=True, interval=300)
        self._prompt_timer.timeout.connect(
            lambda: self.systemPromptChanged.emit(self.system_prompt.toPlainText()))
        self.system_prompt.textChanged.connect(self._prompt_timer.start)
        self.reset_button = QPushButton("Reset to defaults")
        self.reset_button.setAccessibleName("Reset sampling and system prompt to defaults")
        self.reset_button.clicked.connect(self.reset_defaults)
        layout.addWidget(self.reset_button, 0, Qt.AlignmentFlag.AlignLeft)
        layout.addWidget(_heading("Appearance"))
        self.theme = QComboBox()
        self.theme.setAccessibleName("Theme")
        for label, value in (("Follow the system", "system"), ("Light", "light"),
                             ("Dark", "dark")):
            self.theme.addItem(label, value)
        self.theme.activated.connect(lambda i: self.themeChosen.emit(self.theme.itemData(i)))
        layout.addWidget(self.theme)
        layout.addStretch(1)

    def _presets_row(self) -> QVBoxLayout:
        row = QHBoxLayout()
        self.presets = QComboBox()
        self.presets.setAccessibleName("Preset")
        self.presets.setToolTip("Named sets of sampling settings and system prompt")
        self.presets.activated.connect(self._preset_chosen)
        self.save_preset_button = QPushButton("Save…")
        self.save_preset_button.setAccessibleName("Save settings as a preset")
        self.save_preset_button.clicked.connect(self._ask_preset_name)
        self.delete_preset_button = QPushButton("Delete")
        self.delete_preset_button.setAccessibleName("Delete the selected preset")
        self.delete_preset_button.clicked.connect(self._delete_preset)
        label = QLabel("Preset")
        label.setBuddy(self.presets)
        row.addWidget(label)
        row.addWidget(self.presets, 1)
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        buttons.addWidget(self.save_preset_button)
        buttons.addWidget(self.delete_preset_button)
        outer = QVBoxLayout()
        outer.addLayout(row)
        outer.addLayout(buttons)
        self._refresh_presets()
        return outer

    # -- values ------------------------------------------------------------------------------
    def sampling(self) -> SamplingParams:
        values = {key: field.value() for key, field in self.fields.items()}
        for key in INT_FIELDS:
            values[key] = int(values[key])
        values["beams"] = self.beam_search.beams()
        values["length_penalty"] = self.beam_search.length_penalty_value()
        return SamplingParams.from_dict({**values, "stop": self._stop})

    def set_sampling(self, params: SamplingParams, *, notify: bool = False) -> None:
        self._stop = params.stop
        for key, field in self.fields.items():
            field.set_value(float(getattr(params, key)))
        self.beam_search.set_values(int(params.beams), float(params.length_penalty))
        self.beam_search.grey_out(self.fields)
        if notify:
            self.samplingChanged.emit(self.sampling())

    def set_theme(self, choice: str) -> None:
        self.theme.setCurrentIndex(max(self.theme.findData(choice), 0))

    def set_system_prompt(self, text: str) -> None:
        self.system_prompt.blockSignals(True)
        self.system_prompt.setPlainText(text)
        self.system_prompt.blockSignals(False)

    def system_prompt_text(self) -> str:
        return self.system_prompt.toPlainText()

    def reset_defaults(self) -> None:
        self.set_sampling(SamplingParams(), notify=True)
        self.set_system_prompt(DEFAULT_SYSTEM_PROMPT)
        self.systemPromptChanged.emit(DEFAULT_SYSTEM_PROMPT)

    def _beam_changed(self) -> None:
        self.beam_search.grey_out(self.fields)
        self._emit_sampling()

    def _emit_sampling(self) -> None:
        try:
            self.samplingChanged.emit(self.sampling())
        except InvalidSettingError:
            pass                      # the spin boxes keep values in range; be safe anyway

    # -- presets -----------------------------------------------------------------------------
    def _refresh_presets(self, select: str = "") -> None:
        self.presets.blockSignals(True)
        self.presets.clear()
        self.presets.addItem("(choose a preset)", "")
        for name in sorted(self._prefs_store.presets()):
            self.presets.addItem(name, name)
        index = self.presets.findData(select) if select else 0
        self.presets.setCurrentIndex(max(index, 0))
        self.presets.blockSignals(False)
        self.delete_preset_button.setEnabled(bool(select))

    def _preset_chosen(self, index: int) -> None:
        name = self.presets.itemData(index)
        self.delete_preset_button.setEnabled(bool(name))
        preset = self._prefs_store.presets().get(name) if name else None
        if preset is None:
            return
        self.set_sampling(SamplingParams.from_dict(preset["sampling"]), notify=True)
        self.set_system_prompt(preset["system_prompt"])
        self.systemPromptChanged.emit(preset["system_prompt"])

    def _ask_preset_name(self) -> None:
        name, ok = QInputDialog.getText(self, "Save preset", "Preset name:",
                                        text=self.presets.currentData() or "")
        if ok and name.strip():
            self.save_preset(name.strip())

    def save_preset(self, name: str) -> None:
        self._prefs_store.save_preset(name, self.sampling().to_dict(), self.system_prompt_text())
        self._refresh_presets(select=name)

    def load_preset(self, name: str) -> None:
        index = self.presets.findData(name)
        if index >= 0:
            self.presets.setCurrentIndex(index)
            self._preset_chosen(index)

    def _delete_preset(self) -> None:
        name = self.presets.currentData()
        if name:
            self._prefs_store.delete_preset(name)
            self._refresh_presets()


def _heading(text: str) -> QLabel:
    label = QLabel(text)
    label.setObjectName("sectionHeading")
    return label
