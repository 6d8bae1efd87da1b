""""Same prompt" view: one prompt and seed through every file, replies in columns with TTFT/TPOT."""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QDoubleSpinBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QScrollArea,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from inference.compare.prompt import PromptPiece, PromptReply, PromptSettings

TIMING_TIP = ("TTFT: time to the first token (tokenizing + prefill + first sample). "
              "TPOT: (last token − first token) ÷ (output tokens − 1).")


class ReplyColumn(QWidget):
    def __init__(self, name: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        self.title = QLabel(f"<b>{name}</b>")
        self.timing = QLabel("waiting…")
        self.timing.setObjectName("mutedLabel")
        self.timing.setToolTip(TIMING_TIP)
        self.text = QPlainTextEdit()
        self.text.setReadOnly(True)
        self.text.setAccessibleName(f"Reply from {name}")
        self.text.setMinimumWidth(220)
        for widget in (self.title, self.timing):
            layout.addWidget(widget)
        layout.addWidget(self.text, 1)

    def append(self, text: str) -> None:
        self.timing.setText("generating…")
        self.text.moveCursor(self.text.textCursor().MoveOperation.End)
        self.text.insertPlainText(text)

    def finish(self, reply: PromptReply) -> None:
        if reply.error:
            self.timing.setText(f"failed: {reply.error}")
            return
        self.text.setPlainText(reply.shown_text)
        ttft = f"{1000 * reply.ttft_s:.0f} ms" if reply.ttft_s is not None else "—"
        tpot = f"{1000 * reply.tpot_s:.1f} ms" if reply.tpot_s is not None else "—"
        self.timing.setText(f"TTFT {ttft} · TPOT {tpot} · {reply.output_tokens} tokens "
                            f"({reply.finish_reason})")


class SamePromptView(QWidget):
    runRequested = Signal(object)          # PromptSettings
    cancelRequested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("samePromptView")
        layout = QVBoxLayout(self)
        self.prompt = QPlainTextEdit()
        self.prompt.setAccessibleName("Prompt for every file")
        self.prompt.setPlaceholderText("One prompt, sent to every file with the same seed…")
        self.prompt.setMaximumHeight(90)
        layout.addWidget(self.prompt)
        form = QFormLayout()
        self.seed = QSpinBox()
        self.seed.setRange(0, 2**31 - 1)
        self.seed.setValue(42)
        self.max_tokens = QSpinBox()
        self.max_tokens.setRange(1, 4096)
        self.max_tokens.setValue(128)
        self.temperature = QDoubleSpinBox()
        self.temperature.setRange(0.0, 2.0)
        self.temperature.setSingleStep(0.1)
        self.temperature.setValue(0.8)
        for widget, name in ((self.seed, "Seed"), (self.max_tokens, "Max tokens"),
                             (self.temperature, "Temperature")):
            widget.setAccessibleName(name)
        form.addRow("Seed", self.seed)
        form.addRow("Max tokens", self.max_tokens)
        form.addRow("Temperature", self.temperature)
        row = QHBoxLayout()
        row.addLayout(form)
        self.run_button = QPushButton("Run on every file")
        self.run_button.setObjectName("primaryButton")
        self.run_button.clicked.connect(self._run)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.clicked.connect(self.cancelRequested.emit)
        self.cancel_button.setEnabled(False)
        row.addStretch(1)
        row.addWidget(self.run_button)
        row.addWidget(self.cancel_button)
        layout.addLayout(row)
        self.columns_host = QWidget()
        self.columns_layout = QHBoxLayout(self.columns_host)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setWidget(self.columns_host)
        layout.addWidget(scroll, 1)
        self.columns: list[ReplyColumn] = []

    def settings(self) -> PromptSettings:
        return PromptSettings(prompt=self.prompt.toPlainText(), seed=self.seed.value(),
                              max_tokens=self.max_tokens.value(),
                              temperature=self.temperature.value())

    def _run(self) -> None:
        self.runRequested.emit(self.settings())

    def start(self, names: Sequence[str]) -> None:
        for column in self.columns:
            column.deleteLater()
        self.columns = [ReplyColumn(name) for name in names]
        for column in self.columns:
            self.columns_layout.addWidget(column)
        self.set_busy(True)

    def append(self, piece: PromptPiece) -> None:
        if 0 <= piece.index < len(self.columns):
            self.columns[piece.index].append(piece.text)

    def finish(self, replies: Sequence[PromptReply]) -> None:
        for column, reply in zip(self.columns, replies, strict=False):
            column.finish(reply)
        self.set_busy(False)

    def set_busy(self, busy: bool) -> None:
        self.run_button.setEnabled(not busy)
        self.cancel_button.setEnabled(busy)
