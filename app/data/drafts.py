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
class Drafts:
    chat: str = ""
    chat_edit_of: int = 0            # the message id the composer is editing (0: a new one)
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
                ok = isinstance(value, int) and not isinstance(value, bool) and value >= 0
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
