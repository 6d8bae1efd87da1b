"""The Server page on the real window: it starts a real `parley serve` child for the loaded model
(the window's engine is the scripted fake; the server loads the real starter model), the official
`openai` client talks to it on 127.0.0.1, each answer lands in the request log, and Stop (or
closing the window) leaves no process behind. Refusals are one line on the banner."""

from __future__ import annotations

import socket
from pathlib import Path

import psutil
import pytest

from app.server.page import NETWORK_HOST, ServerPage
from app.server.process import ServerState
from tests.support.gui_window import MakeWindow

pytestmark = pytest.mark.gui
START_TIMEOUT_MS = 90_000


def _server_page(qtbot, make_window: MakeWindow, model: Path | None) -> ServerPage:
    window = make_window()
    if model is not None:
        window.wiring.load_choice(str(model))
        qtbot.waitUntil(lambda: window.ctx.client.loaded is not None, timeout=10_000)
    page = window.switcher.page("server")
    assert isinstance(page, ServerPage)
    window.switcher.show("server")
    return page


def _banner_text(page: ServerPage) -> list[str]:
    said: list[str] = []
    page.errorOccurred.connect(said.append)
    return said


def test_the_page_serves_logs_each_request_and_stops(
        qtbot, make_window: MakeWindow, starter_model_path: Path) -> None:
    from openai import OpenAI

    page = _server_page(qtbot, make_window, starter_model_path)
    said = _banner_text(page)
    page.port.setValue(0)                        # any free port (the URL shows the real one)
    page.parallel.setValue(2)
    assert page.start()
    qtbot.waitUntil(lambda: page.process.state is not ServerState.STARTING,
                    timeout=START_TIMEOUT_MS)
    assert page.process.state is ServerState.RUNNING, said
    url = page.url.text()
    assert url.startswith("http://127.0.0.1:") and url.endswith("/v1")
    assert url in page.curl.toPlainText() and url in page.python.toPlainText()
    server_pid = page.process.pid
    client = OpenAI(base_url=url, api_key="none", timeout=60, max_retries=0)
    model_id = client.models.list().data[0].id
    assert model_id in page.curl.toPlainText()
    reply = client.chat.completions.create(
        model=model_id, messages=[{"role": "user", "content": "Count to three."}],
        max_tokens=8, temperature=0)
    qtbot.waitUntil(lambda: any(r.path == "/v1/chat/completions" for r in page.log.records),
                    timeout=10_000)
    record = next(r for r in page.log.records if r.path == "/v1/chat/completions")
    assert record.status == 200 and record.method == "POST"
    assert record.output_tokens == reply.usage.completion_tokens > 0
    assert record.prompt_tokens == reply.usage.prompt_tokens
    assert record.ttft_s is not None and record.ttft_s > 0
    row = [page.log.data(page.log.index(0, c)) for c in range(page.log.columnCount())]
    assert "POST /v1/chat/completions" in row and "200" in row
    qtbot.waitUntil(lambda: "tok/s" in page.throughput.text(), timeout=5_000)
    page.start_button.click()                  # Stop
    qtbot.waitUntil(lambda: page.process.state is ServerState.STOPPED, timeout=15_000)
    assert not psutil.pid_exists(server_pid) or \
        psutil.Process(server_pid).status() == psutil.STATUS_ZOMBIE
    assert page.url.text() == "" and page.start_button.text() == "Start server"
    assert not said, said


def test_a_busy_port_is_one_line_and_the_page_can_start_again(
        qtbot, make_window: MakeWindow, starter_model_path: Path) -> None:
    page = _server_page(qtbot, make_window, starter_model_path)
    said = _banner_text(page)
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        page.port.setValue(busy.getsockname()[1])
        assert page.start()
        qtbot.waitUntil(lambda: page.process.state is ServerState.STOPPED, timeout=30_000)
    assert len(said) == 1 and said[0].startswith("The server did not start: cannot listen on")
    assert "\n" not in said[0] and "Traceback" not in said[0]
    assert page.start_button.isEnabled() and page.port.isEnabled()


def test_without_a_model_the_page_says_to_load_one(qtbot, make_window: MakeWindow) -> None:
    page = _server_page(qtbot, make_window, None)
    said = _banner_text(page)
    assert not page.start()
    assert said == ["Load a model on the Chat page first: the server serves the loaded model."]
    assert page.process.state is ServerState.STOPPED
    assert "No model loaded" in page.model_label.text()


def test_serving_the_network_needs_a_key_and_the_key_never_goes_on_the_command_line(
        qtbot, make_window: MakeWindow, starter_model_path: Path) -> None:
    page = _server_page(qtbot, make_window, starter_model_path)
    said = _banner_text(page)
    page.reach.setCurrentIndex(page.reach.findData(NETWORK_HOST))
    assert len(page.key.text()) >= 24             # a key is made for you
    page.key.clear()
    assert not page.start()
    assert said == ["Serving to other devices needs an API key: press New key, or type one."]
    page.new_key.click()
    key = page.key.text()
    assert key and f"Bearer {key}" in page.curl.toPlainText()
    assert f'api_key="{key}"' in page.python.toPlainText()
    started: list = []
    page.process.start = started.append            # look at the command, start nothing
    assert page.start()
    command = started[0]
    assert key not in " ".join(command.arguments)
    assert ("PARLEY_API_KEY", key) in command.environment
    assert "--host" in command.arguments and NETWORK_HOST in command.arguments


def test_closing_the_window_stops_the_server(
        qtbot, make_window: MakeWindow, starter_model_path: Path) -> None:
    page = _server_page(qtbot, make_window, starter_model_path)
    page.port.setValue(0)
    assert page.start()
    qtbot.waitUntil(lambda: page.process.pid > 0, timeout=10_000)
    pid = page.process.pid
    tree = [pid]
    qtbot.waitUntil(lambda: page.process.state is not ServerState.STARTING,
                    timeout=START_TIMEOUT_MS)
    try:
        tree += [c.pid for c in psutil.Process(pid).children(recursive=True)]
    except psutil.NoSuchProcess:
        pass
    page.window().close()
    assert page.process.state is ServerState.STOPPED
    procs = []
    for p in tree:
        try:
            procs.append(psutil.Process(p))
        except psutil.NoSuchProcess:
            pass
    _gone, alive = psutil.wait_procs(procs, timeout=10)
    assert not alive, alive


def test_the_request_log_shows_each_column_whole(qtbot, make_window: MakeWindow) -> None:
    """Rows added while the page shows widen the columns to their text (the first columns kept
    their titles' width and clipped the time and the endpoint)."""
    import time

    from inference.server.request_log import RequestRecord

    page = _server_page(qtbot, make_window, None)
    page.window().resize(1440, 900)
    qtbot.wait(50)
    for _ in range(3):
        page.log.add(RequestRecord(time.time(), "POST", "/v1/chat/completions", 200,
                                   prompt_tokens=1234, cached_tokens=1000, output_tokens=32,
                                   ttft_s=0.19, gen_tps=17.7, duration_s=1.0, finish="length"))
    qtbot.wait(50)
    table = page.table
    last = page.log.columnCount() - 1
    for column in range(last):
        assert table.columnWidth(column) >= table.sizeHintForColumn(column), column
    assert table.columnWidth(last) > table.sizeHintForColumn(last)    # the last one stretches
