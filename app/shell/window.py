"""MainWindow: page rail | pages. The Chat page is sidebar | mode pages (welcome, chat, text,
instruct) | settings, info, metrics; Library, Hub, Perplexity and Compare are in pages.py."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QCloseEvent, QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QButtonGroup,
    QHBoxLayout,
    QLabel,
    QMainWindow,
    QPushButton,
    QScrollArea,
    QSplitter,
    QStackedWidget,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from app.chat.composer import Composer
from app.chat.controller import ChatController
from app.chat.instruct_mode import InstructModePage
from app.chat.mode_run import ModeRun
from app.chat.render.view import ChatView
from app.chat.request_builder import RunSettings, chat_request
from app.chat.sidebar import Sidebar
from app.chat.text_mode import TextModePage
from app.chat.transcript import TranscriptModel
from app.data.drafts import DraftKeeper
from app.engine.build_probe import BuildProbe
from app.settings.metrics_panel import MetricsPanel
from app.settings.model_info import ModelInfoPanel
from app.settings.model_panel import ModelPanel
from app.settings.settings_panel import SettingsPanel
from app.shell.about import AboutDialog
from app.shell.banner import Banner
from app.shell.context import AppContext
from app.shell.pages import PageNav, PageSwitcher
from app.shell.theme import Palette, ThemeManager
from app.shell.welcome import WelcomePage
from app.shell.window_prefs import restore_window_prefs, save_window_prefs
from app.shell.wiring import WindowWiring
from inference.engine.requests import GenerationRequest, Mode

MODES = (Mode.CHAT, Mode.TEXT, Mode.INSTRUCT)
MODE_HELP = {
    Mode.CHAT: "Chat: a multi-turn conversation through the model's chat template.",
    Mode.TEXT: "Text: the model continues your text in place; no template, no system prompt.",
    Mode.INSTRUCT: "Instruct: system prompt + one instruction → one response, no history.",
}


class MainWindow(QMainWindow):
    def __init__(self, ctx: AppContext, theme: ThemeManager) -> None:
        super().__init__()
        self.ctx = ctx
        self.theme = theme
        self.setWindowTitle("Parley")
        self.setObjectName("mainWindow")
        self.resize(1360, 860)
        self.transcript = TranscriptModel(self)
        self.controller = ChatController(ctx.store, self.transcript, ctx.client,
                                         self.run_settings, self)
        self.text_run = ModeRun(ctx.store, ctx.client, Mode.TEXT.value, self)
        self.instruct_run = ModeRun(ctx.store, ctx.client, Mode.INSTRUCT.value, self)
        self._closed = False
        self.about: AboutDialog | None = None
        self.build_probe = BuildProbe(ctx.build_reader, self)
        self._build()
        self.wiring = WindowWiring(self)
        self.switcher = PageSwitcher(self)
        restore_window_prefs(self)
        self.drafts = DraftKeeper(self, ctx.drafts)
        self.drafts.restore()
        self.build_probe.ready.connect(self.model_panel.set_build)
        self.build_probe.start()
        theme.themeChanged.connect(self.apply_palette)
        self.apply_palette(theme.palette)
        self.wiring.update_page()

    # -- construction ------------------------------------------------------------------------
    def _build(self) -> None:
        self.sidebar = Sidebar(self.ctx.store)
        self.banner = Banner()
        self.welcome = WelcomePage(self.ctx.models_dir)
        self.chat_view = ChatView()
        self.chat_view.setModel(self.transcript)
        self.composer = Composer()
        chat_page = QWidget()
        chat_page.setObjectName("chatPage")
        chat_layout = QVBoxLayout(chat_page)
        chat_layout.setContentsMargins(0, 0, 0, 0)
        chat_layout.setSpacing(0)
        chat_layout.addWidget(self.chat_view, 1)
        chat_layout.addWidget(self.composer)
        self.chat_page = chat_page
        self.text_page = TextModePage(self.text_run, self.run_settings)
        self.instruct_page = InstructModePage(self.instruct_run, self.run_settings)
        self.pages = QStackedWidget()
        for page in (self.welcome, self.chat_page, self.text_page, self.instruct_page):
            self.pages.addWidget(page)
        center = QWidget()
        center.setObjectName("center")
        center_layout = QVBoxLayout(center)
        center_layout.setContentsMargins(0, 0, 0, 0)
        center_layout.setSpacing(0)
        center_layout.addWidget(self._top_bar())
        center_layout.addWidget(self.pages, 1)
        self.model_panel = ModelPanel(self.ctx.models_dir)
        self.settings_panel = SettingsPanel(self.ctx.prefs_store)
        self.model_info = ModelInfoPanel()
        self.metrics = MetricsPanel()
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
        right.addWidget(self.metrics)
        right.setStretchFactor(0, 3)
        right.setStretchFactor(1, 2)
        right.setChildrenCollapsible(False)
        self.splitter = QSplitter(Qt.Orientation.Horizontal)
        self.splitter.setObjectName("mainSplitter")
        self.splitter.addWidget(self.sidebar)
        self.splitter.addWidget(center)
        self.splitter.addWidget(right)
        self.splitter.setStretchFactor(1, 1)
        self.splitter.setSizes([240, 740, 380])
        self.splitter.setChildrenCollapsible(False)
        self.sidebar.setMinimumWidth(190)
        right.setMinimumWidth(320)
        self.right_splitter = right
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
        QShortcut(QKeySequence("Esc"), self, self.escape)
        QShortcut(QKeySequence("Ctrl+N"), self, self.sidebar.newRequested.emit)
        QShortcut(QKeySequence("Ctrl+F"), self, self.sidebar.search.setFocus)
        QShortcut(QKeySequence("Ctrl+P"), self, self.wiring_show_prompt)
        QShortcut(QKeySequence("F1"), self, self.show_about)
        self.nav.aboutRequested.connect(self.show_about)

    def _top_bar(self) -> QWidget:
        bar = QWidget()
        bar.setObjectName("topBar")
        row = QHBoxLayout(bar)
        row.setContentsMargins(16, 8, 12, 8)
        row.setSpacing(4)
        self.mode_group = QButtonGroup(self)
        self.mode_buttons: dict[Mode, QPushButton] = {}
        for i, mode in enumerate(MODES):
            button = QPushButton(mode.value.capitalize())
            button.setObjectName("modeButton")
            button.setCheckable(True)
            button.setAccessibleName(f"{mode.value.capitalize()} mode")
            button.setToolTip(f"{MODE_HELP[mode]} (Ctrl+{i + 1})")
            self.mode_group.addButton(button, i)
            self.mode_buttons[mode] = button
            row.addWidget(button)
            QShortcut(QKeySequence(f"Ctrl+{i + 1}"), self,
                      lambda m=mode: self.set_mode(m))
        self.mode_group.idClicked.connect(lambda i: self.set_mode(MODES[i]))
        row.addSpacing(14)
        self.template_label = QLabel("")
        self.template_label.setObjectName("templateLabel")
        self.template_label.setAccessibleName("Prompt template in use")
        row.addWidget(self.template_label, 1)
        self.prompt_button = QPushButton("Show prompt")
        self.prompt_button.setAccessibleName("Show the exact rendered prompt")
        self.prompt_button.setToolTip("See the exact text the model will be given (Ctrl+P)")
        self.prompt_button.clicked.connect(self.wiring_show_prompt)
        row.addWidget(self.prompt_button)
        return bar

    # -- state -------------------------------------------------------------------------------
    @property
    def mode(self) -> Mode:
        return MODES[max(self.mode_group.checkedId(), 0)]

    def set_mode(self, mode: Mode) -> None:
        self.mode_buttons[mode].setChecked(True)
        self.ctx.prefs.mode = mode.value
        self.wiring.update_page()

    def run_settings(self) -> RunSettings:
        loaded = self.ctx.client.loaded
        return RunSettings(sampling=self.settings_panel.sampling(),
                           system_prompt=self.settings_panel.system_prompt_text(),
                           model=loaded.config.path.name if loaded else "")

    def preview_request(self) -> GenerationRequest | None:
        """What the current mode would send now (for "Show prompt"), or None."""
        if self.mode is Mode.TEXT:
            return self.text_page.preview_request()
        if self.mode is Mode.INSTRUCT:
            return self.instruct_page.preview_request()
        history = self.controller.history()
        if self.composer.text().strip():
            history.append(("user", self.composer.text()))
        return chat_request(history, self.run_settings()) if history else None

    def wiring_show_prompt(self) -> None:
        self.wiring.show_prompt()

    def escape(self) -> None:
        """The window's one Esc handler: stop what runs (a reply in any mode, a load, a
        measurement); otherwise cancel editing a message."""
        if self.controller.busy:
            self.controller.stop()
        elif self.text_run.busy or self.instruct_run.busy:
            self.text_run.stop()
            self.instruct_run.stop()
        elif self.ctx.client.state in ("loading", "measuring"):
            self.ctx.client.stop()
        elif self.composer.editing_row >= 0:
            self.composer.clear()

    def show_about(self) -> None:
        """Help → About: versions, the llama.cpp build and the data folders (F1)."""
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
        self.chat_view.set_palette(palette)
        self.metrics.set_palette(palette)
        self.sidebar.set_palette(palette)
        self.text_page.set_palette(palette)
        self.switcher.set_palette(palette)

    # -- preferences -------------------------------------------------------------------------
    def save_prefs(self) -> None:
        save_window_prefs(self)

    # -- closing -----------------------------------------------------------------------------
    def shutdown(self) -> None:
        """Stop cleanly: keep partial replies, save preferences, close the engine."""
        if self._closed:
            return
        self._closed = True
        self.drafts.flush()
        self.build_probe.shutdown()
        self.controller.shutdown()
        self.text_run.shutdown()
        self.instruct_run.shutdown()
        self.metrics.set_probe(None)
        self.switcher.shutdown()
        self.save_prefs()
        self.theme.themeChanged.disconnect(self.apply_palette)
        self.ctx.client.shutdown()

    def closeEvent(self, event: QCloseEvent) -> None:
        self.shutdown()
        super().closeEvent(event)
