"""ChatDraftEditors: the Chat page's editors as `DraftEditors` (app.data.drafts): the composer
(and which message it edits), the Text-mode document and the Instruct instruction and system
prompt."""

from __future__ import annotations

from collections.abc import Callable

from app.chat.composer import Composer
from app.chat.composer_drafts import put_back
from app.chat.instruct_mode import InstructModePage
from app.chat.text_mode import TextModePage
from app.chat.transcript import TranscriptModel
from app.data.drafts import ChatDraft, Drafts
from app.data.store import Store


class ChatDraftEditors:
    def __init__(self, composer: Composer, transcript: TranscriptModel, text_page: TextModePage,
                 instruct_page: InstructModePage, store: Store) -> None:
        self.composer = composer
        self.transcript = transcript
        self.text_page = text_page
        self.instruct_page = instruct_page
        self.store = store

    def watch(self, changed: Callable[[], None]) -> None:
        for editor in (self.composer.input, self.text_page.editor,
                       self.instruct_page.instruction, self.instruct_page.system):
            editor.textChanged.connect(changed)

    def drafts(self) -> Drafts:
        row = self.composer.editing_row
        edit_of = (self.transcript.message_at(row).message_id
                   if 0 <= row < self.transcript.rowCount() else 0)
        system = self.instruct_page.system
        return Drafts(chat=self.composer.text(), chat_edit_of=edit_of,
                      chat_conversation=self.composer.conversation_id,
                      chat_elsewhere=tuple(self.composer.elsewhere.values()),
                      text=self.text_page.editor.toPlainText(),
                      text_conversation=self.text_page.run.conv_id,
                      instruction=self.instruct_page.instruction.toPlainText(),
                      instruct_system=(system.toPlainText() if system.document().isModified()
                                       else None))

    def restore_drafts(self, drafts: Drafts) -> None:
        self._restore_chat(drafts)
        self._restore_text(drafts)
        page = self.instruct_page
        if drafts.instruction:
            page.instruction.setPlainText(drafts.instruction)
        if drafts.instruct_system is not None:
            page.system.setPlainText(drafts.instruct_system)
            page.system.document().setModified(True)

    def _restore_chat(self, drafts: Drafts) -> None:
        """Each conversation's draft back with it: the one on screen in the composer."""
        composer = self.composer
        composer.elsewhere.update({d.conv_id: d for d in drafts.chat_elsewhere})
        on_screen = composer.conversation_id
        owner = on_screen if drafts.chat_conversation is None else drafts.chat_conversation
        if drafts.chat:
            composer.elsewhere[owner] = ChatDraft(owner, drafts.chat, drafts.chat_edit_of)
        draft = composer.elsewhere.pop(on_screen, None)
        if draft is not None:
            put_back(composer, self.transcript, draft)

    def _restore_text(self, drafts: Drafts) -> None:
        if not drafts.text and not drafts.text_conversation:
            return
        conv_id = drafts.text_conversation
        if conv_id:
            try:
                if self.store.get_conversation(conv_id).mode != "text":
                    conv_id = 0
            except LookupError:
                conv_id = 0               # deleted since: keep the words as a new document
        if conv_id or drafts.text:
            self.text_page.load_conversation(conv_id, drafts.text)
