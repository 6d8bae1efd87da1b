"""ChatParts: the Chat page's models and widgets, built together in one place."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from PySide6.QtCore import QObject

from app.chat.composer import Composer
from app.chat.composer_drafts import ComposerDrafts
from app.chat.controller import ChatController
from app.chat.instruct_mode import InstructModePage
from app.chat.mode_run import ModeRun
from app.chat.render.view import ChatView
from app.chat.request_builder import RunSettings, chat_request
from app.chat.sidebar import Sidebar
from app.chat.text_mode import TextModePage
from app.chat.token_count import TokenCount
from app.chat.transcript import TranscriptModel
from app.data.store import Store
from app.engine.client import EngineClient
from inference.engine.requests import Message, Mode


@dataclass(frozen=True)
class ChatParts:
    transcript: TranscriptModel
    controller: ChatController
    text_run: ModeRun
    instruct_run: ModeRun
    sidebar: Sidebar
    view: ChatView
    composer: Composer
    text_page: TextModePage
    instruct_page: InstructModePage

    @classmethod
    def create(cls, store: Store, client: EngineClient, settings: Callable[[], RunSettings],
               owner: QObject) -> ChatParts:
        """The models (owned by `owner`), then the widgets that show them."""
        transcript = TranscriptModel(owner)
        controller = ChatController(store, transcript, client, settings, owner)
        text_run = ModeRun(store, client, Mode.TEXT.value, owner)
        instruct_run = ModeRun(store, client, Mode.INSTRUCT.value, owner)
        view = ChatView()
        view.setModel(transcript)
        composer = Composer()
        ComposerDrafts(composer, transcript, controller)
        TokenCount(composer.input, composer.token_label, client,
                   lambda text: chat_request([*controller.history(), Message("user", text)],
                                             settings()))
        return cls(transcript, controller, text_run, instruct_run, Sidebar(store), view,
                   composer, TextModePage(text_run, settings),
                   InstructModePage(instruct_run, settings))

    @property
    def busy(self) -> bool:
        """A reply is being written, in any mode."""
        return self.controller.busy or self.text_run.busy or self.instruct_run.busy
