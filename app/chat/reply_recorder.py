"""ReplyRecorder: writes a streaming assistant reply into the store, for every mode alike.

The reply is saved as it grows (every SAVE_INTERVAL_MS, as a partial save that skips the fsync
on the GUI thread, see `Store.update_message`), then once more, durably, with its stats and how
it ended. A generation that fails before any text arrived leaves nothing behind: its empty reply
(and the prompt that asked for it) is deleted.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from PySide6.QtCore import QObject, QTimer

from app.data.store import Store
from inference.engine.metrics import GenerationStats

SAVE_INTERVAL_MS = 500


@dataclass
class RecordedReply:
    """One assistant reply being written into the store as it streams."""

    conv_id: int
    msg_id: int
    first_id: int                 # deleted from here on when it fails empty: its prompt, or itself
    parts: list[str] = field(default_factory=list)
    dirty: bool = False
    stats: GenerationStats | None = None

    @property
    def text(self) -> str:
        return "".join(self.parts)


class ReplyRecorder(QObject):
    """Saves the reply it is recording; one at a time (the one started last)."""

    def __init__(self, store: Store, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.store = store
        self._current: RecordedReply | None = None
        self._timer = QTimer(self)
        self._timer.setInterval(SAVE_INTERVAL_MS)
        self._timer.timeout.connect(self.save_partial)

    @property
    def current(self) -> RecordedReply | None:
        """The reply being recorded now, or None."""
        return self._current

    def start(self, conv_id: int, msg_id: int, first_id: int = 0) -> RecordedReply:
        """Record the (already stored, empty) reply `msg_id`; `first_id`: its prompt's id."""
        reply = RecordedReply(conv_id, msg_id, first_id or msg_id)
        self._current = reply
        self._timer.start()
        return reply

    def add(self, reply: RecordedReply, text: str) -> None:
        reply.parts.append(text)
        reply.dirty = True

    def save_partial(self) -> None:
        """Write the current reply's new text, not durably (it is not finished)."""
        reply = self._current
        if reply is not None and reply.dirty:
            self.store.update_message(reply.msg_id, reply.text, complete=False, durable=False)
            reply.dirty = False

    def finish(self, reply: RecordedReply, reason: str, stats: GenerationStats | None = None,
               text: str = "") -> None:
        """The reply ended (`reason`): save it whole, with `stats` (else the last live ones).
        `text`, when given, is the engine's final text and replaces what streamed."""
        if text:
            reply.parts = [text]
        stats = stats if stats is not None else reply.stats
        self.store.update_message(reply.msg_id, reply.text, complete=True,
                                  stats=stats.to_dict() if stats else None,
                                  finish_reason=reason)
        self._stop(reply)

    def fail(self, reply: RecordedReply) -> bool:
        """The generation failed: keep what it wrote (ended by "error") and return True; an
        empty reply is deleted with its prompt, and False returned."""
        if reply.text:
            self.finish(reply, "error")
            return True
        self.store.delete_messages_from(reply.conv_id, reply.first_id)
        self._stop(reply)
        return False

    def _stop(self, reply: RecordedReply) -> None:
        reply.dirty = False
        if self._current is reply:
            self._current = None
            self._timer.stop()
