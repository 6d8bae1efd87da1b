"""Drafts: what the user is writing and has not sent yet, kept across restarts.

The composer's text (and which message it edits), the Text-mode document and the Instruct
instruction (and its own system prompt) are saved a second after the last keystroke, and when
the window closes, to `drafts.json` in the data folder; the next start puts them back. So
nothing typed is lost to a crash or a closed window.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any, Protocol

from PySide6.QtCore import QObject, QTimer

from app.data.prefs import read_json, write_json_atomic

log = logging.getLogger(__name__)

DRAFTS_FILE = "drafts.json"
SAVE_MS = 1000


@dataclass(frozen=True)
class ChatDraft:
    """Unsent text of one chat conversation (0: the new one not created yet)."""

    conv_id: int
    text: str
    edit_of: int = 0                 # the message id it edits (0: a new message)

    @classmethod
    def from_dict(cls, data: object) -> ChatDraft | None:
        """A draft read back from the file; None when the entry is not one."""
        if not isinstance(data, dict):
            return None
        conv_id, text, edit_of = data.get("conv_id"), data.get("text"), data.get("edit_of", 0)
        if not (_count(conv_id) and _count(edit_of) and isinstance(text, str) and text):
            return None
        return cls(conv_id, text, edit_of)


def _count(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


@dataclass(frozen=True)
class Drafts:
    chat: str = ""
    chat_edit_of: int = 0            # the message id the composer is editing (0: a new one)
    chat_conversation: int | None = None   # the conversation `chat` belongs to (None: on screen)
    chat_elsewhere: tuple[ChatDraft, ...] = ()   # the other conversations' unsent text
    text: str = ""
    text_conversation: int = 0       # the Text-mode conversation the document belongs to
    instruction: str = ""
    instruct_system: str | None = None   # None: follows the settings' system prompt

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Drafts:
        """The valid fields of `data`; defaults for the rest."""
        values: dict[str, Any] = {}
        for f in fields(cls):
            value = data.get(f.name)
            if f.name in ("chat_edit_of", "text_conversation"):
                ok = _count(value)
            elif f.name == "chat_conversation":
                ok = value is None or _count(value)
            elif f.name == "chat_elsewhere":
                drafts = [ChatDraft.from_dict(d) for d in value] \
                    if isinstance(value, list) else []
                value = tuple(d for d in drafts if d is not None)
                ok = True
            elif f.name == "instruct_system":
                ok = value is None or isinstance(value, str)
            else:
                ok = isinstance(value, str)
            if ok and f.name in data:
                values[f.name] = value
        return cls(**values)


class DraftStore:
    """Drafts as one small JSON file, written atomically."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)

    def load(self) -> Drafts:
        data = read_json(self.path)
        return Drafts.from_dict(data) if data is not None else Drafts()

    def save(self, drafts: Drafts) -> bool:
        try:
            write_json_atomic(self.path, asdict(drafts))
        except OSError:
            log.warning("could not save the drafts to %s", self.path, exc_info=True)
            return False
        return True


class DraftEditors(Protocol):
    """The editors whose unsent words are kept (the chat room's composer and mode pages)."""

    def drafts(self) -> Drafts:
        """What they hold now."""
        ...

    def restore_drafts(self, drafts: Drafts) -> None:
        """Put saved drafts back into them."""
        ...

    def watch(self, changed: Callable[[], None]) -> None:
        """Call `changed` after every edit."""
        ...


class DraftKeeper(QObject):
    """Watches the editors; saves their drafts (debounced) and restores them."""

    def __init__(self, editors: DraftEditors, store: DraftStore,
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.editors = editors
        self.store = store
        self._saved = Drafts()
        self.timer = QTimer(self, singleShot=True, interval=SAVE_MS)
        self.timer.timeout.connect(self.save)
        editors.watch(self.timer.start)

    def current(self) -> Drafts:
        return self.editors.drafts()

    def save(self) -> None:
        drafts = self.current()
        if drafts != self._saved and self.store.save(drafts):
            self._saved = drafts

    def flush(self) -> None:
        """Save now (the window is closing)."""
        self.timer.stop()
        self.save()

    def restore(self) -> None:
        """Put the saved drafts back into the editors (after the last conversation opened)."""
        self.editors.restore_drafts(self.store.load())
        self.timer.stop()
        self._saved = self.current()
