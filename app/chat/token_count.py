"""TokenCount: a live count of the message box against the context left ("123 / 3,800 tokens
left"), counted by the engine's own tokenizer on the engine's thread (`EngineClient.count_tokens`
and `render`, as the Perplexity page counts its text), a short pause after the last keystroke.

The context left is the model's context less the prompt the conversation so far takes (the
rendered prompt with the message, less the message). An answer for an older text is dropped;
with no model loaded, or nothing typed, the line is blank.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QObject, QTimer
from PySide6.QtWidgets import QLabel, QPlainTextEdit

from app.engine.client import EngineClient
from inference.engine.api import RenderedPrompt
from inference.engine.requests import GenerationRequest

COUNT_DELAY_MS = 350


class TokenCount(QObject):
    def __init__(self, editor: QPlainTextEdit, label: QLabel, client: EngineClient,
                 request: Callable[[str], GenerationRequest],
                 parent: QObject | None = None) -> None:
        super().__init__(parent or label)
        self.editor = editor
        self.label = label
        self.client = client
        self._request = request            # the request Send would make with this text
        self._seq = 0
        self.tokens: int | None = None     # of the text, once counted
        self.left: int | None = None       # the context left for it, once rendered
        self.timer = QTimer(self, singleShot=True, interval=COUNT_DELAY_MS)
        self.timer.timeout.connect(self.count)
        editor.textChanged.connect(self._changed)
        client.modelLoaded.connect(lambda _loaded: self.count())
        client.modelUnloaded.connect(self.count)
        client.stateChanged.connect(lambda _state: self._idle_again())

    def _changed(self) -> None:
        self._seq += 1                     # an answer for an older text is stale
        self.timer.start()

    def _idle_again(self) -> None:
        if not self.client.busy and self.tokens is None and self.editor.toPlainText().strip():
            self.timer.start()             # typed while a reply ran: count now

    def count(self) -> None:
        """Ask the engine's thread for the text's tokens, then for the prompt's."""
        self.timer.stop()
        self._seq += 1
        self.tokens = self.left = None
        text = self.editor.toPlainText()
        if not text.strip() or self.client.loaded is None:
            self.label.setText("")
            return
        if self.client.busy:                # asked after the reply, not queued behind it
            return
        seq = self._seq
        self.client.count_tokens(text, lambda answer: self._counted(seq, text, answer))

    def _counted(self, seq: int, text: str, answer: int | str) -> None:
        if seq != self._seq:
            return
        if isinstance(answer, str):
            self.label.setText(f"Could not count the tokens: {answer}")
            return
        self.tokens = answer
        self._show()
        self.client.render(self._request(text), lambda rendered: self._rendered(seq, rendered))

    def _rendered(self, seq: int, rendered: RenderedPrompt | str) -> None:
        loaded = self.client.loaded
        if seq != self._seq or self.tokens is None or loaded is None:
            return
        if isinstance(rendered, RenderedPrompt) and rendered.prompt_tokens:   # 0: not known
            self.left = max(loaded.n_ctx - (rendered.prompt_tokens - self.tokens), 0)
        self._show()

    def _show(self) -> None:
        tokens = self.tokens or 0
        if self.left is None:
            self.label.setText(f"{tokens:,} tokens")
        elif tokens > self.left:
            self.label.setText(f"{tokens:,} / {self.left:,} tokens left: too long to send")
        else:
            self.label.setText(f"{tokens:,} / {self.left:,} tokens left")
        self.label.setToolTip("Tokens of your message, by the model's tokenizer, against the "
                              "context the conversation leaves for it")
