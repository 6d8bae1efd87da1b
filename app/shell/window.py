"""MainWindow: page rail | pages. The Chat page is sidebar | mode pages (welcome, chat, text,
instruct) | settings, info, metrics; Library, Hub, Perplexity and Compare are in pages.py.

The window is built in one order: the chat's parts, the widgets, then the helpers, each given
only the objects it uses: wiring, pages, preferences, drafts, the build probe, the theme.
"""

from __future__ import annotations

from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import QCloseEvent
from PySide6.QtWidgets import (
    QApplication,
    QHBoxLayout,
    QMainWindow,
    QScrollArea,
    QSplitter,
    QStackedWidget,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from app.chat.draft_editors import ChatDraftEditors
from app.chat.page import ChatPage
from app.chat.parts import ChatParts
from app.chat.request_builder import RunSettings, chat_request, preview_history
from app.data.drafts import DraftKeeper
from app.engine.build_probe import BuildProbe
from app.engine.client import ClientState
from app.remote import EngineBook
from app.settings.metrics_panel import MetricsPanel
from app.settings.model_info import ModelInfoPanel
from app.settings.model_panel import ModelPanel
from app.settings.settings_panel import SettingsPanel
from app.shell.about import AboutDialog
from app.shell.banner import Banner
from app.shell.context import AppContext
from app.shell.first_run import FirstRun
from app.shell.menus import HelpDialog, MenuHandlers, WindowMenus
from app.shell.mode_bar import ModeBar
from app.shell.pages import PageNav, PageSwitcher
from app.shell.panel_layout import Side, SidePanelLayout
from app.shell.theme import Palette, ThemeManager
from app.shell.welcome import WelcomePage
from app.shell.window_prefs import restore_window_prefs, save_window_prefs
from app.shell.wiring import ModeScreens, SidePanels, WindowWiring
from inference.engine.requests import GenerationRequest, Mode

# The smallest window Parley is laid out for. A 1920 × 1080 screen at 200 % is 960 × 540 logical
# pixels and a 1366 × 768 one at 150 % is 910 × 512, so the window must fit in less than that;
# at 800 × 500 the page rail and the chat (`panel_layout.CENTER_MIN`, or what its mode bar needs)
# still fit, with both side panels folded into their toggles. Every page is tested at it.
MIN_WINDOW = QSize(800, 500)

class MainWindow(QMainWindow):
    def __init__(self, ctx: AppContext, theme: ThemeManager) -> None:
        super().__init__()
        self.ctx = ctx
        self.theme = theme
        self.setWindowTitle("Parley")
        self.setObjectName("mainWindow")
        self.setMinimumSize(MIN_WINDOW)
        self.resize(1360, 860)
        self._closed = False
        self.about: AboutDialog | None = None
        self.help: HelpDialog | None = None
        chat = self.chat = ChatParts.create(ctx.store, ctx.client, self.run_settings, self)
        self.transcript, self.controller = chat.transcript, chat.controller
        self.text_run, self.instruct_run = chat.text_run, chat.instruct_run
        self.sidebar, self.chat_view, self.composer = chat.sidebar, chat.view, chat.composer
        self.text_page, self.instruct_page = chat.text_page, chat.instruct_page
        self._build()
        panels = self.side_panels = SidePanels(self.model_panel, self.settings_panel,
                                               self.model_info, self.metrics)
        screens = ModeScreens(self.mode_bar, self.pages, self.welcome, self.chat_page)
        self.wiring = WindowWiring(ctx, theme, chat, panels, screens, self.banner,
                                   preview=self.preview_request, save_prefs=self.save_prefs,
                                   parent=self)
        self.switcher = PageSwitcher(self.splitter, self.page_stack, self.nav, ctx,
                                     self.model_panel, self.banner, self.wiring.load_choice,
                                     theme.palette, self)
        self.first_run = FirstRun.attach(self.welcome, self.switcher, self.wiring.load_choice, self)
        self.menus = WindowMenus(self, self._menu_handlers(), theme.choice)
        self.panel_layout.placesChanged.connect(self._show_panel_actions)
        self.panel_layout.changed.connect(self.wiring.save_soon)
        restore_window_prefs(ctx, theme.choice, panels, screens, self.instruct_page, self,
                             self.panel_layout, self.wiring.open_conversation)
        self._show_panel_actions()
        self.drafts = DraftKeeper(ChatDraftEditors(self.composer, self.transcript,
                                                   self.text_page, self.instruct_page,
                                                   ctx.store), ctx.drafts, self)
        self.drafts.restore()
        self.build_probe = BuildProbe(ctx.build_reader, self)
        self.build_probe.ready.connect(self.model_panel.set_build)
        self.build_probe.start()
        theme.themeChanged.connect(self.apply_palette)
        self.apply_palette(theme.palette)
        self.wiring.update_page()
        self.show_store_notice()

    def show_store_notice(self) -> None:
        """What opening the history found (damaged and moved aside, read-only, in memory)."""
        if self.ctx.store_notice:
            self.banner.show_message(self.ctx.store_notice, "info")

    # -- construction ------------------------------------------------------------------------
    def _build(self) -> None:
        self.banner = Banner()
        self.welcome = WelcomePage(self.ctx.models_dir)
        chat_page = QWidget()
        chat_page.setObjectName("chatPage")
        chat_layout = QVBoxLayout(chat_page)
        chat_layout.setContentsMargins(0, 0, 0, 0)
        chat_layout.setSpacing(0)
        chat_layout.addWidget(self.chat_view, 1)
        chat_layout.addWidget(self.composer)
        self.chat_page = chat_page
        self.pages = QStackedWidget()
        for page in (self.welcome, self.chat_page, self.text_page, self.instruct_page):
            self.pages.addWidget(page)
        center = QWidget()
        center.setObjectName("center")
        center_layout = QVBoxLayout(center)
        center_layout.setContentsMargins(0, 0, 0, 0)
        center_layout.setSpacing(0)
        self.mode_bar = ModeBar()
        self.mode_buttons = self.mode_bar.buttons
        self.template_label = self.mode_bar.template_label
        self.mode_bar.modeChosen.connect(self.set_mode)
        self.mode_bar.promptRequested.connect(self.show_prompt)
        center_layout.addWidget(self.mode_bar)
        center_layout.addWidget(self.pages, 1)
        self.model_panel = ModelPanel(self.ctx.models_dir)
        self.model_panel.engine.bind(EngineBook(lambda: self.ctx.prefs,
                                                self.ctx.prefs_store.save, self.ctx.api_keys))
        self.settings_panel = SettingsPanel(self.ctx.prefs_store)
        self.model_info = ModelInfoPanel()
        self.metrics = MetricsPanel()
        metrics_scroll = QScrollArea()            # a short window scrolls the figures
        metrics_scroll.setObjectName("metricsScroll")
        metrics_scroll.setWidgetResizable(True)
        metrics_scroll.setWidget(self.metrics)
        metrics_scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        settings_box = QWidget()
        box = QVBoxLayout(settings_box)
        box.setContentsMargins(0, 0, 0, 0)
        box.setSpacing(0)
        box.addWidget(self.model_panel)
        box.addWidget(self.settings_panel)
        scroll = QScrollArea()
        scroll.setObjectName("settingsScroll")
        scroll.setWidgetResizable(True)
        scroll.setWidget(settings_box)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.tabs = QTabWidget()
        self.tabs.setObjectName("rightTabs")
        self.tabs.addTab(scroll, "Settings")
        self.tabs.addTab(self.model_info, "Model info")
        self.tabs.setAccessibleName("Settings and model information")
        right = QSplitter(Qt.Orientation.Vertical)
        right.setObjectName("rightSplitter")
        right.addWidget(self.tabs)
        right.addWidget(metrics_scroll)
        right.setStretchFactor(0, 1)       # the settings take a resize; the metrics keep
        right.setStretchFactor(1, 0)       # the height the person gave them
        right.setChildrenCollapsible(False)
        self.splitter = ChatPage(self.chat, center, right)
        self.right_splitter = right
        bar = self.mode_bar
        self.panel_layout = SidePanelLayout(
            self.splitter, center, bar, right,
            {Side.SIDEBAR: bar.sidebar_toggle, Side.PANEL: bar.panel_toggle}, self)
        for signal in (self.sidebar.conversationSelected, self.sidebar.newRequested):
            signal.connect(lambda *_: self.panel_layout.close_overlay(Side.SIDEBAR))
        self.nav = PageNav()
        self.page_stack = QStackedWidget()
        self.page_stack.setObjectName("pageStack")
        self.page_stack.addWidget(self.splitter)
        column = QWidget()
        column_layout = QVBoxLayout(column)
        column_layout.setContentsMargins(0, 0, 0, 0)
        column_layout.setSpacing(0)
        column_layout.addWidget(self.banner)
        column_layout.addWidget(self.page_stack, 1)
        root = QWidget()
        root_layout = QHBoxLayout(root)
        root_layout.setContentsMargins(0, 0, 0, 0)
        root_layout.setSpacing(0)
        root_layout.addWidget(self.nav)
        root_layout.addWidget(column, 1)
        self.setCentralWidget(root)
        self.nav.aboutRequested.connect(self.show_about)

    def _menu_handlers(self) -> MenuHandlers:
        """What the menu bar's actions (and their shortcuts, `menus.SHORTCUTS`) do."""
        return MenuHandlers(
            new_conversation=self.new_conversation, open_model=self.model_panel.open_file_dialog,
            quit=self.close, copy=copy_selection, find=self.find, preferences=self.preferences,
            show_prompt=self.show_prompt, stop=self.escape,
            set_mode=lambda mode: self.set_mode(Mode(mode)),
            show_page=lambda name: self.switcher.show(name, focus=True),
            set_theme=self.settings_panel.themeChosen.emit, help=self.show_help,
            about=self.show_about, toggle_panel=self.toggle_panel)

    def toggle_panel(self, name: str) -> None:
        """View → Conversations / Settings and metrics: on the Chat page, show or hide it."""
        self.switcher.show("chat")
        self.panel_layout.toggle(Side(name))

    def _show_panel_actions(self) -> None:
        layout = self.panel_layout
        self.menus.show_panels({side.value: layout.shown(side) for side in Side})

    # -- state -------------------------------------------------------------------------------
    @property
    def mode(self) -> Mode:
        return self.mode_bar.mode

    def set_mode(self, mode: Mode) -> None:
        self.mode_bar.show_mode(mode)
        self.ctx.prefs.mode = mode.value
        self.wiring.update_page()

    def run_settings(self) -> RunSettings:
        loaded, spec = self.ctx.client.loaded, self.ctx.client.last_spec
        remote = spec.remote.label if spec is not None and spec.remote is not None else ""
        return RunSettings(sampling=self.settings_panel.sampling(),
                           system_prompt=self.settings_panel.system_prompt_text(),
                           model=loaded.config.path.name if loaded else "", engine=remote)

    def preview_request(self) -> GenerationRequest | None:
        """What the current mode would send now (for "Show prompt"), or None."""
        if self.mode is Mode.TEXT:
            return self.text_page.preview_request()
        if self.mode is Mode.INSTRUCT:
            return self.instruct_page.preview_request()
        history = preview_history(self.controller.history(), self.composer.text())
        return chat_request(history, self.run_settings()) if history else None

    def show_prompt(self) -> None:
        self.wiring.show_prompt()

    def new_conversation(self) -> None:
        self.switcher.show("chat")
        self.sidebar.newRequested.emit()

    def find(self) -> None:
        """Edit → Find: the conversation search, on the Chat page (opening the sidebar)."""
        self.switcher.show("chat")
        if not self.panel_layout.shown(Side.SIDEBAR):
            self.panel_layout.toggle(Side.SIDEBAR)
        self.sidebar.search.setFocus(Qt.FocusReason.ShortcutFocusReason)
        self.sidebar.search.selectAll()

    def preferences(self) -> None:
        """Edit → Preferences: the Chat page's Settings tab (opening the panel)."""
        self.switcher.show("chat")
        if not self.panel_layout.shown(Side.PANEL):
            self.panel_layout.toggle(Side.PANEL)
        self.tabs.setCurrentIndex(0)
        self.settings_panel.setFocus(Qt.FocusReason.ShortcutFocusReason)

    def show_help(self) -> None:
        """Help → Parley Help (F1): the keyboard shortcuts."""
        if self.help is None:
            self.help = HelpDialog(self)
        self.help.show()
        self.help.raise_()
        self.help.activateWindow()

    def escape(self) -> None:
        """The window's one Esc handler: stop what runs (a reply in any mode, a load, a
        measurement); otherwise close a panel open over the chat, or cancel editing a message."""
        if self.controller.busy:
            self.controller.stop()
        elif self.text_run.busy or self.instruct_run.busy:
            self.text_run.stop()
            self.instruct_run.stop()
        elif self.ctx.client.state in (ClientState.LOADING, ClientState.MEASURING):
            self.ctx.client.stop()
        elif self.panel_layout.close_overlays():
            pass
        elif self.composer.editing_row >= 0:
            self.composer.clear()

    def show_about(self) -> None:
        """Help → About: versions, the llama.cpp build and the data folders."""
        if self.about is None:
            self.about = AboutDialog(self.ctx.paths, self)
            probe = self.build_probe
            probe.ready.connect(self.about.set_report)
            probe.failed.connect(self.about.set_error)
            if probe.report is not None:
                self.about.set_report(probe.report)
            elif probe.error:
                self.about.set_error(probe.error)
            probe.start()
        self.about.show()
        self.about.raise_()
        self.about.activateWindow()

    def apply_palette(self, palette: Palette) -> None:
        self.menus.show_theme(self.theme.choice)
        self.settings_panel.set_theme(self.theme.choice)
        self.metrics.set_palette(palette)
        self.panel_layout.set_palette(palette)
        self.switcher.set_palette(palette)          # every page, the Chat page too

    # -- preferences -------------------------------------------------------------------------
    def save_prefs(self) -> None:
        save_window_prefs(self.ctx, self.side_panels, self.mode, self, self.panel_layout)

    # -- closing -----------------------------------------------------------------------------
    def shutdown(self) -> None:
        """Stop cleanly: keep partial replies, save preferences, close the engine."""
        if self._closed:
            return
        self._closed = True
        for dialog in (self.help, self.about):
            if dialog is not None:
                dialog.close()
        self.drafts.flush()
        self.build_probe.shutdown()
        self.model_panel.shutdown()                 # a running RPC server check
        self.switcher.shutdown()                    # the Chat page keeps its partial replies
        self.metrics.set_probe(None)
        self.save_prefs()
        self.theme.themeChanged.disconnect(self.apply_palette)
        self.ctx.client.shutdown()

    def closeEvent(self, event: QCloseEvent) -> None:
        self.shutdown()
        super().closeEvent(event)


def copy_selection() -> None:
    """Edit → Copy: copy what is selected in the focused widget, when it can copy."""
    widget = QApplication.focusWidget()
    copy = getattr(widget, "copy", None)
    if callable(copy):
        copy()
