"""Steps the GUI tests share: load the fake model, send and wait, the build readers.

The `make_window` fixture itself is in tests/gui/conftest.py. The only fake besides the engine is
the GPU: `gpu_build()` reports this llama.cpp build as one that offloads (this machine's cannot).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

from PySide6.QtCore import Qt

from app.engine.build_read import BuildReader, BuildReport, read_build
from app.shell.window import MainWindow

# -- the window ------------------------------------------------------------------------------

MakeWindow = Callable[..., MainWindow]
FAKE_MODEL = "/models/fake.gguf"


def this_build(_cancel: object = None) -> BuildReport:
    """The real build report of this machine's llama.cpp, read in this process."""
    return read_build()


def gpu_build(free_vram: int = 8 << 30) -> BuildReader:
    """A build reader that says the build offloads to a CUDA GPU with `free_vram` free."""
    def read(_cancel: object) -> BuildReport:
        info = dataclasses.replace(read_build().info, gpu_backend="CUDA",
                                   backends=("CPU", "CUDA"))
        return BuildReport(info, free_vram)
    return read


def load_fake(qtbot, window: MainWindow, model: str = FAKE_MODEL) -> None:
    window.wiring.load_choice(model)
    qtbot.waitUntil(lambda: window.ctx.client.loaded is not None
                    and window.ctx.client.state == "idle", timeout=5000)


def send_and_wait(qtbot, window: MainWindow, text: str) -> None:
    window.composer.set_text(text)
    qtbot.keyClick(window.composer.input, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: not window.controller.busy, timeout=5000)


def wait_build_known(qtbot, window: MainWindow) -> None:
    qtbot.waitUntil(lambda: window.build_probe.report is not None, timeout=20_000)
