"""Runs the real app window (offscreen), loads a model, sends a message and reports progress.

Used by tests/gui/test_crash.py, which SIGKILLs this process mid-reply. Prints, flushed:
`PID <engine pid>` once the model is loaded, `SENT <text>` for each message sent, then
`LEN <unix time> <chars>` whenever the streamed reply in the window grows. A sampled reply may end
(end of text) before the test has seen enough of it; then the driver sends `FOLLOW_UP` in the same
conversation, so there is always a reply streaming to interrupt.
"""

from __future__ import annotations

import sys
import time

from PySide6.QtCore import QTimer

from app.shell.context import AppContext, default_engine_factory
from app.shell.main import create_app
from app.shell.theme import ThemeManager
from app.shell.window import MainWindow

FOLLOW_UP = "Go on with the story, in much more detail."


def main(model: str, message: str) -> int:
    app = create_app(["parley-test"])
    ctx = AppContext.create(default_engine_factory)
    window = MainWindow(ctx, ThemeManager(app, "light"))
    window.settings_panel.fields["temperature"].set_value(0.8)
    window.settings_panel.fields["max_tokens"].set_value(2000)
    window.model_panel.set_model_settings(4096, 0, n_threads=1)
    window.show()
    window.wiring.load_choice(model)
    state = {"pid_told": False, "length": 0}

    def send(text: str) -> None:
        if window.controller.send(text):
            state["length"] = 0
            print(f"SENT {text}", flush=True)

    def poll() -> None:
        if ctx.client.loaded is None:
            return
        if not state["pid_told"]:
            print(f"PID {ctx.client.pid}", flush=True)
            state["pid_told"] = True
            send(message)
            return
        if not window.controller.busy:
            send(FOLLOW_UP)            # the last reply ended before the kill: start another
            return
        rows = window.transcript.rowCount()
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
