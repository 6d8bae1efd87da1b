"""Runs the real app window (offscreen), loads a model, sends one message and reports progress.

Used by tests/test_gui_crash.py, which SIGKILLs this process mid-reply. Prints, flushed:
`PID <engine pid>` once the model is loaded, then `LEN <unix time> <chars>` whenever the streamed
reply in the window grows.
"""

from __future__ import annotations

import sys
import time

from PySide6.QtCore import QTimer

from app.context import AppContext, default_engine_factory
from app.main import create_app
from app.theme import ThemeManager
from app.window import MainWindow


def main(model: str, message: str) -> int:
    app = create_app(["parley-test"])
    ctx = AppContext.create(default_engine_factory)
    window = MainWindow(ctx, ThemeManager(app, "light"))
    window.settings_panel.fields["temperature"].set_value(0.8)
    window.settings_panel.fields["max_tokens"].set_value(2000)
    window.model_panel.set_model_settings(4096, 0, n_threads=1)
    window.show()
    window.wiring.load_choice(model)
    state = {"sent": False, "length": 0}

    def poll() -> None:
        if not state["sent"] and ctx.client.loaded is not None:
            print(f"PID {ctx.client.pid}", flush=True)
            window.controller.send(message)
            state["sent"] = True
        rows = window.transcript.rowCount()
        if rows >= 2:
            length = len(window.transcript.message_at(rows - 1).content)
            if length != state["length"]:
                state["length"] = length
                print(f"LEN {time.time():.3f} {length}", flush=True)

    timer = QTimer()
    timer.timeout.connect(poll)
    timer.start(20)
    return app.exec()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2]))
