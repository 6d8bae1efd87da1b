"""WindowWiring: connects the engine, the controllers and the widgets of a MainWindow.

Everything here runs on the GUI thread and only reacts to signals; nothing waits on the engine.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, QTimer

from app.chat.message_actions import MessageActions
from app.chat.prompt_dialog import PromptDialog
from app.data.store import DeletedConversation
from app.engine.worker import STARTER, LoadSpec
from inference.engine.api import LoadedModel
from inference.engine.events import Finished
from inference.engine.requests import Mode
from inference.memory.probes import MemoryProbe

if TYPE_CHECKING:
    from app.shell.window import MainWindow

PREFS_SAVE_MS = 400


class WindowWiring(QObject):
    def __init__(self, w: MainWindow) -> None:
        super().__init__(w)
        self.w = w
        self.client = w.ctx.client
        self._prefs_timer = QTimer(self, singleShot=True, interval=PREFS_SAVE_MS)
        self._prefs_timer.timeout.connect(w.save_prefs)
        c = self.client
        c.stateChanged.connect(self._state_changed)
        c.loadProgress.connect(self._load_progress)
        c.modelLoaded.connect(self._loaded)
        c.modelUnloaded.connect(self._unloaded)
        c.loadFailed.connect(self._load_failed)
        c.engineCrashed.connect(self._crashed)
        c.liveStats.connect(w.metrics.update_stats)
        w.metrics.memorySampled.connect(self._memory_sampled)
        c.generationStarted.connect(self._generation_started)
        c.generationFinished.connect(self._generation_finished)
        ctl = w.controller
        ctl.busyChanged.connect(w.composer.set_busy)
        ctl.errorOccurred.connect(self.error)
        ctl.notice.connect(lambda text: w.banner.show_message(text, "info", timeout_ms=8000))
        ctl.draftRestored.connect(self._restore_draft)
        ctl.conversationChanged.connect(self._conversation_changed)
        ctl.conversationsChanged.connect(w.sidebar.refresh)
        w.composer.sendRequested.connect(self._send)
        w.composer.editSubmitted.connect(self._edit_submitted)
        w.composer.stopRequested.connect(ctl.stop)
        self.actions = MessageActions(w, self)
        for run in (w.text_run, w.instruct_run):
            run.conversationCreated.connect(self._run_conversation)
            run.finished.connect(lambda _fin: w.sidebar.refresh())
        w.text_page.errorOccurred.connect(self.error)
        w.instruct_page.errorOccurred.connect(self.error)
        w.sidebar.conversationSelected.connect(self.open_conversation)
        w.sidebar.newRequested.connect(self.new_conversation)
        w.sidebar.conversationDeleted.connect(self._deleted)
        w.sidebar.exported.connect(lambda path: w.banner.show_message(
            f"Exported to {path}", "info", timeout_ms=6000))
        mp = w.model_panel
        mp.loadRequested.connect(self.load)
        mp.unloadRequested.connect(self.client.unload)
        mp.cancelRequested.connect(self.client.stop)
        w.welcome.starterRequested.connect(lambda: self.load_choice(STARTER))
        w.welcome.openRequested.connect(mp.open_file_dialog)
        w.welcome.recentRequested.connect(self.load_choice)
        sp = w.settings_panel
        sp.samplingChanged.connect(lambda _s: self._prefs_timer.start())
        sp.systemPromptChanged.connect(self._system_prompt_changed)
        sp.themeChosen.connect(self._theme_chosen)

    # -- pages -------------------------------------------------------------------------------
    def update_page(self) -> None:
        w = self.w
        mode = w.mode
        if mode is Mode.CHAT:
            empty = w.transcript.rowCount() == 0
            show_welcome = empty and self.client.loaded is None
            w.pages.setCurrentWidget(w.welcome if show_welcome else w.chat_page)
            if not show_welcome:
                w.composer.input.setFocus()
        else:
            w.pages.setCurrentWidget(w.text_page if mode is Mode.TEXT else w.instruct_page)
        current = {Mode.CHAT: w.controller.conversation_id, Mode.TEXT: w.text_run.conv_id,
                   Mode.INSTRUCT: w.instruct_run.conv_id}[mode]
        w.sidebar.select(current)
        self._update_template()

    def _update_template(self, template: str = "") -> None:
        w = self.w
        loaded = self.client.loaded
        if w.mode is Mode.TEXT:
            text = "Template: none (raw text, sent exactly as written)"
        elif loaded is None:
            text = "Template: load a model to see it"
        else:
            text = f"Template: {template or loaded.template}"
        w.template_label.setText(text)

    def show_prompt(self) -> None:
        w = self.w
        request = w.preview_request()
        if request is None:
            self.error("Nothing to render yet: write a message first.")
            return
        if self.client.loaded is None:
            self.error("Load a model to see the prompt its template builds.")
            return
        dialog = PromptDialog(w)
        self.client.render(request, dialog.show_result)
        dialog.show()
        self.prompt_dialog = dialog

    # -- engine ------------------------------------------------------------------------------
    def load_choice(self, choice: str) -> None:
        self.w.model_panel.select(choice)
        self.load(self.w.model_panel.spec(choice))

    def load(self, spec: LoadSpec) -> None:
        w = self.w
        if w.controller.busy or w.text_run.busy or w.instruct_run.busy:
            self.error("Stop the running reply before loading a model.")
            return
        if not self.client.load(spec):
            self.error("The engine is busy; try again in a moment.")
            return
        w.ctx.prefs.model_settings = {**w.ctx.prefs.model_settings, "n_ctx": spec.n_ctx,
                                      "n_gpu_layers": spec.n_gpu_layers,
                                      "n_threads": spec.n_threads}
        w.banner.hide()

    def _state_changed(self, state: str) -> None:
        w = self.w
        w.model_panel.set_loading(state == "loading")
        w.metrics.set_generating(state == "generating")
        if state == "loading":
            w.welcome.set_status("Loading the model…")

    def _load_progress(self, fraction: float) -> None:
        self.w.model_panel.set_progress(fraction)
        self.w.welcome.set_status(f"Loading the model… {fraction:.0%}")

    def _loaded(self, loaded: LoadedModel) -> None:
        w = self.w
        w.model_panel.set_loaded(loaded)
        w.model_info.set_model(loaded)
        w.welcome.set_status("")
        w.metrics.set_probe(MemoryProbe(self.client.pid, gpu_offload=loaded.gpu_offload,
                                        backend=loaded.backend), loaded.n_ctx)
        spec = self.client.last_spec
        choice = spec.model if spec else str(loaded.config.path)
        w.ctx.prefs = w.ctx.prefs_store.add_recent_model(w.ctx.prefs, choice)
        w.welcome.set_recent(w.ctx.prefs.recent_models)
        self.update_page()
        if loaded.warnings:
            w.banner.show_message(" ".join(loaded.warnings), "info", timeout_ms=10000)

    def _unloaded(self) -> None:
        w = self.w
        w.model_panel.set_loaded(None)
        w.model_info.set_model(None)
        w.metrics.set_probe(None)
        self.update_page()

    def _load_failed(self, message: str) -> None:
        w = self.w
        w.model_panel.set_loaded(None, f"Not loaded: {message}")
        w.welcome.set_status("")
        self.error(message)

    def _crashed(self, message: str) -> None:
        w = self.w
        w.model_panel.set_loaded(None, "The engine stopped.")
        w.model_info.set_model(None)
        w.metrics.set_probe(None)
        w.metrics.set_generating(False)
        spec = self.client.last_spec
        w.banner.show_message(
            f"The engine stopped unexpectedly ({message}). Your conversation and the partial "
            "reply are kept.", "crash", action="Reload model" if spec else "",
            callback=(lambda: self.load(spec)) if spec else None)

    def _memory_sampled(self, snap: object) -> None:
        gpu = getattr(snap, "gpu", None)
        if gpu is not None:
            self.w.model_panel.set_memory(max(0, gpu.total_bytes - gpu.used_bytes))

    def _generation_started(self, rendered: object) -> None:
        self._update_template(getattr(rendered, "template", ""))

    def _generation_finished(self, fin: Finished) -> None:
        self.w.metrics.show_final(fin.stats)

    # -- chat --------------------------------------------------------------------------------
    def _send(self, text: str) -> None:
        if self.w.controller.send(text):
            self.w.composer.clear()
            self.update_page()

    def _edit_submitted(self, row: int, text: str) -> None:
        if self.w.controller.edit_and_resend(row, text):
            self.w.composer.clear()

    def _restore_draft(self, text: str) -> None:
        composer = self.w.composer
        current = composer.text()
        composer.set_text(text if not current.strip() else f"{text}\n{current}")

    def _conversation_changed(self, conv_id: int) -> None:
        self.w.sidebar.select(conv_id)
        self.w.ctx.prefs.last_conversation_id = conv_id or None
        self._prefs_timer.start()
        self.update_page()

    def _theme_chosen(self, choice: str) -> None:
        self.w.theme.set_choice(choice)
        self.w.ctx.prefs.theme = choice
        self._prefs_timer.start()

    def _system_prompt_changed(self, text: str) -> None:
        self.w.instruct_page.set_default_system(text)
        self._prefs_timer.start()

    # -- conversations -----------------------------------------------------------------------
    def open_conversation(self, conv_id: int, mode: str) -> None:
        w = self.w
        store = w.ctx.store
        try:
            messages = store.messages(conv_id)
            conv = store.get_conversation(conv_id)
        except Exception:
            return
        if mode == Mode.TEXT.value:
            if conv_id != w.text_run.conv_id:            # the open one keeps unsent edits
                last = [m.content for m in messages if m.role in ("user", "assistant")][-2:]
                w.text_page.load_conversation(conv_id, "".join(last))
        elif mode == Mode.INSTRUCT.value:
            user = next((m.content for m in reversed(messages) if m.role == "user"), "")
            reply = next((m.content for m in reversed(messages) if m.role == "assistant"), "")
            w.instruct_page.load_conversation(conv.system_prompt, user, reply)
        else:
            w.controller.open_conversation(conv_id)
        w.sidebar.select(conv_id)
        w.mode_buttons[Mode(mode)].setChecked(True)
        w.ctx.prefs.last_conversation_id = conv_id
        self.update_page()

    def new_conversation(self) -> None:
        w = self.w
        if w.mode is Mode.CHAT:
            w.controller.new_conversation()
        elif w.mode is Mode.TEXT:
            w.text_page.load_conversation(0, "")
        else:
            w.instruct_page.load_conversation(w.settings_panel.system_prompt_text(), "", "")
        w.sidebar.select(0)
        self.update_page()

    def _run_conversation(self, conv_id: int) -> None:
        self.w.sidebar.select(conv_id)
        self.w.sidebar.refresh()

    def _deleted(self, deleted: DeletedConversation) -> None:
        w = self.w
        w.controller.forget_conversation(deleted.conversation.id)
        if w.text_run.conv_id == deleted.conversation.id:
            w.text_page.load_conversation(0, "")
        w.banner.show_message(f"Deleted “{deleted.conversation.title}”.", "info",
                              action="Undo", callback=lambda: self._undo(deleted),
                              timeout_ms=15000)

    def _undo(self, deleted: DeletedConversation) -> None:
        self.w.sidebar.restore(deleted)
        self.open_conversation(deleted.conversation.id, deleted.conversation.mode)

    def error(self, message: str) -> None:
        self.w.banner.show_message(message, "error")

