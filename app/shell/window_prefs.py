"""A window's preferences: restored when it opens, saved (debounced) as they change and on close.

Sampling, system prompt, theme, model settings and recent models, the mode, the window geometry
and splitter layout, and the last conversation (reopened in its mode).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QByteArray

from inference.engine.requests import Mode
from inference.engine.sampling import SamplingParams

if TYPE_CHECKING:
    from app.shell.window import MainWindow


def restore_window_prefs(w: MainWindow) -> None:
    """Put the saved settings, layout and last conversation back into a new window."""
    prefs = w.ctx.prefs
    w.settings_panel.set_sampling(SamplingParams.from_dict(prefs.sampling))
    w.settings_panel.set_system_prompt(prefs.system_prompt)
    w.settings_panel.set_theme(w.theme.choice)
    w.instruct_page.set_default_system(prefs.system_prompt)
    ms = prefs.model_settings
    w.model_panel.set_model_settings(ms.get("n_ctx", 4096), ms.get("n_gpu_layers", 0),
                                     ms.get("n_threads", 0))
    w.model_panel.set_models(prefs.recent_models, prefs.last_model)
    w.welcome.set_recent(prefs.recent_models)
    w.mode_buttons[Mode(prefs.mode)].setChecked(True)
    if prefs.window_geometry:
        w.restoreGeometry(QByteArray.fromBase64(prefs.window_geometry.encode()))
    if prefs.splitter_state:
        w.splitter.restoreState(QByteArray.fromBase64(prefs.splitter_state.encode()))
    last = prefs.last_conversation_id
    if last:
        try:
            conv_mode = w.ctx.store.get_conversation(last).mode
        except LookupError:
            conv_mode = ""              # deleted since: start fresh
        if conv_mode:
            w.wiring.open_conversation(last, conv_mode)
            w.mode_buttons[Mode(prefs.mode)].setChecked(True)


def save_window_prefs(w: MainWindow) -> None:
    """Save the window's settings, mode and layout to the preferences file."""
    prefs = w.ctx.prefs
    prefs.sampling = w.settings_panel.sampling().to_dict()
    prefs.system_prompt = w.settings_panel.system_prompt_text()
    prefs.mode = w.mode.value
    prefs.window_geometry = bytes(w.saveGeometry().toBase64().data()).decode()
    prefs.splitter_state = bytes(w.splitter.saveState().toBase64().data()).decode()
    w.ctx.prefs_store.save(prefs)
