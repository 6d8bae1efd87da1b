"""ComposerDrafts: the composer's unsent text belongs to its conversation.

Opening another conversation (or a new one) keeps what was typed with the conversation it was
typed in and puts back what that one had; a conversation a send creates takes the text with it.
The drafts of the conversations not on screen live in `Composer.elsewhere` (saved with the other
drafts, app.data.drafts).
"""

from __future__ import annotations

from PySide6.QtCore import QObject

from app.chat.composer import Composer
from app.chat.controller import ChatController
from app.chat.transcript import TranscriptModel
from app.data.drafts import ChatDraft


class ComposerDrafts(QObject):
    def __init__(self, composer: Composer, transcript: TranscriptModel,
                 controller: ChatController, parent: QObject | None = None) -> None:
        super().__init__(parent or controller)
        self.composer = composer
        self.transcript = transcript
        self._switching = False
        controller.leavingConversation.connect(self._leaving)
        controller.conversationChanged.connect(self._changed)

    def _leaving(self, conv_id: int) -> None:
        composer = self.composer
        draft = ChatDraft(conv_id, composer.text(), self.editing_message())
        composer.elsewhere.pop(conv_id, None)
        if draft.text:
            composer.elsewhere[conv_id] = draft
        self._switching = True

    def _changed(self, conv_id: int) -> None:
        composer = self.composer
        composer.conversation_id = conv_id
        if not self._switching:          # created by a send, or left by a delete: text stays
            return
        self._switching = False
        composer.clear()
        draft = composer.elsewhere.pop(conv_id, None)
        if draft is not None:
            put_back(composer, self.transcript, draft)

    def editing_message(self) -> int:
        """The id of the message the composer edits (0: a new one)."""
        row = self.composer.editing_row
        return (self.transcript.message_at(row).message_id
                if 0 <= row < self.transcript.rowCount() else 0)


def put_back(composer: Composer, transcript: TranscriptModel, draft: ChatDraft) -> None:
    """Put `draft` in the composer, editing its message again when that is on screen."""
    row = transcript.row_of_message(draft.edit_of) if draft.edit_of else -1
    if row >= 0 and transcript.message_at(row).role == "user":
        composer.begin_edit(row, draft.text)
    else:
        composer.set_text(draft.text)
