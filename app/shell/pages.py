"""The window's pages and the navigation rail that switches them: Chat · Library · Hub ·
Perplexity · Compare · Server. Pages other than Chat are built the first time they are shown (a
library scan, a download queue and a compare thread cost nothing until someone asks for them);
each page is wired here: its errors go to the window's banner, Library's Load goes through the
window's model flow, a finished download refreshes the Library, and closing shuts every page
down. Every page is a `Page`: it reports errors, follows the palette and shuts down."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol, cast, runtime_checkable

from PySide6.QtCore import QEvent, QObject, Qt, QTimer, Signal, SignalInstance
from PySide6.QtGui import QKeyEvent
from PySide6.QtWidgets import (
    QButtonGroup,
    QLabel,
    QPushButton,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from app.data.store import StoreError
from app.engine.client import ClientState
from app.remote import remote_name
from app.settings.model_panel import ModelPanel
from app.shell.banner import Banner
from app.shell.context import AppContext
from app.shell.theme import Palette
from inference.library.library import FitSettings


@runtime_checkable
class Page(Protocol):
    """What the window asks of each of its pages (each is also a QWidget)."""

    errorOccurred: SignalInstance       # Signal(str): a message for the window's banner

    def set_palette(self, palette: Palette) -> None: ...

    def shutdown(self) -> None:
        """Stop the page's background work (the window is closing)."""
        ...


@dataclass(frozen=True)
class PageSpec:
    name: str
    title: str
    help: str


PAGES = (
    PageSpec("chat", "Chat", "Talk to the loaded model: chat, text and instruct modes"),
    PageSpec("library", "Library", "Models on this computer: load, import, delete"),
    PageSpec("hub", "Hub", "Find and download GGUF models from Hugging Face"),
    PageSpec("perplexity", "Perplexity", "How well the loaded model predicts a text of yours"),
    PageSpec("compare", "Compare", "Quantizations of one model side by side: PPL, KLD, speed"),
    PageSpec("server", "Server", "Serve the loaded model to other programs over an "
             "OpenAI-compatible API"),
)
NAMES = tuple(p.name for p in PAGES)
FIT_DEBOUNCE_MS = 300             # re-judge the Library's fit this long after a slider stops
NAV_STYLE = """
#pageNav {{ background: {sidebar}; border-right: 1px solid {border}; }}
#navButton {{ background: transparent; border: 1px solid transparent; border-radius: 7px;
    padding: 7px 10px; text-align: left; color: {muted}; }}
#navButton:hover {{ color: {text}; border-color: {border}; }}
#navButton:focus {{ border-color: {accent}; }}
#navButton:checked {{ background: {accent_soft}; color: {text}; font-weight: 600; }}
#navStatus {{ color: {muted}; font-size: 8.5pt; padding: 4px 2px; }}
"""
PAGE_STYLE = """
#pageTitle {{ font-size: 15pt; font-weight: 700; }}
#helpLabel {{ color: {accent}; padding-left: 6px; }}
#pplValue {{ font-size: 16pt; font-weight: 700; color: {accent}; padding-right: 12px; }}
#pplMessage[kind="error"] {{ color: {danger}; font-weight: 600; }}
#pplMessage[kind="info"] {{ color: {muted}; }}
#tokenCount {{ color: {text}; }}
#heatmap {{ font-size: 11pt; }}
"""


class PageNav(QWidget):
    """A vertical list of page buttons (Tab, arrows, Space; Alt+1…6) and the model's status."""

    pageChosen = Signal(str)
    aboutRequested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("pageNav")
        self.setAttribute(Qt.WidgetAttribute.WA_StyledBackground, True)
        self.group = QButtonGroup(self)
        self.buttons: dict[str, QPushButton] = {}
        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 12, 8, 10)
        layout.setSpacing(4)
        for i, spec in enumerate(PAGES):
            button = QPushButton(spec.title)
            button.setObjectName("navButton")
            button.setCheckable(True)
            button.setAccessibleName(f"{spec.title} page")
            button.setToolTip(f"{spec.help} (Alt+{i + 1})")
            button.installEventFilter(self)
            self.group.addButton(button, i)
            self.buttons[spec.name] = button
            layout.addWidget(button)
        self.group.idClicked.connect(lambda i: self.pageChosen.emit(NAMES[i]))
        layout.addStretch(1)
        self.about_button = QPushButton("About")
        self.about_button.setObjectName("navButton")
        self.about_button.setAccessibleName("About Parley")
        self.about_button.setToolTip("Version, llama.cpp build and where your data is (F1)")
        self.about_button.clicked.connect(self.aboutRequested)
        layout.addWidget(self.about_button)
        self.status = QLabel("No model loaded")
        self.status.setObjectName("navStatus")
        self.status.setWordWrap(True)
        self.status.setAccessibleName("Model status")
        layout.addWidget(self.status)
        self.setFixedWidth(128)

    def set_current(self, name: str) -> None:
        self.buttons[name].setChecked(True)

    def set_status(self, text: str, tip: str = "") -> None:
        self.status.setText(text)
        self.status.setToolTip(tip or text)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802
        """Up/Down move between the page buttons and open the page, like a tab list."""
        if event.type() == QEvent.Type.KeyPress and isinstance(event, QKeyEvent) \
                and event.key() in (Qt.Key.Key_Up, Qt.Key.Key_Down):
            i = self.group.id(watched) if isinstance(watched, QPushButton) else -1
            if i >= 0:
                step = 1 if event.key() == Qt.Key.Key_Down else -1
                target = self.buttons[NAMES[(i + step) % len(NAMES)]]
                target.setFocus(Qt.FocusReason.TabFocusReason)
                target.click()
                return True
        return super().eventFilter(watched, event)

    def set_palette(self, palette: Palette) -> None:
        self.setStyleSheet(NAV_STYLE.format(**palette.__dict__))


class PageSwitcher(QObject):
    """Builds, shows, wires and shuts down the window's pages."""

    pageChanged = Signal(str)

    def __init__(self, chat: Page, stack: QStackedWidget, nav: PageNav, ctx: AppContext,
                 model_panel: ModelPanel, banner: Banner, load_model: Callable[[str], None],
                 palette: Palette, window: QWidget) -> None:
        """`chat`: the Chat page, already in `stack`; `load_model` loads a file the way the
        window does; `window` is its parent (the menu bar's View actions, made from
        `app.shell.menus.SHORTCUTS`, hold the Alt+1…6 shortcuts)."""
        super().__init__(window)
        self.stack = stack
        self.nav = nav
        self.ctx = ctx
        self.model_panel = model_panel
        self.banner = banner
        self._load_model = load_model
        self.pages: dict[str, Page] = {}
        self.current = "chat"
        self._palette = palette
        self._factories: dict[str, Callable[[], Page]] = {
            "library": self._library, "hub": self._hub, "perplexity": self._perplexity,
            "compare": self._compare, "server": self._server}
        self._add("chat", chat)
        nav.pageChosen.connect(self.show)
        self._fit_timer = QTimer(self, singleShot=True, interval=FIT_DEBOUNCE_MS)
        self._fit_timer.timeout.connect(self._refit)
        model_panel.ctx.valueChanged.connect(self._fit_settings_changed)
        model_panel.gpu.valueChanged.connect(self._fit_settings_changed)
        client = ctx.client
        for signal in (client.stateChanged, client.modelLoaded, client.modelUnloaded,
                       client.loadFailed, client.engineCrashed):
            signal.connect(self._update_status)
        client.loadProgress.connect(lambda f: nav.set_status(f"Loading the model… {f:.0%}"))
        nav.set_current("chat")
        self._update_status()

    # -- pages -------------------------------------------------------------------------------
    def page(self, name: str) -> Page:
        """The page called `name`, built (and wired) the first time it is asked for."""
        if name not in self.pages:
            page = self._factories[name]()
            self.stack.addWidget(_widget(page))
            self._add(name, page)
        return self.pages[name]

    def _add(self, name: str, page: Page) -> None:
        self.pages[name] = page
        page.errorOccurred.connect(self.error)
        self._style(name, page)

    def show(self, name: str, focus: bool = False) -> None:
        page = self.page(name)
        self.stack.setCurrentWidget(_widget(page))
        self.nav.set_current(name)
        self.current = name
        if focus:
            self.nav.buttons[name].setFocus(Qt.FocusReason.ShortcutFocusReason)
        self.pageChanged.emit(name)

    def error(self, message: str) -> None:
        self.banner.show_message(message, "error")

    def _library(self) -> Page:
        from app.library.page import LibraryPage

        page = LibraryPage(fit_settings=self.fit_settings)
        page.loadRequested.connect(self._load_from_library)
        page.refresh()
        return page

    def fit_settings(self) -> FitSettings:
        """What the Library and the Hub judge fit for: the model panel's context size and GPU
        layers (read on the GUI thread)."""
        mp = self.model_panel
        return FitSettings.detect(int(mp.ctx.value()), int(mp.gpu.value()))

    def _fit_settings_changed(self, _value: float = 0.0) -> None:
        if "library" in self.pages or "hub" in self.pages:
            self._fit_timer.start()

    def _refit(self) -> None:
        for name in ("library", "hub"):
            page = self.pages.get(name)
            if page is not None:
                page.set_fit_settings(self.fit_settings)  # type: ignore[attr-defined]

    def _hub(self) -> Page:
        from app.hub.page import HubPage

        page = HubPage(self.ctx.models_dir, fit_settings=self.fit_settings)
        page.downloaded.connect(self._downloaded)
        return page

    def _perplexity(self) -> Page:
        from app.perplexity.page import PerplexityPage
        from app.perplexity.store import PplStore

        try:
            store: Any = PplStore(self.ctx.store.path)
        except StoreError as err:
            store = None
            self.error(f"Past perplexity runs are not available: {err}")
        page = PerplexityPage(self.ctx.client, store)
        page.remote_note.localRequested.connect(self._use_this_computer)
        return page

    def _compare(self) -> Page:
        from app.compare.page import ComparePage

        page = ComparePage()
        page.errorResolved.connect(self._error_resolved)
        page.remote_note.localRequested.connect(self._use_this_computer)
        client = self.ctx.client

        def show(*_args: object) -> None:
            page.remote_note.set_engine(remote_name(client.loaded))

        client.modelLoaded.connect(show)
        client.modelUnloaded.connect(show)
        show()
        return page

    def _use_this_computer(self) -> None:
        """A page that needs logits asked for the local engine: pick it in the model panel
        and go to the Chat page, where a model is loaded."""
        self.model_panel.engine.select("")
        self.show("chat")

    def _server(self) -> Page:
        from app.server.page import ServerPage

        return ServerPage(self.ctx.client)

    def _error_resolved(self) -> None:
        """A page's error no longer holds (the run it refused has now succeeded)."""
        if self.banner.kind == "error":
            self.banner.hide()

    # -- wiring ------------------------------------------------------------------------------
    def _load_from_library(self, path: str) -> None:
        self._load_model(path)

    def _downloaded(self, path: str) -> None:
        library = self.pages.get("library")
        if library is not None:
            library.refresh()  # type: ignore[attr-defined]
        self.banner.show_message(f"Downloaded {path}; it is in the Library now.", "info",
                                   timeout_ms=8000)

    def _update_status(self, *_args: object) -> None:
        client = self.ctx.client
        loaded = client.loaded
        state = client.state
        if state == ClientState.LOADING:
            self.nav.set_status("Loading the model…")
        elif state == ClientState.CRASHED:
            self.nav.set_status("The engine stopped", "Reload the model from the Chat page")
        elif loaded is None:
            self.nav.set_status("No model loaded")
        else:
            doing = {ClientState.GENERATING: " writing",
                     ClientState.MEASURING: " measuring"}.get(state, "")
            self.nav.set_status(f"Model{doing or ' loaded'}:\n{loaded.config.path.stem}",
                                  f"Loaded: {loaded.config.path}")

    def set_palette(self, palette: Palette) -> None:
        self._palette = palette
        self.nav.set_palette(palette)
        for name, page in self.pages.items():
            self._style(name, page)

    def _style(self, name: str, page: Page) -> None:
        if name != "chat":                 # the Chat page follows the window's style sheet
            _widget(page).setStyleSheet(PAGE_STYLE.format(**self._palette.__dict__))
        page.set_palette(self._palette)

    def shutdown(self) -> None:
        """Stop every built page's background work (replies are kept, downloads pause, runs
        are cancelled)."""
        for page in list(self.pages.values()):
            page.shutdown()


def _widget(page: Page) -> QWidget:
    """A page as the widget it also is."""
    return cast(QWidget, page)
