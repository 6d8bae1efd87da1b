"""What the transcript's message actions do: copy a message (its answer, never its thinking)
or its code, edit, regenerate, show a reply's previous or next alternative, stop. They come from
the delegate's links and chips, the keyboard and the context menu alike. A clicked link that
Parley does not open is said in a note."""

from __future__ import annotations

from enum import StrEnum
from typing import TYPE_CHECKING, Protocol

from PySide6.QtCore import QObject
from PySide6.QtGui import QGuiApplication

from app.data.store import StoreError
from app.inspector import ReplyTokensDialog
from inference.inspector.codec import CodecError, decode

if TYPE_CHECKING:
    from app.chat.composer import Composer
    from app.chat.controller import ChatController
    from app.chat.render.view import ChatView
    from app.chat.transcript import TranscriptModel


class MessageAction(StrEnum):
    """An action on one message of the transcript (the view's signals carry its value)."""

    COPY = "copy"
    COPY_CODE = "copy_code"
    EDIT = "edit"
    REGENERATE = "regenerate"
    PREVIOUS = "previous"          # the reply's previous alternative (◀)
    NEXT = "next"                  # its next alternative (▶)
    STOP = "stop"
    INSPECT = "inspect"            # a reply's tokens (the token inspector), or start recording


class Notices(Protocol):
    """Where short notes go (the window's banner)."""

    def show_message(self, text: str, kind: str = "error", *, timeout_ms: int = 0) -> None: ...


class MessageActions(QObject):
    def __init__(self, view: ChatView, transcript: TranscriptModel, controller: ChatController,
                 composer: Composer, notices: Notices, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.view = view
        self.transcript = transcript
        self.controller = controller
        self.composer = composer
        self.notices = notices
        self.tokens: ReplyTokensDialog | None = None     # the last reply's tokens opened
        view.actionTriggered.connect(self.trigger)
        view.codeCopied.connect(lambda text: self.copy(text, "Code copied"))
        view.linkRefused.connect(self.link_refused)

    def trigger(self, name: str, row: int) -> None:
        if not 0 <= row < self.transcript.rowCount():
            return
        action = MessageAction(name)
        message = self.transcript.message_at(row)
        if action is MessageAction.COPY:
            self.copy(message.content, "Message copied")
        elif action is MessageAction.COPY_CODE:
            blocks = self.view.code_blocks(row)
            if blocks:
                self.copy("\n\n".join(blocks), "Code copied")
            else:
                self.notices.show_message("This message has no code block.", "info",
                                          timeout_ms=2500)
        elif action is MessageAction.EDIT and message.role == "user" \
                and not self.controller.busy:
            self.composer.begin_edit(row, message.content)
        elif action is MessageAction.REGENERATE:
            self.controller.regenerate()
        elif action in (MessageAction.PREVIOUS, MessageAction.NEXT):
            self.controller.switch_alternative(row, -1 if action is MessageAction.PREVIOUS else 1)
        elif action is MessageAction.STOP:
            self.controller.stop()
        elif action is MessageAction.INSPECT and message.role == "assistant":
            # a thinking reply's tokens hold its thought too: it is not branched from here
            self.inspect(message.message_id, message.content,
                         last=row == self.transcript.rowCount() - 1 and not message.reasoning)

    def inspect(self, msg_id: int, content: str = "", *, last: bool = False) -> None:
        """Open the reply's recorded tokens; with no record, record this conversation's next
        replies (the token inspector is off until asked for). The `last` reply's inspector can
        continue it from a token, as another alternative of the reply."""
        store, conv = self.controller.store, self.controller.conversation_id
        try:
            data = store.inspection(msg_id)
            if data is None:
                store.set_inspect_tokens(conv, True)
                self.notices.show_message("This reply was not recorded. The next replies of "
                                          "this conversation will be: then Inspect tokens "
                                          "shows how each token was chosen.", "info",
                                          timeout_ms=6000)
                return
            inspection = decode(data)
        except (StoreError, CodecError) as err:
            self.notices.show_message(str(err))
            return
        recorded = b"".join(inspection.pieces).decode("utf-8", errors="replace")
        self.tokens = ReplyTokensDialog(inspection, parent=self.view,
                                        head=text_before(content, recorded), branching=last)
        self.tokens.continueFrom.connect(self._continue_from)
        self.tokens.show()

    def _continue_from(self, prefix: str) -> None:
        if not self.controller.regenerate(prefix=prefix):
            self.notices.show_message("The reply cannot be continued now: wait for the reply "
                                      "being written to end.", "info", timeout_ms=4000)

    def link_refused(self, _href: str) -> None:
        self.notices.show_message("That link was not opened: Parley opens only http and "
                                  "https links.", "info", timeout_ms=4000)

    def copy(self, text: str, note: str) -> None:
        QGuiApplication.clipboard().setText(text)
        self.notices.show_message(note, "info", timeout_ms=1500)


def text_before(content: str, recorded: str) -> str:
    """What of `content` comes before the recorded tokens' text (a reply that went on from a
    prefix records only what it added; a stop string trimmed off the end is not in `content`)."""
    for k in range(len(content) + 1):
        if recorded.startswith(content[k:]):
            return content[:k]
    return content
