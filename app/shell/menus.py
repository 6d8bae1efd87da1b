"""The menu bar (File, Edit, View, Help) and the one table of keyboard shortcuts.

Every shortcut the window has is made from `SHORTCUTS`, the table the Help dialog lists, so the
two cannot differ. Standard actions use `QKeySequence`'s standard keys (Ctrl+Q or Cmd+Q, F1 …),
with a written fallback where a platform has none (Preferences on Linux)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QActionGroup, QKeySequence
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QLabel,
    QMainWindow,
    QMenu,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from app.shell.pages import PAGES

Std = QKeySequence.StandardKey


@dataclass(frozen=True)
class Shortcut:
    """One keyboard shortcut: what it does, the platform's standard key (if it has one) and
    the written key used where the platform has none."""

    key: str                      # the action's name in this table
    what: str
    standard: QKeySequence.StandardKey | None = None
    fallback: str = ""

    def sequences(self) -> list[QKeySequence]:
        if self.standard is not None:
            keys = QKeySequence.keyBindings(self.standard)
            if keys:
                return keys
        return [QKeySequence(self.fallback)] if self.fallback else []

    def text(self) -> str:
        """The (first) keys as this platform writes them, e.g. "Ctrl+Q"."""
        keys = self.sequences()
        return keys[0].toString(QKeySequence.SequenceFormat.NativeText) if keys else ""


PAGE_KEYS = tuple(p.name for p in PAGES)
MODE_KEYS = ("chat", "text", "instruct")
SHORTCUTS: tuple[Shortcut, ...] = (
    Shortcut("new", "New conversation", Std.New, "Ctrl+N"),
    Shortcut("open", "Open a model file", Std.Open, "Ctrl+O"),
    Shortcut("quit", "Quit Parley", Std.Quit, "Ctrl+Q"),
    Shortcut("copy", "Copy the selection", Std.Copy, "Ctrl+C"),
    Shortcut("find", "Search the conversations", Std.Find, "Ctrl+F"),
    Shortcut("preferences", "Preferences (the settings panel)", Std.Preferences, "Ctrl+,"),
    Shortcut("prompt", "Show the prompt the model sees", None, "Ctrl+P"),
    Shortcut("stop", "Stop the reply, load or measurement; cancel an edit", None, "Esc"),
    *(Shortcut(f"mode:{m}", f"{m.capitalize()} mode", None, f"Ctrl+{i + 1}")
      for i, m in enumerate(MODE_KEYS)),
    *(Shortcut(f"page:{p.name}", f"Go to the {p.title} page", None, f"Alt+{i + 1}")
      for i, p in enumerate(PAGES)),
    Shortcut("panel:sidebar", "Show or hide the conversations", None, "Ctrl+B"),
    Shortcut("panel:panel", "Show or hide the settings and metrics", None, "Ctrl+Alt+B"),
    Shortcut("help", "Help: these shortcuts", Std.HelpContents, "F1"),
    Shortcut("send", "Send the message (in the message box)", None, "Return"),
    Shortcut("newline", "New line in the message box", None, "Shift+Return"),
    Shortcut("regenerate", "Regenerate the last reply (the earlier one is kept)", None,
             "Ctrl+R"),
    Shortcut("alt_prev", "Show a reply's previous alternative", None, "Alt+Left"),
    Shortcut("alt_next", "Show a reply's next alternative", None, "Alt+Right"),
    Shortcut("edit", "Edit the selected message of yours", None, "F2"),
)
# The composer's and the chat view's own keys: listed in Help, not made here.
LISTED_ONLY = frozenset({"send", "newline", "regenerate", "alt_prev", "alt_next", "edit"})
BY_KEY = {s.key: s for s in SHORTCUTS}
PANEL_ACTIONS = (("sidebar", "&Conversations"), ("panel", "&Settings and metrics"))


def shortcut(key: str) -> Shortcut:
    return BY_KEY[key]


@dataclass(frozen=True)
class MenuHandlers:
    """What the menu's actions do (the window's methods)."""

    new_conversation: Callable[[], None]
    open_model: Callable[[], None]
    quit: Callable[[], None]
    copy: Callable[[], None]
    find: Callable[[], None]
    preferences: Callable[[], None]
    show_prompt: Callable[[], None]
    stop: Callable[[], None]
    set_mode: Callable[[str], None]
    show_page: Callable[[str], None]
    set_theme: Callable[[str], None]
    help: Callable[[], None]
    about: Callable[[], None]
    toggle_panel: Callable[[str], None]       # "sidebar" | "panel" (panel_layout.Side)


class WindowMenus:
    """Builds the window's menu bar from `SHORTCUTS`; `actions` by the table's names."""

    def __init__(self, window: QMainWindow, handlers: MenuHandlers, theme: str) -> None:
        self.window = window
        self.actions: dict[str, QAction] = {}
        bar = window.menuBar()
        file_menu = bar.addMenu("&File")
        self._add(file_menu, "new", "&New conversation", handlers.new_conversation)
        self._add(file_menu, "open", "&Open model…", handlers.open_model)
        file_menu.addSeparator()
        quit_action = self._add(file_menu, "quit", "&Quit", handlers.quit)
        quit_action.setMenuRole(QAction.MenuRole.QuitRole)
        edit = bar.addMenu("&Edit")
        self._add(edit, "copy", "&Copy", handlers.copy)
        self._add(edit, "find", "&Find…", handlers.find)
        edit.addSeparator()
        prefs = self._add(edit, "preferences", "&Preferences…", handlers.preferences)
        prefs.setMenuRole(QAction.MenuRole.PreferencesRole)
        view = bar.addMenu("&View")
        for page in PAGES:
            self._add(view, f"page:{page.name}", page.title,
                      lambda k=page.name: handlers.show_page(k))
        view.addSeparator()
        for key in MODE_KEYS:
            self._add(view, f"mode:{key}", f"{key.capitalize()} mode",
                      lambda k=key: handlers.set_mode(k))
        self._add(view, "prompt", "Show &prompt", handlers.show_prompt)
        view.addSeparator()
        for key, label in PANEL_ACTIONS:
            action = self._add(view, f"panel:{key}", label,
                               lambda k=key: handlers.toggle_panel(k))
            action.setCheckable(True)
            action.setChecked(True)
        view.addSeparator()
        themes = view.addMenu("&Theme")
        self.theme_group = QActionGroup(window)
        self.theme_actions: dict[str, QAction] = {}
        for choice, label in (("system", "Follow the system"), ("light", "Light"),
                              ("dark", "Dark")):
            action = themes.addAction(label)
            action.setCheckable(True)
            action.setChecked(choice == theme)
            action.triggered.connect(lambda _=False, c=choice: handlers.set_theme(c))
            self.theme_group.addAction(action)
            self.theme_actions[choice] = action
        help_menu = bar.addMenu("&Help")
        self._add(help_menu, "help", "Parley &Help", handlers.help)
        about = help_menu.addAction("&About Parley", handlers.about)
        about.setMenuRole(QAction.MenuRole.AboutRole)
        self.actions["about"] = about
        stop = QAction("Stop", window)                 # no menu: Esc works everywhere
        stop.setShortcuts(shortcut("stop").sequences())
        stop.triggered.connect(handlers.stop)
        window.addAction(stop)
        self.actions["stop"] = stop

    def _add(self, menu: QMenu, key: str, label: str, slot: Callable[[], None]) -> QAction:
        action = menu.addAction(label)
        action.setShortcuts(shortcut(key).sequences())
        action.setToolTip(shortcut(key).what)
        action.triggered.connect(lambda _=False: slot())
        self.actions[key] = action
        return action

    def show_panels(self, shown: dict[str, bool]) -> None:
        """Tick the View menu's panel actions as the panels show (`shown` by Side value)."""
        for key, visible in shown.items():
            self.actions[f"panel:{key}"].setChecked(visible)

    def show_theme(self, choice: str) -> None:
        action = self.theme_actions.get(choice)
        if action is not None:
            action.setChecked(True)


class HelpDialog(QDialog):
    """Help → Parley Help (F1): every keyboard shortcut, from `SHORTCUTS`."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Parley Help")
        self.setObjectName("helpDialog")
        layout = QVBoxLayout(self)
        intro = QLabel("Keyboard shortcuts")
        intro.setObjectName("sectionHeading")
        layout.addWidget(intro)
        self.table = QTableWidget(len(SHORTCUTS), 2)
        self.table.setAccessibleName("Keyboard shortcuts")
        self.table.setHorizontalHeaderLabels(["Keys", "What it does"])
        self.table.verticalHeader().hide()
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        for row, entry in enumerate(SHORTCUTS):
            for column, text in enumerate((entry.text(), entry.what)):
                item = QTableWidgetItem(text)
                item.setFlags(Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable)
                self.table.setItem(row, column, item)
        self.table.resizeColumnsToContents()
        self.table.horizontalHeader().setStretchLastSection(True)
        layout.addWidget(self.table)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)
        self.resize(520, 480)

    def rows(self) -> list[tuple[str, str]]:
        return [(self.table.item(r, 0).text(), self.table.item(r, 1).text())
                for r in range(self.table.rowCount())]
