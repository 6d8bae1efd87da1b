"""Drafts: what the user is writing and has not sent yet, kept across restarts.

The composer's text (and which message it edits), the Text-mode document and the Instruct
instruction (and its own system prompt) are saved a second after the last keystroke, and when
the window closes, to `drafts.json` in the data folder; the next start puts them back. So
nothing typed is lost to a crash or a closed window.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QObject, QTimer

from app.data.prefs import read_json, write_json_atomic

if TYPE_CHECKING:
    from app.shell.window import MainWindow

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


class DraftKeeper(QObject):
    """Watches a window's editors; saves their drafts (debounced) and restores them."""

    def __init__(self, w: MainWindow, store: DraftStore) -> None:
        super().__init__(w)
        self.w = w
        self.store = store
        self._saved = Drafts()
        self.timer = QTimer(self, singleShot=True, interval=SAVE_MS)
        self.timer.timeout.connect(self.save)
        for editor in (w.composer.input, w.text_page.editor, w.instruct_page.instruction,
                       w.instruct_page.system):
            editor.textChanged.connect(self.timer.start)

    def current(self) -> Drafts:
        w = self.w
        row = w.composer.editing_row
        edit_of = (w.transcript.message_at(row).message_id
                   if 0 <= row < w.transcript.rowCount() else 0)
        system = w.instruct_page.system
        return Drafts(chat=w.composer.text(), chat_edit_of=edit_of,
                      text=w.text_page.editor.toPlainText(),
                      text_conversation=w.text_run.conv_id,
                      instruction=w.instruct_page.instruction.toPlainText(),
                      instruct_system=(system.toPlainText() if system.document().isModified()
                                       else None))

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
        drafts = self.store.load()
        self._restore_chat(drafts)
        self._restore_text(drafts)
        page = self.w.instruct_page
        if drafts.instruction:
            page.instruction.setPlainText(drafts.instruction)
        if drafts.instruct_system is not None:
            page.system.setPlainText(drafts.instruct_system)
            page.system.document().setModified(True)
        self.timer.stop()
        self._saved = self.current()

    def _restore_chat(self, drafts: Drafts) -> None:
        composer = self.w.composer
        if not drafts.chat:
            return
        row = (self.w.transcript.row_of_message(drafts.chat_edit_of)
               if drafts.chat_edit_of else -1)
        if row >= 0 and self.w.transcript.message_at(row).role == "user":
            composer.begin_edit(row, drafts.chat)
        else:
            composer.set_text(drafts.chat)

    def _restore_text(self, drafts: Drafts) -> None:
        if not drafts.text and not drafts.text_conversation:
            return
        conv_id = drafts.text_conversation
        if conv_id:
            try:
                if self.w.ctx.store.get_conversation(conv_id).mode != "text":
                    conv_id = 0
            except LookupError:
                conv_id = 0               # deleted since: keep the words as a new document
        if conv_id or drafts.text:
            self.w.text_page.load_conversation(conv_id, drafts.text)
