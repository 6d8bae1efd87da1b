"""Start the GUI: QApplication, theme, the main window, and (optionally) a model to load."""

from __future__ import annotations

import sys
from collections.abc import Sequence

from PySide6.QtCore import QCoreApplication, Qt
from PySide6.QtGui import QGuiApplication, QIcon
from PySide6.QtWidgets import QApplication

from .context import AppContext, default_engine_factory
from .theme import ThemeManager
from .window import MainWindow
from .worker import STARTER


def create_app(argv: Sequence[str] | None = None) -> QApplication:
    """The QApplication (created once), with Parley's names and style."""
    existing = QApplication.instance()
    if isinstance(existing, QApplication):
        app = existing
    else:
        QGuiApplication.setHighDpiScaleFactorRoundingPolicy(
            Qt.HighDpiScaleFactorRoundingPolicy.PassThrough)
        app = QApplication(list(argv or sys.argv[:1]))
    QCoreApplication.setApplicationName("Parley")
    QCoreApplication.setOrganizationName("Parley")
    QGuiApplication.setDesktopFileName("parley")
    app.setStyle("Fusion")
    icon = _icon()
    if icon is not None:
        app.setWindowIcon(icon)
    return app


def _icon() -> QIcon | None:
    """The app icon from resources/icons (a source checkout or a bundle), if there."""
    from pathlib import Path

    for folder in (Path(__file__).parent / "icons",
                   Path(__file__).parent.parent / "resources" / "icons"):
        files = sorted(folder.glob("parley-*.png"))
        if files:
            icon = QIcon()
            for path in files:
                icon.addFile(str(path))
            return icon
    return None


def run(model: str | None = None, argv: Sequence[str] | None = None) -> int:
    """Open the window; `model` is a GGUF path or "starter" to load at once."""
    app = create_app(argv)
    ctx = AppContext.create(default_engine_factory)
    theme = ThemeManager(app, ctx.prefs.theme)
    window = MainWindow(ctx, theme)
    window.show()
    if model:
        window.wiring.load_choice(STARTER if model == STARTER else model)
    try:
        return app.exec()
    finally:
        window.shutdown()
        ctx.store.close()
