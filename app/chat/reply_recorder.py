"""ReplyRecorder: writes a streaming assistant reply into the store, for every mode alike.

The reply (its answer, and apart from it its thinking) is saved as it grows (every
SAVE_INTERVAL_MS, as a partial save that skips the fsync on the GUI thread, see
`Store.update_message`), then once more, durably, with its stats, how much it thought and how it
ended. A generation that fails before any text arrived (answer or thinking) leaves nothing
behind: its empty reply (and the prompt that asked for it) is deleted. A regenerated reply is a
new alternative of its turn (`Store.add_alternative`), recorded the same way; when it fails
empty, it alone is deleted and the alternative shown before it is shown again.

A save the store refuses (a full disk, say) loses nothing: the recorder keeps the reply in
memory and tries again on its timer (and at the end), tells once (`saveFailed`, the first
failure since the last good save) and says when everything is saved again (`saveRecovered`).
It never raises a store error to its caller, so a generation always ends normally.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from PySide6.QtCore import QObject, QTimer, Signal

from app.data.records import ThinkingFacts
from app.data.store import Store, StoreError
from inference.engine.metrics import GenerationStats

SAVE_INTERVAL_MS = 500


@dataclass(frozen=True)
class Ending:
    """How a reply ended, kept until it is saved: a finish reason and stats, or `discard`."""

    reason: str = ""
    stats: dict | None = None
    discard: bool = False          # failed empty: delete it (and its prompt)
    inspection: bytes | None = None   # the token inspector's record (inference.inspector.codec)


@dataclass
class RecordedReply:
    """One assistant reply being written into the store as it streams."""

    conv_id: int
    msg_id: int
    first_id: int                 # deleted from here on when it fails empty: its prompt, or itself
    shown_before: int = 0         # regenerated: the reply shown again if this one fails empty
    parts: list[str] = field(default_factory=list)
    reasoning_parts: list[str] = field(default_factory=list)
    thinking: ThinkingFacts = ThinkingFacts()     # how far the thinking got
    dirty: bool = False
    stats: GenerationStats | None = None
    ending: Ending | None = None  # set when it ended; saved with its final text

    @property
    def text(self) -> str:
        """The answer so far."""
        return "".join(self.parts)

    @property
    def reasoning(self) -> str:
        """The thinking so far."""
        return "".join(self.reasoning_parts)


class ReplyRecorder(QObject):
    """Saves the reply it is recording (the one started last), and any ended reply that could
    not be saved yet."""

    saveFailed = Signal(str)      # the store refused a save: what went wrong (once per outage)
    saveRecovered = Signal()      # every reply kept in memory is saved now

    def __init__(self, store: Store, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.store = store
        self._current: RecordedReply | None = None
        self._unsaved: list[RecordedReply] = []     # ended, not saved yet
        self._failing = False
        self._timer = QTimer(self)
        self._timer.setInterval(SAVE_INTERVAL_MS)
        self._timer.timeout.connect(self.save_partial)

    @property
    def current(self) -> RecordedReply | None:
        """The reply being recorded now, or None."""
        return self._current

    @property
    def unsaved(self) -> tuple[RecordedReply, ...]:
        """Replies that ended but are only in memory (the store refused them so far)."""
        return tuple(self._unsaved)

    def start(self, conv_id: int, msg_id: int, first_id: int = 0,
              shown_before: int = 0) -> RecordedReply:
        """Record the (already stored, empty) reply `msg_id`; `first_id`: its prompt's id;
        `shown_before`: for a regenerated alternative, the reply it took the place of."""
        reply = RecordedReply(conv_id, msg_id, first_id or msg_id, shown_before)
        self._current = reply
        self._timer.start()
        return reply

    def add(self, reply: RecordedReply, text: str) -> None:
        reply.parts.append(text)
        reply.dirty = True

    def add_reasoning(self, reply: RecordedReply, text: str, tokens: int,
                      seconds: float) -> None:
        """Thinking text, with how far the thinking has got (tokens, seconds)."""
        reply.reasoning_parts.append(text)
        reply.thinking = ThinkingFacts(tokens, seconds)
        reply.dirty = True

    def save_partial(self) -> None:
        """The timer: retry the ended replies not saved yet, then write the current reply's new
        text, not durably (it is not finished)."""
        self.retry()
        reply = self._current
        if reply is not None and reply.dirty:
            try:
                self.store.update_message(reply.msg_id, reply.text, complete=False,
                                          reasoning=reply.reasoning, durable=False)
            except StoreError as err:
                self._failed(err)
                return
            reply.dirty = False
            self._saved()

    def finish(self, reply: RecordedReply, reason: str, stats: GenerationStats | None = None,
               text: str = "", reasoning: str = "", inspection: bytes | None = None) -> None:
        """The reply ended (`reason`): save it whole, with `stats` (else the last live ones)
        and, when it thought, how much. `text` and `reasoning`, when given, are the engine's
        final answer and thinking, and replace what streamed."""
        if text:
            reply.parts = [text]
        if reasoning:
            reply.reasoning_parts = [reasoning]
        stats = stats if stats is not None else reply.stats
        saved = stats.to_dict() if stats else None
        if saved is not None and reply.reasoning:
            saved = reply.thinking.added_to(saved)
        reply.ending = Ending(reason, saved, inspection=inspection)
        self._settle(reply)

    def fail(self, reply: RecordedReply) -> bool:
        """The generation failed: keep what it wrote (ended by "error") and return True; an
        empty reply (no answer, no thinking) is deleted with its prompt, and False returned."""
        if reply.text or reply.reasoning:
            self.finish(reply, "error")
            return True
        reply.ending = Ending(discard=True)
        self._settle(reply)
        return False

    def retry(self) -> bool:
        """Try the unsaved replies again; True when none is left."""
        for reply in list(self._unsaved):
            try:
                self._write_end(reply)
            except StoreError as err:
                self._failed(err)
                return False
            self._unsaved.remove(reply)
        self._saved()
        if self._current is None and not self._unsaved:
            self._timer.stop()
        return not self._unsaved

    # -- internals ---------------------------------------------------------------------------
    def _settle(self, reply: RecordedReply) -> None:
        """Save the ended reply now, or keep it for the timer to retry."""
        if self._current is reply:
            self._current = None
        reply.dirty = False
        try:
            self._write_end(reply)
        except StoreError as err:
            self._unsaved.append(reply)
            self._failed(err)
        else:
            self._saved()
        if self._current is None and not self._unsaved:
            self._timer.stop()
        elif not self._timer.isActive():
            self._timer.start()

    def _write_end(self, reply: RecordedReply) -> None:
        end = reply.ending or Ending("error")
        if end.discard:
            self.store.delete_messages_from(reply.conv_id, reply.first_id,
                                            show=reply.shown_before)
        else:
            self.store.update_message(reply.msg_id, reply.text, complete=True,
                                      stats=end.stats, finish_reason=end.reason,
                                      reasoning=reply.reasoning)
            if end.inspection is not None:
                self.store.set_inspect_tokens(reply.conv_id, True)
                self.store.save_inspection(reply.msg_id, end.inspection)

    def _failed(self, err: StoreError) -> None:
        if not self._failing:
            self._failing = True
            self.saveFailed.emit(f"{err} The reply is kept in memory and will be saved as "
                                 "soon as the database can take it again.")

    def _saved(self) -> None:
        current = self._current
        if self._failing and not self._unsaved and (current is None or not current.dirty):
            self._failing = False
            self.saveRecovered.emit()
