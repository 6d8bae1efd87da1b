"""WindowWiring: connects the engine, the chat's parts, the side panels and the mode pages.

It is given exactly the objects it connects (no window). Everything here runs on the GUI thread
and only reacts to signals; nothing waits on the engine.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import QObject, QTimer
from PySide6.QtWidgets import QStackedWidget, QWidget

from app.chat.message_actions import MessageActions
from app.chat.parts import ChatParts
from app.chat.prompt_dialog import PromptDialog
from app.data.store import DeletedConversation
from app.engine.client import ClientState
from app.engine.worker import STARTER, LoadSpec
from app.settings.metrics_panel import MetricsPanel
from app.settings.model_check import model_file_problem
from app.settings.model_info import ModelInfoPanel
from app.settings.model_panel import ModelPanel
from app.settings.settings_panel import SettingsPanel
from app.shell.banner import Banner
from app.shell.base_model import BaseModelGuide
from app.shell.context import AppContext
from app.shell.mode_bar import ModeBar
from app.shell.theme import ThemeManager
from app.shell.welcome import WelcomePage
from inference.engine.api import LoadedModel
from inference.engine.events import Finished
from inference.engine.requests import GenerationRequest, Mode
from inference.memory.probes import MemoryProbe

PREFS_SAVE_MS = 400


@dataclass(frozen=True)
class SidePanels:
    """The Chat page's right-hand panels."""

    model: ModelPanel
    settings: SettingsPanel
    info: ModelInfoPanel
    metrics: MetricsPanel


@dataclass(frozen=True)
class ModeScreens:
    """The centre of the Chat page: the mode bar over a stack of the welcome page, the chat
    (transcript and composer) and the Text and Instruct pages."""

    bar: ModeBar
    stack: QStackedWidget
    welcome: WelcomePage
    chat: QWidget


class WindowWiring(QObject):
    def __init__(self, ctx: AppContext, theme: ThemeManager, chat: ChatParts,
                 panels: SidePanels, screens: ModeScreens, banner: Banner, *,
                 preview: Callable[[], GenerationRequest | None],
                 save_prefs: Callable[[], None], parent: QWidget) -> None:
        super().__init__(parent)
        self.ctx = ctx
        self.theme = theme
        self.chat = chat
        self.panels = panels
        self.screens = screens
        self.banner = banner
        self._preview = preview
        self._dialog_parent = parent
        self.client = ctx.client
        self._prefs_timer = QTimer(self, singleShot=True, interval=PREFS_SAVE_MS)
        self._prefs_timer.timeout.connect(save_prefs)
        c = self.client
        c.stateChanged.connect(self._state_changed)
        c.loadProgress.connect(self._load_progress)
        c.modelLoaded.connect(self._loaded)
        c.modelUnloaded.connect(self._unloaded)
        c.loadFailed.connect(self._load_failed)
        c.engineCrashed.connect(self._crashed)
        c.liveStats.connect(panels.metrics.update_stats)
        c.prefillProgress.connect(panels.metrics.show_prefill)
        panels.metrics.memorySampled.connect(self._memory_sampled)
        c.generationStarted.connect(self._generation_started)
        c.generationFinished.connect(self._generation_finished)
        c.serverBusy.connect(lambda text: self.banner.show_message(
            text[0].upper() + text[1:] + ".", "info", timeout_ms=10000))
        ctl = chat.controller
        ctl.busyChanged.connect(chat.composer.set_busy)
        ctl.errorOccurred.connect(self.error)
        ctl.notice.connect(lambda text: banner.show_message(text, "info", timeout_ms=8000))
        ctl.draftRestored.connect(self._restore_draft)
        ctl.conversationChanged.connect(self._conversation_changed)
        ctl.conversationsChanged.connect(chat.sidebar.refresh)
        chat.composer.sendRequested.connect(self._send)
        chat.composer.editSubmitted.connect(self._edit_submitted)
        chat.composer.stopRequested.connect(ctl.stop)
        self.actions = MessageActions(chat.view, chat.transcript, ctl, chat.composer, banner,
                                      self)
        for recorder in (ctl.recorder, chat.text_run.recorder, chat.instruct_run.recorder):
            recorder.saveFailed.connect(self.error)          # once per outage, not per token
            recorder.saveRecovered.connect(lambda: banner.show_message(
                "The history database takes writes again; every reply is saved.", "info",
                timeout_ms=8000))
        for run in (chat.text_run, chat.instruct_run):
            run.conversationCreated.connect(self._run_conversation)
            run.finished.connect(lambda _fin: chat.sidebar.refresh())
        chat.sidebar.conversationSelected.connect(self.open_conversation)
        chat.sidebar.newRequested.connect(self.new_conversation)
        chat.sidebar.conversationDeleted.connect(self._deleted)
        chat.sidebar.exported.connect(lambda path: banner.show_message(
            f"Exported to {path}", "info", timeout_ms=6000))
        mp = panels.model
        mp.loadRequested.connect(self.load)
        mp.fileRefused.connect(self.error)
        mp.unloadRequested.connect(self.client.unload)
        mp.cancelRequested.connect(self.client.stop)
        screens.welcome.starterRequested.connect(lambda: self.load_choice(STARTER))
        screens.welcome.openRequested.connect(mp.open_file_dialog)
        screens.welcome.recentRequested.connect(self.load_choice)
        mp.choiceChanged.connect(self._model_choice_changed)
        mp.template.changed.connect(self._template_changed)
        mp.set_conversation(preview)
        self.base_model = BaseModelGuide(screens.bar, banner, lambda: self.ctx.prefs, self)
        screens.bar.choiceMade.connect(lambda _mode: self._prefs_timer.start())
        sp = panels.settings
        sp.samplingChanged.connect(lambda _s: self._prefs_timer.start())
        sp.systemPromptChanged.connect(self._system_prompt_changed)
        sp.themeChosen.connect(self._theme_chosen)

    def save_soon(self) -> None:
        """Save the preferences shortly (debounced), e.g. after a panel was resized."""
        self._prefs_timer.start()

    # -- pages -------------------------------------------------------------------------------
    def update_page(self) -> None:
        chat, screens = self.chat, self.screens
        mode = screens.bar.mode
        if mode is Mode.CHAT:
            empty = chat.transcript.rowCount() == 0
            show_welcome = empty and self.client.loaded is None
            screens.stack.setCurrentWidget(screens.welcome if show_welcome else screens.chat)
            if not show_welcome:
                chat.composer.input.setFocus()
        else:
            screens.stack.setCurrentWidget(chat.text_page if mode is Mode.TEXT
                                           else chat.instruct_page)
        current = {Mode.CHAT: chat.controller.conversation_id, Mode.TEXT: chat.text_run.conv_id,
                   Mode.INSTRUCT: chat.instruct_run.conv_id}[mode]
        chat.sidebar.select(current)
        self._update_template()

    def _update_template(self, template: str = "") -> None:
        loaded = self.client.loaded
        if self.screens.bar.mode is Mode.TEXT:
            text = "Template: none (raw text, sent exactly as written)"
        elif loaded is None:
            text = "Template: load a model to see it"
        else:
            text = f"Template: {template or loaded.template}"
        self.screens.bar.set_template(text)

    def show_prompt(self) -> None:
        request = self._preview()
        if request is None:
            self.error("Nothing to render yet: write a message first.")
            return
        if self.client.loaded is None:
            self.error("Load a model to see the prompt its template builds.")
            return
        dialog = PromptDialog(self._dialog_parent)
        self.client.render(request, dialog.show_result)
        dialog.show()
        self.prompt_dialog = dialog

    # -- engine ------------------------------------------------------------------------------
    def load_choice(self, choice: str) -> None:
        """Load a path (or the starter); a file that is not a GGUF model is refused before
        anything is unloaded, and never joins the model list."""
        problem = self._refusal(choice)
        if problem:
            self.error(problem)
            return
        self.panels.model.engine.select("")        # a file loads on this computer
        self.panels.model.select(choice)
        self.load(self.panels.model.spec(choice))

    def _refusal(self, choice: str) -> str:
        """Why `choice` cannot be loaded, checked from its header ("" when it may)."""
        return "" if choice == STARTER else model_file_problem(Path(choice))

    def load(self, spec: LoadSpec) -> None:
        client = self.client
        if client.state == ClientState.LOADING and client.last_spec == spec:
            return                                 # a second click of the same Load
        if self.chat.busy:
            self.error("Stop the running reply before loading a model.")
            return
        problem = "" if spec.remote is not None else self._refusal(spec.model)
        if problem:
            self.error(problem)
            return
        if not self.client.load(spec):
            self.error("The engine is busy; try again in a moment.")
            return
        prefs = self.ctx.prefs
        prefs.model_settings = {**prefs.model_settings, "n_ctx": spec.n_ctx,
                                "n_gpu_layers": spec.n_gpu_layers, "n_threads": spec.n_threads}
        prefs.rpc_servers = list(spec.rpc_servers)
        if spec.remote is None:
            prefs.speculative = {"mode": spec.speculative, "draft_max": spec.draft_max,
                                 "draft_model": str(spec.draft_model or "")}
        self.banner.hide()

    def _state_changed(self, state: ClientState) -> None:
        self.panels.model.set_loading(state == ClientState.LOADING)
        self.panels.metrics.set_generating(state == ClientState.GENERATING)
        if state == ClientState.LOADING:
            self.screens.welcome.set_status("Loading the model…")
        else:
            self.screens.welcome.set_status("")     # a load ended (done, failed, cancelled)

    def _load_progress(self, fraction: float) -> None:
        self.panels.model.set_progress(fraction)
        self.screens.welcome.set_status(f"Loading the model… {fraction:.0%}")

    def _loaded(self, loaded: LoadedModel) -> None:
        p, welcome, ctx = self.panels, self.screens.welcome, self.ctx
        p.model.set_loaded(loaded)
        p.info.set_model(loaded)
        welcome.set_status("")
        spec = self.client.last_spec
        choice = spec.model if spec else str(loaded.config.path)
        if spec is not None and spec.remote is not None:       # nothing of it to measure here
            p.metrics.set_probe(None, loaded.n_ctx, remote=spec.remote.label)
        else:
            p.metrics.set_probe(MemoryProbe(self.client.pid, gpu_offload=loaded.gpu_offload,
                                            backend=loaded.backend), loaded.n_ctx)
            ctx.prefs = ctx.prefs_store.add_recent_model(ctx.prefs, choice)
            welcome.set_recent(ctx.prefs.recent_models)
        self.base_model.loaded(loaded, choice)
        self.update_page()
        if loaded.warnings:
            self.banner.show_message(" ".join(loaded.warnings), "info", timeout_ms=10000)

    def _unloaded(self) -> None:
        self.base_model.loaded(None)
        self.panels.model.set_loaded(None)
        self.panels.info.set_model(None)
        self.panels.metrics.set_probe(None)
        self.update_page()

    def _load_failed(self, message: str) -> None:
        self.panels.model.set_loaded(None, f"Not loaded: {message}")
        self.screens.welcome.set_status("")
        self.error(message)

    def _crashed(self, message: str) -> None:
        p = self.panels
        p.model.set_loaded(None, "The engine stopped.")
        p.info.set_model(None)
        p.metrics.set_probe(None)
        p.metrics.set_generating(False)
        spec = self.client.last_spec
        self.banner.show_message(
            f"The engine stopped unexpectedly ({message}). Your conversation and the partial "
            "reply are kept.", "crash", action="Reload model" if spec else "",
            callback=(lambda: self.load(spec)) if spec else None)

    def _memory_sampled(self, snap: object) -> None:
        gpu = getattr(snap, "gpu", None)
        if gpu is not None:
            self.panels.model.set_memory(max(0, gpu.total_bytes - gpu.used_bytes))

    def _generation_started(self, rendered: object) -> None:
        self._update_template(getattr(rendered, "template", ""))
        self.base_model.reply_started()

    def _generation_finished(self, fin: Finished) -> None:
        self.panels.metrics.show_final(fin.stats)

    # -- chat --------------------------------------------------------------------------------
    def _send(self, text: str) -> None:
        if self.chat.controller.send(text):
            self.chat.composer.clear()
            self.update_page()

    def _edit_submitted(self, row: int, text: str) -> None:
        if self.chat.controller.edit_and_resend(row, text):
            self.chat.composer.clear()

    def _restore_draft(self, text: str) -> None:
        composer = self.chat.composer
        current = composer.text()
        composer.set_text(text if not current.strip() else f"{text}\n{current}")

    def _conversation_changed(self, conv_id: int) -> None:
        self.chat.sidebar.select(conv_id)
        self.ctx.prefs.last_conversation_id = conv_id or None
        self._prefs_timer.start()
        self.update_page()

    def _model_choice_changed(self, choice: str) -> None:
        """The picker moved: show the prompt template saved for that model."""
        self.panels.model.template.show_pref(self.ctx.prefs.template_pref(choice))

    def _template_changed(self) -> None:
        model = self.panels.model
        if model.choice():
            self.ctx.prefs.set_template_pref(model.choice(), model.template.pref())
            self._prefs_timer.start()

    def _theme_chosen(self, choice: str) -> None:
        self.theme.set_choice(choice)
        self.ctx.prefs.theme = choice
        self._prefs_timer.start()

    def _system_prompt_changed(self, text: str) -> None:
        self.chat.instruct_page.set_default_system(text)
        self._prefs_timer.start()

    # -- conversations -----------------------------------------------------------------------
    def open_conversation(self, conv_id: int, mode: str) -> None:
        chat = self.chat
        store = self.ctx.store
        try:
            messages = store.messages(conv_id)
            conv = store.get_conversation(conv_id)
        except Exception:
            return
        if mode == Mode.TEXT.value:
            if conv_id != chat.text_run.conv_id:         # the open one keeps unsent edits
                last = [m.content for m in messages if m.role in ("user", "assistant")][-2:]
                chat.text_page.load_conversation(conv_id, "".join(last))
        elif mode == Mode.INSTRUCT.value:
            user = next((m.content for m in reversed(messages) if m.role == "user"), "")
            reply = next((m.content for m in reversed(messages) if m.role == "assistant"), "")
            chat.instruct_page.load_conversation(conv.system_prompt, user, reply)
        else:
            chat.controller.open_conversation(conv_id)
        chat.sidebar.select(conv_id)
        self.screens.bar.show_mode(Mode(mode), chosen=False)
        self.ctx.prefs.last_conversation_id = conv_id
        self.update_page()

    def new_conversation(self) -> None:
        chat, mode = self.chat, self.screens.bar.mode
        if mode is Mode.CHAT:
            chat.controller.new_conversation()
        elif mode is Mode.TEXT:
            chat.text_page.load_conversation(0, "")
        else:
            chat.instruct_page.load_conversation(self.panels.settings.system_prompt_text(),
                                                 "", "")
        chat.sidebar.select(0)
        self.update_page()

    def _run_conversation(self, conv_id: int) -> None:
        self.chat.sidebar.select(conv_id)
        self.chat.sidebar.refresh()

    def _deleted(self, deleted: DeletedConversation) -> None:
        chat = self.chat
        chat.controller.forget_conversation(deleted.conversation.id)
        if chat.text_run.conv_id == deleted.conversation.id:
            chat.text_page.load_conversation(0, "")
        self.banner.show_message(f"Deleted “{deleted.conversation.title}”.", "info",
                              action="Undo", callback=lambda: self._undo(deleted),
                              timeout_ms=15000)

    def _undo(self, deleted: DeletedConversation) -> None:
        self.chat.sidebar.restore(deleted)
        self.open_conversation(deleted.conversation.id, deleted.conversation.mode)

    def error(self, message: str) -> None:
        self.banner.show_message(message, "error")

