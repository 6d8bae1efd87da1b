"""ModeRun: one Text- or Instruct-mode generation, saved to the store as it grows.

The prompt (the document, or the instruction) is stored as the user message and the model's
text as the assistant message of a conversation with that mode, so these runs appear in the
sidebar and survive a crash like chat replies do (the same ReplyRecorder saves both). A store
error at the start (a full disk, a read-only history) refuses the run with its message (`failed`).
"""

from __future__ import annotations

from PySide6.QtCore import QObject, QTimer, Signal

from app.chat.beam_choices import BeamOption, store_beams
from app.chat.reply_recorder import RecordedReply, ReplyRecorder
from app.chat.request_builder import RunSettings
from app.data.store import Store, StoreError
from app.engine.client import ClientState, EngineClient, GenerationHandlers
from app.engine.worker import ReasoningPiece
from inference.engine.events import Finished
from inference.engine.metrics import GenerationStats
from inference.engine.requests import GenerationRequest
from inference.inspector.codec import encode


class ModeRun(QObject):
    tokensReceived = Signal(str)
    reasoningReceived = Signal(object)    # ReasoningPiece: the model's thinking, as it streams
    finished = Signal(object)             # Finished
    beamsReady = Signal(object)           # list[BeamOption]: a beam search's finished beams
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
        self._reply: RecordedReply | None = None
        self._busy = False
        self._settings: RunSettings | None = None
        self._kept_id = 0                     # the reply whose beams are the alternatives
        self.recorder = ReplyRecorder(store, self)

    @property
    def busy(self) -> bool:
        return self._busy

    @property
    def text(self) -> str:
        return self._reply.text if self._reply is not None else ""

    def start(self, request: GenerationRequest, prompt: str, settings: RunSettings,
              *, new_conversation: bool = False, system: str = "") -> bool:
        if self._busy or self.client.state != ClientState.IDLE:
            return False
        try:
            msg_id, user_id = self._store_prompt(prompt, settings, new_conversation, system)
        except StoreError as err:
            # after the page's own "cannot start" message, so the banner ends on the reason
            QTimer.singleShot(0, self, lambda msg=str(err): self.failed.emit(msg))
            return False
        self._settings = settings
        reply = self._reply = self.recorder.start(self.conv_id, msg_id, user_id)
        handlers = GenerationHandlers(on_tokens=self._on_tokens, on_finished=self._on_finished,
                                      on_failed=self._on_failed, on_crashed=self._on_crashed,
                                      on_stats=self._on_stats, on_reasoning=self._on_reasoning)
        if not self.client.generate(request, handlers):
            self.recorder.fail(reply)            # nothing was written: it is deleted
            return False
        self._busy = True
        self.busyChanged.emit(True)
        return True

    def _store_prompt(self, prompt: str, settings: RunSettings, new_conversation: bool,
                      system: str) -> tuple[int, int]:
        """Store the prompt and the empty reply: (reply id, prompt id)."""
        if new_conversation or not self.conv_id:
            conv = self.store.create_conversation(mode=self.mode, system_prompt=system)
            self.conv_id = conv.id
            self.conversationCreated.emit(conv.id)
        common = {"mode": self.mode, "model": settings.model, "engine": settings.engine,
                  "sampling": settings.sampling.to_dict()}
        user_id = self.store.add_message(self.conv_id, "user", prompt, **common).id
        try:
            msg_id = self.store.add_message(self.conv_id, "assistant", "", complete=False,
                                            **common).id
        except StoreError:
            try:
                self.store.delete_messages_from(self.conv_id, user_id)
            except StoreError:
                pass
            raise
        return msg_id, user_id

    def stop(self) -> None:
        if self._busy:
            self.client.stop()

    def shutdown(self) -> None:
        if self._busy and self._reply is not None:
            self.recorder.finish(self._reply, "cancelled")
            self._end()
            self.client.stop()

    def _on_tokens(self, text: str) -> None:
        if self._reply is not None:
            self.recorder.add(self._reply, text)
        self.tokensReceived.emit(text)

    def _on_reasoning(self, piece: ReasoningPiece) -> None:
        if self._reply is not None:
            self.recorder.add_reasoning(self._reply, piece.text, piece.tokens, piece.seconds)
        self.reasoningReceived.emit(piece)

    def _on_stats(self, stats: GenerationStats) -> None:
        if self._reply is not None:
            self._reply.stats = stats

    def _on_finished(self, fin: Finished) -> None:
        if not self._busy or self._reply is None:
            return
        reply = self._reply
        try:
            record = encode(fin.inspection) if fin.inspection is not None else None
            self.recorder.finish(reply, fin.reason.value, fin.stats, fin.text, fin.reasoning,
                                 record)
        finally:
            self._end()
        self.finished.emit(fin)
        if len(fin.beams) > 1:
            self._keep_beams(reply.msg_id, fin)

    def _keep_beams(self, reply_id: int, fin: Finished) -> None:
        """Store the other finished beams as the reply's alternatives and offer them."""
        settings = self._settings or RunSettings()
        try:
            options = store_beams(self.store, reply_id, fin, mode=self.mode,
                                  model=settings.model, sampling=settings.sampling.to_dict())
        except StoreError as err:
            self.failed.emit(f"The other beams could not be saved: {err}")
            return
        self._kept_id = reply_id
        self.beamsReady.emit(options)

    def keep_beam(self, option: BeamOption) -> str | None:
        """Show beam `option` as the reply from now on (the others stay stored); its text, or
        None when the store refused (said through `failed`)."""
        try:
            self.store.show_alternative(self._kept_id, option.index)
        except StoreError as err:
            self.failed.emit(f"That beam could not be kept: {err}")
            return None
        return option.text

    def _on_failed(self, message: str) -> None:
        if not self._busy or self._reply is None:
            return
        kept = self.recorder.fail(self._reply)
        self._end()
        try:
            if not kept and not self.store.messages(self.conv_id):
                self.store.delete(self.conv_id)
                self.conv_id = 0
        except StoreError:
            pass                            # an empty conversation left: harmless
        self.failed.emit(message)

    def _on_crashed(self, message: str) -> None:
        self._on_failed(message)

    def _end(self) -> None:
        self._busy = False
        self.busyChanged.emit(False)
