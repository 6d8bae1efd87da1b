"""`parley --self-test --first-run`: the window as a person who just installed Parley meets it.

In a throw-away profile it opens the main window (on the display there is, else offscreen),
and checks that the welcome view is shown, that it offers no starter model the install does
not have, that "Show recommended models" lists recommended models from the hub (`make
package-check` points HF_ENDPOINT at a stand-in hub, packaging/first_run_hub.py), and that no
text in the window sends anyone to pip, make or the README. One line says how it went; exit
status 0 when it passed, 1 otherwise (routed here by app/shell/selftest.py). `--screenshot PNG`
saves the window as it was checked (`make screenshots` keeps the bundle's in docs/screenshots/).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from PySide6.QtCore import QCoreApplication
from PySide6.QtGui import QAction
from PySide6.QtWidgets import (
    QAbstractButton,
    QApplication,
    QComboBox,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QTextEdit,
    QWidget,
)

from app.engine.worker import STARTER
from app.shell.selftest import throwaway_profile
from app.shell.window import MainWindow
from inference.common.errors import ParleyError
from inference.common.install import developer_wording
from inference.library.starter import starter_installed

DEFAULT_TIMEOUT_S = 60.0


class FirstRunCheckError(ParleyError):
    """The first run is not what a new user should meet (the message says what)."""


def first_run_main(argv: Sequence[str]) -> int:
    parser = argparse.ArgumentParser(prog="parley --self-test --first-run",
                                     description="Check the window a person who just installed "
                                     "Parley meets.")
    parser.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT_S,
                        help="seconds to wait for the recommended list (default: %(default)s)")
    parser.add_argument("--screenshot", type=Path, metavar="PNG",
                        help="save the window, as it was checked, to this PNG file")
    args = parser.parse_args(list(argv))
    from inference.common.logs import configure_logging

    configure_logging(verbose=False)
    started = time.perf_counter()
    try:
        detail = run_first_run(args.timeout, args.screenshot)
    except FirstRunCheckError as exc:
        print(f"Parley first run: FAILED: {exc}")
        return 1
    except Exception as exc:          # report, don't crash: the line says what failed
        print(f"Parley first run: FAILED: {type(exc).__name__}: {exc}")
        return 1
    print(f"Parley first run: passed: {detail} in {time.perf_counter() - started:.1f} s")
    return 0


def run_first_run(timeout_s: float, screenshot: Path | None = None) -> str:
    """Open the window in a throw-away profile and check its first run (and save it to
    `screenshot` once checked)."""
    if not os.environ.get("QT_QPA_PLATFORM") and not (
            os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")
            or sys.platform in ("win32", "darwin")):
        os.environ["QT_QPA_PLATFORM"] = "offscreen"
    from app.shell.context import AppContext, default_engine_factory
    from app.shell.main import create_app
    from app.shell.theme import ThemeManager

    with throwaway_profile():
        app = create_app(["parley"])
        ctx = AppContext.create(default_engine_factory)
        try:
            window = MainWindow(ctx, ThemeManager(app, ctx.prefs.theme))
            window.resize(1600, 1000)
            window.show()
            try:
                detail = check_first_run(window, timeout_s)
                if screenshot is not None:
                    save_window(window, screenshot)
            finally:
                window.close()
                app.processEvents()
                window.deleteLater()
                app.processEvents()
        finally:
            ctx.close()
    return f"{detail} on {app.platformName()}"


def check_first_run(window: MainWindow, timeout_s: float = DEFAULT_TIMEOUT_S,
                    starter: bool | None = None) -> str:
    """The checks on a shown MainWindow; what was seen, or FirstRunCheckError with why.
    `starter`: whether the starter model is installed (default: ask the install)."""
    welcome, first_run, probe = window.welcome, window.first_run, window.build_probe
    if not wait_until(lambda: window.pages.currentWidget() is welcome, timeout_s):
        raise FirstRunCheckError("the window does not open on the welcome view")
    wait_until(lambda: probe.report is not None or bool(probe.error), timeout_s)
    has_starter = starter_installed() if starter is None else starter
    if not has_starter and not welcome.starter_button.isHidden():
        raise FirstRunCheckError("the welcome view offers the starter model, which this "
                                 "install does not have")
    if not has_starter and window.model_panel.picker.findData(STARTER) >= 0:
        raise FirstRunCheckError("the model picker offers the starter model, which this "
                                 "install does not have")
    if welcome.recommend_button.isHidden():
        raise FirstRunCheckError(f"no recommended models to ask for: {welcome.hub_line.text()}")
    welcome.recommend_button.click()
    if not wait_until(lambda: not first_run.checking, timeout_s):
        raise FirstRunCheckError(f"the hub did not answer in {timeout_s:.0f} s")
    rows, check = welcome.recommended.rows, first_run.last_check
    if not rows or check is None:
        raise FirstRunCheckError(f"no recommended model is offered: {welcome.hub_line.text()}")
    if any(not row.button.isEnabled() for row in rows):
        raise FirstRunCheckError("a recommended model's Download button is disabled")
    found = developer_texts(window)
    if found:
        raise FirstRunCheckError("the window gives developer advice: " + "; ".join(found[:3]))
    total = len(check.offers) + len(check.withdrawn)
    return (f"welcome view with {len(rows)} of {total} recommended models offered, no "
            "pip/make/README wording")


def save_window(window: QWidget, path: Path) -> None:
    """The window as drawn now, as a PNG (FirstRunCheckError when it cannot be written)."""
    QApplication.processEvents()
    path.parent.mkdir(parents=True, exist_ok=True)
    if not window.grab().save(str(path), "PNG"):
        raise FirstRunCheckError(f"could not save the screenshot to {path}")


def developer_texts(root: QWidget) -> list[str]:
    """Every text in `root` (labels, buttons, fields, tool tips, menus) that names a developer
    command, as "where: what"."""
    found: list[str] = []
    widgets: list[QWidget] = [root, *root.findChildren(QWidget)]
    for widget in widgets:
        for text in _texts(widget):
            words = developer_wording(text)
            if words:
                where = type(widget).__name__ + (f" #{widget.objectName()}"
                                                 if widget.objectName() else "")
                found.append(f"{', '.join(words)} in {where} ({text[:70]!r})")
    for action in root.findChildren(QAction):
        for text in (action.text(), action.toolTip(), action.statusTip()):
            if developer_wording(text):
                found.append(f"{', '.join(developer_wording(text))} in the menu ({text!r})")
    return found


def _texts(widget: QWidget) -> list[str]:
    texts = [widget.toolTip(), widget.accessibleName(), widget.accessibleDescription(),
             widget.whatsThis(), widget.windowTitle()]
    if isinstance(widget, (QLabel, QAbstractButton)):
        texts.append(widget.text())
    if isinstance(widget, (QLineEdit, QPlainTextEdit, QTextEdit)):
        texts.append(widget.placeholderText())
    if isinstance(widget, QComboBox):
        texts += [widget.itemText(i) for i in range(widget.count())]
    return [t for t in texts if t]


def wait_until(condition: Callable[[], bool], timeout_s: float) -> bool:
    """Process events until `condition` holds (True) or `timeout_s` passes (False)."""
    app = QCoreApplication.instance()
    deadline = time.monotonic() + timeout_s
    while True:
        if condition():
            return True
        if time.monotonic() >= deadline:
            return False
        if isinstance(app, QApplication):
            app.processEvents()
        time.sleep(0.01)
