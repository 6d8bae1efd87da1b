"""A window's preferences: restored when it opens, saved (debounced) as they change and on close.

Sampling, system prompt, theme, model settings (speculative decoding included) and recent
models, each model's prompt template (shown for the selected model by the wiring), the mode and
whether the user chose it, the window geometry, the side panels' layout
(`panel_layout.PanelLayoutState`: their widths, the settings / metrics split and the panels the
person closed, kept in `splitter_state`), and the last conversation (reopened in its mode).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QByteArray
from PySide6.QtWidgets import QWidget

from app.chat.instruct_mode import InstructModePage
from app.settings.speculative_field import SpeculativeChoice
from app.shell.context import AppContext
from app.shell.panel_layout import SidePanelLayout
from app.shell.wiring import ModeScreens, SidePanels
from inference.engine.requests import Mode
from inference.engine.sampling import SamplingParams
from inference.speculative.settings import SpeculativeMode


def restore_window_prefs(ctx: AppContext, theme_choice: str, panels: SidePanels,
                         screens: ModeScreens, instruct: InstructModePage, window: QWidget,
                         layout: SidePanelLayout,
                         open_conversation: Callable[[int, str], None]) -> None:
    """Put the saved settings, layout and last conversation back into a new window."""
    prefs = ctx.prefs
    panels.settings.set_sampling(SamplingParams.from_dict(prefs.sampling))
    panels.settings.set_system_prompt(prefs.system_prompt)
    panels.settings.set_theme(theme_choice)
    instruct.set_default_system(prefs.system_prompt)
    ms = prefs.model_settings
    panels.model.set_model_settings(ms.get("n_ctx", 4096), ms.get("n_gpu_layers", 0),
                                    ms.get("n_threads", 0), tuple(prefs.rpc_servers))
    spec = prefs.speculative
    panels.model.speculative.set_value(SpeculativeChoice(
        SpeculativeMode(spec["mode"]), Path(spec["draft_model"]) if spec["draft_model"] else None,
        spec["draft_max"]))
    panels.model.set_models(prefs.recent_models, prefs.last_model,
                            starter=screens.welcome.starter_available)   # not in a bundle
    screens.welcome.set_recent(prefs.recent_models)
    screens.bar.show_mode(Mode(prefs.mode), chosen=False)
    if prefs.window_geometry:
        window.restoreGeometry(QByteArray.fromBase64(prefs.window_geometry.encode()))
    layout.restore(prefs.splitter_state)
    last = prefs.last_conversation_id
    if last:
        try:
            conv_mode = ctx.store.get_conversation(last).mode
        except LookupError:
            conv_mode = ""              # deleted since: start fresh
        if conv_mode:
            open_conversation(last, conv_mode)
            screens.bar.show_mode(Mode(prefs.mode), chosen=False)


def save_window_prefs(ctx: AppContext, panels: SidePanels, mode: Mode, window: QWidget,
                      layout: SidePanelLayout) -> None:
    """Save the window's settings, mode and layout to the preferences file."""
    prefs = ctx.prefs
    prefs.sampling = panels.settings.sampling().to_dict()
    prefs.system_prompt = panels.settings.system_prompt_text()
    prefs.mode = mode.value
    prefs.window_geometry = bytes(window.saveGeometry().toBase64().data()).decode()
    prefs.splitter_state = layout.save()
    ctx.prefs_store.save(prefs)
