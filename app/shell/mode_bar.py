"""ModeBar: the Chat page's top bar: the conversations toggle, the mode buttons, the prompt
template in use (elided, so a long name never widens the window), "Show prompt" and the settings
panel's toggle."""

from __future__ import annotations

from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtWidgets import QButtonGroup, QHBoxLayout, QPushButton, QToolButton, QWidget

from app.shell.widgets import ElidedLabel
from inference.engine.requests import Mode

MODES = (Mode.CHAT, Mode.TEXT, Mode.INSTRUCT)
MODE_HELP = {
    Mode.CHAT: "Chat: a multi-turn conversation through the model's chat template.",
    Mode.TEXT: "Text: the model continues your text in place; no template, no system prompt.",
    Mode.INSTRUCT: "Instruct: system prompt + one instruction → one response, no history.",
}


class ModeBar(QWidget):
    modeChosen = Signal(object)            # Mode, when the user clicks its button
    choiceMade = Signal(object)            # Mode, shown because the user chose it (any way)
    promptRequested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("topBar")
        self.setAttribute(Qt.WidgetAttribute.WA_StyledBackground, True)   # as a plain QWidget
        row = QHBoxLayout(self)
        row.setContentsMargins(8, 8, 8, 8)
        row.setSpacing(4)
        self.sidebar_toggle = _toggle("sidebarToggle", "Conversations",
                                      "Show or hide the conversations (Ctrl+B)")
        row.addWidget(self.sidebar_toggle)
        row.addSpacing(6)
        self.group = QButtonGroup(self)
        self.buttons: dict[Mode, QPushButton] = {}
        for i, mode in enumerate(MODES):
            button = QPushButton(mode.value.capitalize())
            button.setObjectName("modeButton")
            button.setCheckable(True)
            button.setAccessibleName(f"{mode.value.capitalize()} mode")
            button.setToolTip(f"{MODE_HELP[mode]} (Ctrl+{i + 1})")
            self.group.addButton(button, i)
            self.buttons[mode] = button
            row.addWidget(button)
        self.group.idClicked.connect(lambda i: self.modeChosen.emit(MODES[i]))
        row.addSpacing(14)
        self.template_label = ElidedLabel("", min_chars=6)
        self.template_label.setObjectName("templateLabel")
        self.template_label.setAccessibleName("Prompt template in use")
        row.addWidget(self.template_label, 1)
        self.prompt_button = QPushButton("Show prompt")
        self.prompt_button.setAccessibleName("Show the exact rendered prompt")
        self.prompt_button.setToolTip("See the exact text the model will be given (Ctrl+P)")
        self.prompt_button.clicked.connect(self.promptRequested)
        row.addWidget(self.prompt_button)
        self.panel_toggle = _toggle("panelToggle", "Settings and metrics",
                                    "Show or hide the settings and metrics (Ctrl+Alt+B)")
        row.addWidget(self.panel_toggle)

    @property
    def mode(self) -> Mode:
        return MODES[max(self.group.checkedId(), 0)]

    def show_mode(self, mode: Mode, *, chosen: bool = True) -> None:
        """Check `mode`'s button (no modeChosen). `chosen`: the user picked it (a click, a
        shortcut), so `choiceMade`; False when the window shows a mode by itself (restoring,
        opening a conversation, a base model's default)."""
        self.buttons[mode].setChecked(True)
        if chosen:
            self.choiceMade.emit(mode)

    def set_template(self, text: str) -> None:
        self.template_label.setText(text)


def _toggle(name: str, what: str, tip: str) -> QToolButton:
    """A checkable icon button that shows or hides a side panel (checked: the panel shows)."""
    button = QToolButton()
    button.setObjectName(name)
    button.setCheckable(True)
    button.setChecked(True)
    button.setAutoRaise(True)
    button.setIconSize(QSize(18, 18))
    button.setAccessibleName(f"Show {what.lower()}")
    button.setToolTip(tip)
    return button
