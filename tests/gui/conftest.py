"""Fixtures of the GUI tests: `make_window`, a real MainWindow on a FakeEngine."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from app.engine.build_read import BuildReader
from app.shell.context import AppContext
from app.shell.theme import ThemeManager
from app.shell.window import MainWindow
from tests.support.fake_engine import FakeEngine
from tests.support.gui_window import MakeWindow, this_build


@pytest.fixture(name="make_window")
def make_window_fixture(qtbot, qapp) -> Iterator[MakeWindow]:
    """`make(engine, theme, build, resolver)`: a shown MainWindow on a FakeEngine (the same
    PARLEY_HOME each call in a test, so a second call is a restart). `theme=None` takes the theme
    from the preferences, as the app does; `build` replaces the build reader (see `gpu_build`);
    `resolver` turns a model choice into its path."""
    windows: list[MainWindow] = []

    def make(engine: FakeEngine | None = None, theme: str | None = "light",
             build: BuildReader = this_build,
             resolver: Callable[[str], Path] = Path) -> MainWindow:
        eng = engine or FakeEngine()
        ctx = AppContext.create(lambda: eng, resolver=resolver, build_reader=build)
        window = MainWindow(ctx, ThemeManager(qapp, ctx.prefs.theme if theme is None
                                              else theme))
        qtbot.addWidget(window)
        window.show()
        windows.append(window)
        return window

    yield make
    for window in windows:
        window.close()
        window.ctx.store.close()
