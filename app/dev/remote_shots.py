"""The remote-engine screenshots (`make screenshots`): the Engines dialog connected to a real
llama-server on 127.0.0.1 ("engines.png") and a chat answered through it ("chat-remote.png").
llama-server is the one tests/perf/build_llama_tools.sh builds from the vendored llama.cpp
(`make screenshots` builds it first); without it these two are left out, and it says so."""

from __future__ import annotations

import socket
import subprocess
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from app.shell.window import MainWindow

ROOT = Path(__file__).resolve().parents[2]
ENGINE_NAME = "workstation"
START_S = 120.0


def llama_server_binary() -> Path:
    import llama_cpp

    return (ROOT / "tests" / "perf" / "_build" / f"llama.cpp-{llama_cpp.__version__}" / "cmake"
            / "bin" / "llama-server")


def start_llama_server(model: Path) -> tuple[subprocess.Popen[bytes], str]:
    """llama-server on a free port of 127.0.0.1 with `model`, once /health says ok."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    process = subprocess.Popen(
        [str(llama_server_binary()), "-m", str(model), "--host", "127.0.0.1", "--port",
         str(port), "-c", "2048", "-t", "2", "-np", "1", "--alias", model.stem],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + START_S
    while time.monotonic() < deadline and process.poll() is None:
        try:
            with urllib.request.urlopen(f"{url}/health", timeout=2) as answer:
                if answer.status == 200:
                    return process, url
        except OSError:
            time.sleep(0.2)
    process.kill()
    raise RuntimeError(f"llama-server did not start within {START_S:.0f} s")


def remote_shots(window: MainWindow, model: Path, out: Path, wait: Callable[..., None],
                 shot: Callable[[str], None]) -> None:
    """Save the Engines dialog as Test connection answered, then a chat through the engine."""
    if not llama_server_binary().is_file():
        print("engines.png, chat-remote.png left out: no llama-server "
              "(bash tests/perf/build_llama_tools.sh)")
        return
    process, url = start_llama_server(model)
    try:
        panel = window.model_panel
        dialog = panel.engine.open_dialog()
        assert dialog is not None
        dialog.new_engine()
        dialog.name.setText(ENGINE_NAME)
        dialog.url.setText(url)
        dialog.test_button.click()
        wait(lambda: dialog.status.text().startswith("Connected"))
        dialog.grab().save(str(out / "engines.png"))       # as Test connection answered
        print(out / "engines.png")
        assert dialog.save_engine()
        dialog.accept()
        panel.engine.select(ENGINE_NAME)
        panel.load_button.click()
        wait(lambda: window.ctx.client.state == "idle"          # the local model unloaded,
             and f"remote: {ENGINE_NAME}" in panel.status.text())  # the remote connected
        window.wiring.new_conversation()
        window.composer.set_text("In two sentences: why run a model on another machine?")
        window.composer.submit()
        wait(lambda: window.transcript.rowCount() == 2 and not window.controller.busy
             and bool(window.transcript.message_at(1).content))
        shot("chat-remote")
    finally:
        process.terminate()
        process.wait(15)
