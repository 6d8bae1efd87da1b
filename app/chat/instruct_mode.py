"""Instruct mode: a system prompt and one instruction → one response, with no history.

Each run is its own entry in the sidebar. The response renders as safe Markdown while it
streams (as the transcript does: no HTML, line breaks kept), and its links follow the
transcript's rule: shown on hover, opened on click, http(s) only.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import Qt, QTimer, QUrl, Signal
from PySide6.QtGui import QCursor, QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QLabel,
    QPlainTextEdit,
    QTextBrowser,
    QToolTip,
    QVBoxLayout,
    QWidget,
)

from app.chat.beam_choices import BeamChoices, BeamOption
from app.chat.footer import footer_text
from app.chat.mode_run import ModeRun
from app.chat.render.links import link_tooltip, open_link
from app.chat.render.markdown import set_message_text
from app.chat.request_builder import RunSettings, instruct_request
from app.chat.run_row import run_row
from app.engine.worker import ReasoningPiece
from inference.engine.events import Finished
from inference.engine.requests import GenerationRequest

RENDER_MS = 60


class InstructModePage(QWidget):
    errorOccurred = Signal(str)

    def __init__(self, run: ModeRun, settings: Callable[[], RunSettings],
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("instructMode")
        self.run = run
        self._settings = settings
        layout = QVBoxLayout(self)
        layout.setContentsMargins(16, 12, 16, 12)
        layout.setSpacing(6)
        layout.addWidget(_label("System prompt"))
        self.system = QPlainTextEdit()
        self.system.setObjectName("instructSystem")
        self.system.setAccessibleName("Instruct system prompt")
        self.system.setPlaceholderText("Optional: who the model is and how it answers")
        self.system.setTabChangesFocus(True)
        self.system.setFixedHeight(64)
        layout.addWidget(self.system)
        layout.addWidget(_label("Instruction"))
        self.instruction = QPlainTextEdit()
        self.instruction.setObjectName("instruction")
        self.instruction.setAccessibleName("Instruction")
        self.instruction.setPlaceholderText("Summarise the following text in three bullet "
                                            "points: …")
        self.instruction.setTabChangesFocus(True)
        self.instruction.setFixedHeight(110)
        layout.addWidget(self.instruction)
        self.row = run_row("Run", "Run the instruction",
                           "Send the instruction (Ctrl+Enter). No history is kept.",
                           self.run_instruction, self.run.stop)
        self.run_button, self.stop_button, self.stats = (
            self.row.go, self.row.stop, self.row.stats)
        layout.addLayout(self.row.layout)
        layout.addWidget(_label("Response"))
        self.response = QTextBrowser()
        self.response.setObjectName("instructResponse")
        self.response.setAccessibleName("Response")
        self.response.setOpenExternalLinks(False)
        self.response.setOpenLinks(False)              # the browser never follows a link itself
        self.response.anchorClicked.connect(self._link_clicked)
        self.response.highlighted.connect(self._link_hovered)
        layout.addWidget(self.response, 1)
        self.beams = BeamChoices()
        self.beams.picked.connect(self._keep_beam)
        layout.addWidget(self.beams)
        for keys in ("Ctrl+Return", "Ctrl+Enter"):
            QShortcut(QKeySequence(keys), self, self.run_instruction,
                      context=Qt.ShortcutContext.WidgetWithChildrenShortcut)
        self._render_timer = QTimer(self, singleShot=True, interval=RENDER_MS)
        self._render_timer.timeout.connect(self._render)
        run.tokensReceived.connect(self._schedule_render)
        run.reasoningReceived.connect(self._thinking)
        run.finished.connect(self._finished)
        run.failed.connect(self.errorOccurred)
        run.busyChanged.connect(self._busy)
        run.beamsReady.connect(self.beams.show_options)

    def request(self) -> GenerationRequest:
        return instruct_request(self.instruction.toPlainText(), self.system.toPlainText(),
                                self._settings())

    def preview_request(self) -> GenerationRequest | None:
        return self.request() if self.instruction.toPlainText().strip() else None

    def set_default_system(self, text: str) -> None:
        """Follow the settings' system prompt until the user edits this one."""
        if not self.system.document().isModified():
            self.system.setPlainText(text)

    def run_instruction(self) -> None:
        if self.run.busy:
            return
        instruction = self.instruction.toPlainText()
        if not instruction.strip():
            self.errorOccurred.emit("Write an instruction first.")
            return
        self.response.clear()
        self.beams.clear()
        self.stats.setText("")
        if not self.run.start(self.request(), instruction, self._settings(),
                              new_conversation=True, system=self.system.toPlainText()):
            self.errorOccurred.emit("No model is loaded, or it is busy. Load a model first.")

    def load_conversation(self, system: str, instruction: str, response: str) -> None:
        self.system.setPlainText(system)
        self.instruction.setPlainText(instruction)
        set_message_text(self.response.document(), response)

    def _keep_beam(self, option: BeamOption) -> None:
        text = self.run.keep_beam(option)
        if text is not None:
            set_message_text(self.response.document(), text)

    def _schedule_render(self, _text: str) -> None:
        if not self._render_timer.isActive():       # throttle, never starve
            self._render_timer.start()

    def _render(self) -> None:
        set_message_text(self.response.document(), self.run.text)
        bar = self.response.verticalScrollBar()
        bar.setValue(bar.maximum())

    def _thinking(self, piece: ReasoningPiece) -> None:
        """While the model thinks before answering, say how far it has got."""
        if not self.run.text:
            self.stats.setText(f"Thinking… {piece.tokens:,} tokens · {piece.seconds:.1f} s")

    def _finished(self, fin: Finished) -> None:
        self._render_timer.stop()
        self._render()
        self.stats.setText(footer_text(fin.stats.to_dict(), fin.reason.value, False,
                                       thought=bool(fin.reasoning)))

    def _link_clicked(self, url: QUrl) -> None:
        if not open_link(url):
            self.errorOccurred.emit("That link was not opened: Parley opens only http and "
                                    "https links.")

    def _link_hovered(self, url: QUrl) -> None:
        """The URL under the pointer, as a tooltip (none when it left the link)."""
        tip = link_tooltip(url) if not url.isEmpty() else ""
        self.response.setToolTip(tip)
        if tip:
            QToolTip.showText(QCursor.pos(), tip, self.response)
        else:
            QToolTip.hideText()

    def _busy(self, busy: bool) -> None:
        self.row.set_busy(busy)
        self.instruction.setReadOnly(busy)
        self.system.setReadOnly(busy)
        if busy:
            self.stats.setText("generating…")


def _label(text: str) -> QLabel:
    label = QLabel(text)
    label.setObjectName("sectionHeading")
    return label
