"""Start the GUI: QApplication, theme, the main window, and (optionally) a model to load."""

from __future__ import annotations

import sys
from collections.abc import Sequence

from PySide6.QtCore import QCoreApplication, Qt
from PySide6.QtGui import QGuiApplication, QIcon
from PySide6.QtWidgets import QApplication, QStyleFactory

from app.engine.worker import STARTER
from app.shell.context import AppContext, default_engine_factory
from app.shell.theme import ThemeManager, style_for_platform
from app.shell.window import MainWindow
from inference.common.errors import ParleyError


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
    style = style_for_platform(sys.platform, QStyleFactory.keys())
    if style is not None:
        app.setStyle(style)
    icon = _icon()
    if icon is not None:
        app.setWindowIcon(icon)
    return app


def _icon() -> QIcon | None:
    """The app icon from resources/icons (a source checkout or a bundle), if there."""
    from pathlib import Path

    for folder in (Path(__file__).resolve().parents[2] / "resources" / "icons",):
        files = sorted(folder.glob("parley-*.png"))
        if files:
            icon = QIcon()
            for path in files:
                icon.addFile(str(path))
            return icon
    return None


def start_model(window: MainWindow, model: str) -> bool:
    """Load `model` at start-up, unless loading it took the engine down last time."""
    from inference.host.host import EngineHost
    from inference.library.starter import resolve_model

    crashed = EngineHost.crashed_at_load()
    try:
        wanted = resolve_model(model)
    except ParleyError as exc:
        window.banner.show_message(str(exc), "error")
        return False
    if crashed is not None and crashed.resolve() == wanted.resolve():
        window.model_panel.select(str(wanted))
        window.banner.show_message(
            f"Last time, loading {wanted.name} stopped the engine, so it was not loaded "
            "automatically. Press Load to try again, or lower the context size first.", "error")
        return False
    window.wiring.load_choice(STARTER if model == STARTER else model)
    return True


def run(model: str | None = None, argv: Sequence[str] | None = None) -> int:
    """Open the window; `model` is a GGUF path or "starter" to load at once."""
    app = create_app(argv)
    ctx = AppContext.create(default_engine_factory)
    theme = ThemeManager(app, ctx.prefs.theme)
    try:
        window = MainWindow(ctx, theme)
    except BaseException:
        ctx.close()                      # stop the engine's thread before the error leaves
        raise
    window.show()
    if model and start_model(window, model) and not window.banner.text():
        window.show_store_notice()       # loading hid the banner: say it again
    try:
        return app.exec()
    finally:
        window.shutdown()
        ctx.store.close()
