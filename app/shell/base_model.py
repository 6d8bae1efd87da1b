"""What the window does for a base model (one that only continues text): the starter model
opens in Text mode until the user has chosen a mode, and the first Chat or Instruct reply of a
base model says once, in the banner, what it is and what suits it."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QObject

from app.data.prefs import Preferences
from app.engine.worker import STARTER
from app.shell.banner import Banner
from app.shell.mode_bar import ModeBar
from inference.engine.api import LoadedModel
from inference.engine.requests import Mode
from inference.library.model_kind import BASE_MODEL_NOTICE, model_kind_of


class BaseModelGuide(QObject):
    def __init__(self, bar: ModeBar, banner: Banner, prefs: Callable[[], Preferences],
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._bar = bar
        self._banner = banner
        self._prefs = prefs
        self._base = False          # the loaded model is a base model
        self._told = False          # … and the banner has said so since it loaded
        self._defaulted = False     # Text mode is shown because of the starter, not the user
        bar.choiceMade.connect(self._chosen)

    @property
    def base(self) -> bool:
        return self._base

    def loaded(self, loaded: LoadedModel | None, choice: str = "") -> None:
        """A model was loaded from `choice` (a path or "starter"), or unloaded (None)."""
        self._base = loaded is not None and model_kind_of(loaded.info).is_base
        self._told = False
        if loaded is None or self._prefs().mode_chosen:
            return
        if self._base and choice == STARTER:
            self._bar.show_mode(Mode.TEXT, chosen=False)
            self._defaulted = True
        elif self._defaulted and not self._base:     # the default followed the starter
            self._bar.show_mode(Mode.CHAT, chosen=False)
            self._defaulted = False

    def reply_started(self) -> None:
        """A reply began: the first in Chat or Instruct from a base model says what it is."""
        if self._base and not self._told and self._bar.mode is not Mode.TEXT:
            self._told = True
            self._banner.show_message(BASE_MODEL_NOTICE, "info", action="Use Text mode",
                                      callback=lambda: self._bar.modeChosen.emit(Mode.TEXT))

    def _chosen(self, _mode: Mode) -> None:
        self._defaulted = False
        self._prefs().mode_chosen = True
