"""ChatController: chat-mode logic gluing Store + TranscriptModel + EngineClient (no widgets).

send / stop / regenerate / edit-and-resend / switch alternatives; the streaming reply is
written to SQLite as it grows and finalised with its stats and finish reason (a ReplyRecorder
does both). Regenerate keeps the earlier reply: the new one is another alternative of the turn,
shown in its place (◀ 2/2 ▶), and the choice of alternative is stored; the next prompt is made
of the alternatives shown. Edit-and-resend drops the later turns with all their alternatives.
When a request fails before any text arrived, the user's text goes back to the composer (a
regenerated reply: the one shown before it comes back), so nothing typed is ever lost. A store
error (a full disk, a read-only history) refuses the send with its message and the text stays in
the composer; the busy state always ends with the generation.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

from PySide6.QtCore import QObject, Signal

from app.chat.reply_recorder import RecordedReply, ReplyRecorder
from app.chat.request_builder import RunSettings, chat_history, chat_request
from app.chat.transcript import TranscriptMessage, TranscriptModel, from_stored
from app.data.store import Store, StoreError
from app.engine.client import EngineClient, GenerationHandlers
from app.engine.worker import ReasoningPiece
from inference.engine.events import Finished
from inference.engine.requests import GenerationRequest, Message
from inference.inspector.choice import DEFAULT_TOP
from inference.inspector.codec import encode


@dataclass
class _Reply:
    """One streaming assistant reply, possibly detached from the transcript on screen."""

    record: RecordedReply
    row: int
    restore_text: str | None = None       # the user's text to give back if it fails at once
    attached: bool = True
    created: int = 0                      # the conversation its send created (0: none)
    previous: TranscriptMessage | None = None   # regenerated: the reply shown before it
    prefix: str = ""                      # continued from a token: the text it began with

    @property
    def text(self) -> str:
        return self.record.text


class ChatController(QObject):
    conversationChanged = Signal(int)      # the conversation on screen (0: none yet)
    leavingConversation = Signal(int)      # the person opens another one: this one is left
    conversationsChanged = Signal()        # titles / order changed: refresh the sidebar
    busyChanged = Signal(bool)
    errorOccurred = Signal(str)
    notice = Signal(str)                   # non-error information (turns dropped, warnings)
    draftRestored = Signal(str)            # give this text back to the composer

    def __init__(self, store: Store, transcript: TranscriptModel, client: EngineClient,
                 settings: Callable[[], RunSettings], parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.store = store
        self.transcript = transcript
        self.client = client
        self._settings = settings
        self._conv_id = 0
        self._reply: _Reply | None = None
        self.recorder = ReplyRecorder(store, self)

    # -- queries -----------------------------------------------------------------------------
    @property
    def conversation_id(self) -> int:
        return self._conv_id

    @property
    def busy(self) -> bool:
        return self._reply is not None

    def can_regenerate(self) -> bool:
        row = self.transcript.last_row_of_role("assistant")
        return not self.busy and row >= 0 and row == self.transcript.rowCount() - 1

    # -- conversations -----------------------------------------------------------------------
    def open_conversation(self, conv_id: int) -> None:
        if conv_id == self._conv_id:
            return
        try:
            messages = self.store.messages(conv_id) if conv_id else []
        except StoreError as err:
            self.errorOccurred.emit(str(err))
            return
        self.leavingConversation.emit(self._conv_id)
        self._detach()
        self._conv_id = conv_id
        self.transcript.set_messages(messages)
        self.conversationChanged.emit(conv_id)

    def new_conversation(self) -> None:
        self.open_conversation(0)

    def forget_conversation(self, conv_id: int) -> None:
        """The conversation was deleted: leave it if it is on screen."""
        if conv_id == self._conv_id:
            self._detach()
            self._conv_id = 0
            self.transcript.set_messages([])
            self.conversationChanged.emit(0)

    # -- actions -----------------------------------------------------------------------------
    def send(self, text: str) -> bool:
        """Send a user message; False (text stays with the caller) when it cannot be sent."""
        if not text.strip() or not self._ready():
            return False
        settings = self._settings()
        created = 0
        try:
            if not self._conv_id:
                created = self.store.create_conversation(
                    mode="chat", system_prompt=settings.system_prompt).id
                self._conv_id = created
                self.conversationChanged.emit(created)
            user = self.store.add_message(self._conv_id, "user", text, mode="chat",
                                          model=settings.model,
                                          sampling=settings.sampling.to_dict())
        except StoreError as err:
            if created:
                self._quietly(lambda: self.store.delete(created))
                self.forget_conversation(created)
            self.errorOccurred.emit(str(err))
            return False
        self.transcript.append_message("user", text, user.id, mode="chat")
        if not self._start_reply(settings, restore_text=text, user_msg_id=user.id,
                                 created=created):
            self.transcript.remove_from(self.transcript.rowCount() - 1)
            self._quietly(lambda: self.store.delete_messages_from(self._conv_id, user.id))
            if created:
                self._quietly(lambda: self.store.delete(created))
                self.forget_conversation(created)
            return False
        self.conversationsChanged.emit()
        return True

    def stop(self) -> None:
        if self._reply is not None:
            self.client.stop()

    def regenerate(self, prefix: str = "") -> bool:
        """A new reply to the last prompt, stored as another alternative of the last reply
        and shown in its place; the earlier ones are kept. With `prefix` (the inspector's
        "Continue from here") the new reply begins with that text and the model goes on."""
        if not self.can_regenerate() or not self._ready():
            return False
        row = self.transcript.last_row_of_role("assistant")
        shown = self.transcript.message_at(row)
        settings = self._settings()
        try:
            request = replace(chat_request(self.history(before=shown.message_id), settings),
                              reply_prefix=prefix)
            alt = self.store.add_alternative(shown.message_id, mode="chat",
                                             model=settings.model, engine=settings.engine,
                                             sampling=settings.sampling.to_dict())
        except StoreError as err:
            self.errorOccurred.emit(str(err))
            return False
        self.transcript.replace_row(row, TranscriptMessage(
            "assistant", prefix, alt.id, streaming=True, alternatives=alt.alternatives))
        record = self.recorder.start(self._conv_id, alt.id, shown_before=shown.message_id)
        if prefix:
            self.recorder.add(record, prefix)
        return self._generate(request, _Reply(record, row, previous=shown, prefix=prefix))

    def switch_alternative(self, row: int, step: int) -> bool:
        """Show the previous (`step` -1) or next (+1) alternative of reply `row`, and store
        the choice; False when there is none that way, or while a reply streams."""
        if self.busy or not 0 <= row < self.transcript.rowCount():
            return False
        msg = self.transcript.message_at(row)
        target = msg.alternatives.step(step)
        if msg.role != "assistant" or target is None:
            return False
        try:
            chosen = self.store.show_alternative(msg.message_id, target)
        except (StoreError, LookupError) as err:
            self.errorOccurred.emit(str(err))
            return False
        self.transcript.replace_row(row, from_stored(chosen))
        return True

    def edit_and_resend(self, row: int, text: str) -> bool:
        """Replace user message `row` (and everything after it) with `text`, then send."""
        if self.busy or not text.strip() or not self._ready():
            return False
        msg = self.transcript.message_at(row)
        if msg.role != "user":
            return False
        try:
            self.store.delete_messages_from(self._conv_id, msg.message_id)
        except StoreError as err:
            self.errorOccurred.emit(str(err))
            return False
        self.transcript.remove_from(row)
        return self.send(text)

    def shutdown(self) -> None:
        """Window closing: save the partial reply now, as stopped, and stop generating."""
        reply = self._reply
        if reply is not None:
            self.recorder.finish(reply.record, "cancelled")
            reply.attached = False
            self._reply = None
            self.client.stop()

    # -- internals ---------------------------------------------------------------------------
    def _ready(self) -> bool:
        if self.busy or self.client.busy:
            return False
        if self.client.loaded is None:
            self.errorOccurred.emit("No model is loaded. Load a model first (Settings → Load).")
            return False
        return True

    def history(self, before: int = 0) -> list[Message]:
        """The conversation on screen so far, as the store has it (the alternatives shown);
        with `before`, only the messages older than that one."""
        if not self._conv_id:
            return []
        messages = self.store.messages(self._conv_id)
        return chat_history(m for m in messages if not before or m.id < before)

    def _start_reply(self, settings: RunSettings, restore_text: str | None = None,
                     user_msg_id: int | None = None, created: int = 0) -> bool:
        """Store the empty reply and start generating it; False (with the error said) when
        the store refuses it."""
        try:
            request = chat_request(self.history(), settings)
            msg = self.store.add_message(self._conv_id, "assistant", "", mode="chat",
                                         model=settings.model, engine=settings.engine,
                                         sampling=settings.sampling.to_dict(), complete=False)
        except StoreError as err:
            self.errorOccurred.emit(str(err))
            return False
        row = self.transcript.append_message("assistant", "", msg.id, streaming=True,
                                             mode="chat")
        record = self.recorder.start(self._conv_id, msg.id, user_msg_id or 0)
        return self._generate(request, _Reply(record, row, restore_text, created=created))

    def _records_tokens(self) -> bool:
        """Whether this conversation records its replies' tokens (the token inspector)."""
        try:
            return bool(self._conv_id) and self.store.inspect_tokens(self._conv_id)
        except StoreError:
            return False

    def _generate(self, request: GenerationRequest, reply: _Reply) -> bool:
        """Start generating `reply` (stored, on screen); True even when the engine refused
        (that is reported as a failure)."""
        record = reply.record
        if self._records_tokens():
            request = replace(request, inspect_top=DEFAULT_TOP)
        handlers = GenerationHandlers(
            on_tokens=lambda text: self._on_tokens(reply, text),
            on_reasoning=lambda piece: self._on_reasoning(reply, piece),
            on_finished=lambda fin: self._on_finished(reply, fin),
            on_failed=lambda message: self._on_failed(reply, message, crashed=False),
            on_crashed=lambda message: self._on_failed(reply, message, crashed=True),
            on_stats=lambda stats: setattr(record, "stats", stats))
        self._reply = reply
        if not self.client.generate(request, handlers):
            self._on_failed(reply, "The engine is busy; try again in a moment.", crashed=False)
            return True
        self.busyChanged.emit(True)
        return True

    def _on_tokens(self, reply: _Reply, text: str) -> None:
        self.recorder.add(reply.record, text)
        if reply.attached:
            self.transcript.append_text(reply.row, text)

    def _on_reasoning(self, reply: _Reply, piece: ReasoningPiece) -> None:
        self.recorder.add_reasoning(reply.record, piece.text, piece.tokens, piece.seconds)
        if reply.attached:
            self.transcript.append_reasoning(reply.row, piece.text, piece.tokens, piece.seconds)

    def _on_finished(self, reply: _Reply, fin: Finished) -> None:
        try:
            self._show_finished(reply, fin)
        finally:
            self._end(reply)

    def _show_finished(self, reply: _Reply, fin: Finished) -> None:
        record = reply.record
        streamed, thought = record.text, record.reasoning
        self.recorder.finish(record, fin.reason.value, fin.stats,
                             reply.prefix + fin.text if fin.text else "", fin.reasoning,
                             encode(fin.inspection) if fin.inspection is not None else None)
        text = record.text
        stats = fin.stats.to_dict()
        if reply.attached:
            if text != streamed:             # the engine trimmed a stop string, say
                self.transcript.set_text(reply.row, text)
            if text != streamed or record.reasoning != thought:
                self.transcript.set_reasoning(reply.row, record.reasoning, record.thinking)
            self.transcript.finish(reply.row, stats, fin.reason.value)
            if fin.dropped_turns:
                self.notice.emit(f"The {fin.dropped_turns} oldest turn(s) did not fit in the "
                                 "context and were left out of the prompt.")
            for warning in fin.warnings:
                self.notice.emit(warning)

    def _on_failed(self, reply: _Reply, message: str, *, crashed: bool) -> None:
        try:
            self._show_failed(reply, message, crashed=crashed)
        finally:
            self._end(reply)

    def _show_failed(self, reply: _Reply, message: str, *, crashed: bool) -> None:
        kept = self.recorder.fail(reply.record)
        if kept and reply.attached:
            stats = reply.record.stats
            self.transcript.finish(reply.row, stats.to_dict() if stats else None, "error")
        elif reply.attached and reply.previous is not None:    # the regenerated one went
            self.transcript.replace_row(reply.row, reply.previous)
        elif reply.attached:
            row = reply.row - 1 if reply.restore_text is not None else reply.row
            self.transcript.remove_from(row)
            if reply.restore_text is not None:
                self.draftRestored.emit(reply.restore_text)
        if not crashed and reply.attached:
            self.errorOccurred.emit(message)
        if not kept:
            self._drop_if_empty(reply.created)
            self.conversationsChanged.emit()

    def _drop_if_empty(self, conv_id: int) -> None:
        """A conversation this send created that the failure left empty goes (no entry in the
        sidebar titled with a prompt that was never answered)."""
        if not conv_id:
            return
        try:
            if self.store.messages(conv_id):
                return
            self.store.delete(conv_id)
        except (StoreError, LookupError):
            return
        self.forget_conversation(conv_id)

    @staticmethod
    def _quietly(undo: Callable[[], object]) -> None:
        """Best-effort clean-up after a refused write (the store may refuse this too)."""
        try:
            undo()
        except StoreError:
            pass

    def _end(self, reply: _Reply) -> None:
        if self._reply is reply:
            self._reply = None
            self.busyChanged.emit(False)

    def _detach(self) -> None:
        """Leave the running reply: it goes on being saved, but no longer on screen."""
        reply = self._reply
        if reply is not None:
            reply.attached = False
            self.client.stop()
