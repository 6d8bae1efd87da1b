"""The Perplexity page's input: the text (pasted or opened from a file), its token count and the
method that will apply, and the context size. Tokens are counted by the engine worker, after a
short pause in typing; an answer for an older text is dropped."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from app.engine.client import EngineClient
from app.perplexity.job import CTX_HELP, METHOD_HELP, method_summary
from app.perplexity.store import fingerprint
from inference.common.text_files import TextFileError, read_text_file

CONTEXTS = (64, 128, 256, 512, 1024, 2048, 4096, 8192)
DEFAULT_CTX = 512
COUNT_DELAY_MS = 350
MAX_FILE_BYTES = 32 << 20


class TextInput(QWidget):
    messageRequested = Signal(str, bool)      # text, is an error
    fingerprintChanged = Signal(str)          # SHA-256 of the text ("" when empty)

    def __init__(self, client: EngineClient, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.client = client
        self.tokens: int | None = None           # of the editor's text, once counted
        self._count_seq = 0
        self._count_timer = QTimer(self, singleShot=True, interval=COUNT_DELAY_MS)
        self._count_timer.timeout.connect(self.count_tokens)
        self.editor = QPlainTextEdit()
        self.editor.setObjectName("pplText")
        self.editor.setAccessibleName("Text to measure")
        self.editor.setPlaceholderText("Paste a text here, or open a .txt or .md file…")
        self.editor.textChanged.connect(self._text_changed)
        self.open_button = QPushButton("Open text file…")
        self.open_button.setAccessibleName("Open a text file to measure")
        self.open_button.clicked.connect(self._choose_file)
        self.token_label = QLabel("")
        self.token_label.setObjectName("tokenCount")
        self.token_label.setTextFormat(Qt.TextFormat.PlainText)
        self.token_label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.token_label.setToolTip(METHOD_HELP)
        self.token_label.setAccessibleName("Token count and method")
        self.ctx = QComboBox()
        self.ctx.setAccessibleName("Context size for perplexity")
        self.ctx.setToolTip(CTX_HELP)
        for n in CONTEXTS:
            self.ctx.addItem(f"{n:,} tokens", n)
        self.ctx.setCurrentIndex(CONTEXTS.index(DEFAULT_CTX))
        self.ctx.currentIndexChanged.connect(lambda _i: self._show_count())
        ctx_label = QLabel("Context")
        ctx_label.setToolTip(CTX_HELP)
        row = QHBoxLayout()
        row.addWidget(self.open_button)
        row.addWidget(self.token_label, 1)
        row.addWidget(ctx_label)
        row.addWidget(self.ctx)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.editor, 1)
        layout.addLayout(row)

    def text(self) -> str:
        return self.editor.toPlainText()

    def set_text(self, text: str) -> None:
        self.editor.setPlainText(text)

    def n_ctx(self) -> int:
        return int(self.ctx.currentData())

    def set_n_ctx(self, n_ctx: int) -> None:
        index = self.ctx.findData(n_ctx)
        if index < 0:
            self.ctx.addItem(f"{n_ctx:,} tokens", n_ctx)
            index = self.ctx.count() - 1
        self.ctx.setCurrentIndex(index)

    def set_running(self, running: bool) -> None:
        self.ctx.setEnabled(not running)
        self.open_button.setEnabled(not running)

    # -- files -------------------------------------------------------------------------------
    def open_file(self, path: str | Path) -> bool:
        """Put a text file in the editor; a binary, non-UTF-8 or unreadable file is refused."""
        try:
            text = read_text_file(path, max_bytes=MAX_FILE_BYTES)
        except TextFileError as err:
            self.messageRequested.emit(f"Could not open the file: {err}.", True)
            return False
        if text.endswith("\n"):      # as llama-perplexity -f, Compare and the CLI: drop one
            text = text[:-1]          # trailing newline, so all count the same tokens
        self.set_text(text)
        self.messageRequested.emit(f"Opened {Path(path).name} ({len(text):,} characters).",
                                   False)
        return True

    def _choose_file(self) -> None:
        name, _ = QFileDialog.getOpenFileName(self, "Text to measure", "",
                                              "Text (*.txt *.md);;All files (*)")
        if name:
            self.open_file(name)

    # -- token count -------------------------------------------------------------------------
    def _text_changed(self) -> None:
        self.tokens = None
        self._count_seq += 1                      # an answer for an older text is stale
        self._count_timer.start()
        self._show_count()

    def recount(self) -> None:
        """The model changed (another tokenizer): count again."""
        self.tokens = None
        self.count_tokens()

    def count_tokens(self) -> None:
        """Ask the worker how many tokens the text is (never tokenized on the GUI thread)."""
        self._count_timer.stop()
        text = self.text()
        self.fingerprintChanged.emit(fingerprint(text) if text else "")
        self._count_seq += 1
        if not text.strip() or self.client.loaded is None:
            self._show_count()
            return
        seq = self._count_seq
        self.client.count_tokens(text, lambda answer: self._counted(seq, answer))
        self._show_count()

    def _counted(self, seq: int, answer: int | str) -> None:
        if seq != self._count_seq:
            return
        if isinstance(answer, int):
            self.tokens = answer
            self._show_count()
        else:
            self.token_label.setText(f"Could not count the tokens: {answer}")

    def _show_count(self) -> None:
        if not self.text().strip():
            text = "No text yet"
        elif self.client.loaded is None:
            text = "Load a model to count the tokens"
        elif self.tokens is None:
            text = "Counting tokens…"
        else:
            text = method_summary(self.tokens, self.n_ctx())
        self.token_label.setText(text)

    def shutdown(self) -> None:
        self._count_timer.stop()
        self._count_seq += 1
