"""ModeRun: one Text- or Instruct-mode generation, saved to the store as it grows.

The prompt (the document, or the instruction) is stored as the user message and the model's
text as the assistant message of a conversation with that mode, so these runs appear in the
sidebar and survive a crash like chat replies do.
"""

from __future__ import annotations

from PySide6.QtCore import QObject, QTimer, Signal

from app.chat.request_builder import RunSettings
from app.data.store import Store
from app.engine.client import EngineClient, GenerationHandlers
from inference.engine.events import Finished
from inference.engine.metrics import GenerationStats
from inference.engine.requests import GenerationRequest

SAVE_INTERVAL_MS = 500


class ModeRun(QObject):
    tokensReceived = Signal(str)
    finished = Signal(object)             # Finished
    failed = Signal(str)
    busyChanged = Signal(bool)
    conversationCreated = Signal(int)

    def __init__(self, store: Store, client: EngineClient, mode: str,
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.store = store
        self.client = client
        self.mode = mode
        self.conv_id = 0
        self._msg_id = 0
        self._user_id = 0
        self._parts: list[str] = []
        self._dirty = False
        self._stats: GenerationStats | None = None
        self._busy = False
        self._timer = QTimer(self)
        self._timer.setInterval(SAVE_INTERVAL_MS)
        self._timer.timeout.connect(self._save)

    @property
    def busy(self) -> bool:
        return self._busy

    @property
    def text(self) -> str:
        return "".join(self._parts)

    def start(self, request: GenerationRequest, prompt: str, settings: RunSettings,
              *, new_conversation: bool = False, system: str = "") -> bool:
        if self._busy or self.client.state != "idle":
            return False
        if new_conversation or not self.conv_id:
            conv = self.store.create_conversation(mode=self.mode, system_prompt=system)
            self.conv_id = conv.id
            self.conversationCreated.emit(conv.id)
        common = {"mode": self.mode, "model": settings.model,
                  "sampling": settings.sampling.to_dict()}
        self._user_id = self.store.add_message(self.conv_id, "user", prompt, **common).id
        self._msg_id = self.store.add_message(self.conv_id, "assistant", "", complete=False,
                                              **common).id
        self._parts = []
        self._stats = None
        handlers = GenerationHandlers(on_tokens=self._on_tokens, on_finished=self._on_finished,
                                      on_failed=self._on_failed, on_crashed=self._on_crashed,
                                      on_stats=self._on_stats)
        if not self.client.generate(request, handlers):
            self.store.delete_messages_from(self.conv_id, self._user_id)
            return False
        self._busy = True
        self._timer.start()
        self.busyChanged.emit(True)
        return True

    def stop(self) -> None:
        if self._busy:
            self.client.stop()

    def shutdown(self) -> None:
        if self._busy:
            self._finalise("cancelled", self._stats)
            self.client.stop()

    def _on_tokens(self, text: str) -> None:
        self._parts.append(text)
        self._dirty = True
        self.tokensReceived.emit(text)

    def _on_stats(self, stats: GenerationStats) -> None:
        self._stats = stats

    def _save(self) -> None:
        if self._busy and self._dirty:
            self.store.update_message(self._msg_id, self.text, complete=False, durable=False)
            self._dirty = False

    def _on_finished(self, fin: Finished) -> None:
        if not self._busy:
            return
        if fin.text:
            self._parts = [fin.text]
        self._finalise(fin.reason.value, fin.stats)
        self.finished.emit(fin)

    def _on_failed(self, message: str) -> None:
        if not self._busy:
            return
        if self.text:
            self._finalise("error", self._stats)
        else:
            self._finalise(None, None)
            self.store.delete_messages_from(self.conv_id, self._user_id)
            if not self.store.messages(self.conv_id):
                self.store.delete(self.conv_id)
                self.conv_id = 0
        self.failed.emit(message)

    def _on_crashed(self, message: str) -> None:
        self._on_failed(message)

    def _finalise(self, reason: str | None, stats: GenerationStats | None) -> None:
        self.store.update_message(self._msg_id, self.text, complete=True,
                                  stats=stats.to_dict() if stats else None,
                                  finish_reason=reason)
        self._busy = False
        self._timer.stop()
        self.busyChanged.emit(False)
