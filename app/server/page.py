"""The Server page: serve the loaded model over an OpenAI-compatible API (`parley serve`).

Start / Stop, who may reach it (this computer, or the network with an API key), port and
parallel slots; the base URL and curl / Python examples to copy; the throughput now; and a log of
each request answered (time, endpoint, tokens, TTFT, tokens/s, how it ended). The server is a
child process (app/server/process.py) that loads its own copy of the model with the Chat page's
settings, so chatting goes on beside it.
"""

from __future__ import annotations

import os
import secrets
import tempfile
from pathlib import Path
from typing import Any

from PySide6.QtCore import QTimer, Signal
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import (
    QComboBox,
    QFormLayout,
    QFrame,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QScrollArea,
    QSpinBox,
    QTableView,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from app.engine.client import EngineClient
from app.server.log_model import RequestLogModel
from app.server.process import ServerProcess, ServerState
from app.server.snippets import curl_example, python_example
from app.shell.theme import Palette
from inference.common.errors import ParleyError
from inference.engine.config import ModelConfig
from inference.engine.template_source import TemplateKind
from inference.server.command import serve_command
from inference.server.config import SERVER_LIMITS, ServerConfig
from inference.server.request_log import THROUGHPUT_WINDOW_S, throughput_now

LOCAL_HOST, NETWORK_HOST = "127.0.0.1", "0.0.0.0"
DEFAULT_PORT = 8080
MAX_OUTPUT_LINES = 500          # the server's own lines kept on the page
TICK_MS = 1000                  # how often "throughput now" is recomputed
STATE_TEXT = {ServerState.STOPPED: "Stopped", ServerState.STARTING: "Starting… (loading the model)",
              ServerState.RUNNING: "Running", ServerState.STOPPING: "Stopping…"}


class ServerPage(QWidget):
    errorOccurred = Signal(str)

    def __init__(self, client: EngineClient, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.client = client
        self.process = ServerProcess(self)
        self.log = RequestLogModel(self)
        self._template_file: Path | None = None
        self._model_id = ""
        self._build()
        self.process.stateChanged.connect(self._show_state)
        self.process.ready.connect(self._ready)
        self.process.failed.connect(self._failed)
        self.process.requestLogged.connect(self._logged)
        self.process.logLine.connect(self.output.appendPlainText)
        for signal in (client.modelLoaded, client.modelUnloaded, client.stateChanged):
            signal.connect(self._show_model)
        self._tick = QTimer(self, interval=TICK_MS)
        self._tick.timeout.connect(self._show_throughput)
        self._show_model()
        self._show_state(ServerState.STOPPED)

    # -- the page ----------------------------------------------------------------------------
    def _build(self) -> None:
        scroll = QScrollArea()              # a short window scrolls the page, never squeezes it
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        body = QWidget()
        scroll.setWidget(body)
        page = QVBoxLayout(self)
        page.setContentsMargins(0, 0, 0, 0)
        page.addWidget(scroll)
        outer = QVBoxLayout(body)
        outer.setContentsMargins(16, 12, 16, 12)
        title = QLabel("Local server")
        title.setObjectName("pageTitle")
        intro = QLabel("Other programs — editors, agents, scripts, notebooks — use the model "
                       "through an OpenAI-compatible API. The server loads its own copy of the "
                       "model with the Chat page's settings, so you can chat beside it.")
        intro.setWordWrap(True)
        intro.setObjectName("mutedLabel")
        outer.addWidget(title)
        outer.addWidget(intro)
        form = QFormLayout()
        self.model_label = QLabel()
        self.model_label.setWordWrap(True)
        self.reach = QComboBox()
        self.reach.addItem("This computer only (127.0.0.1)", LOCAL_HOST)
        self.reach.addItem("Other devices on the network (needs an API key)", NETWORK_HOST)
        self.reach.setAccessibleName("Reachable from")
        self.reach.currentIndexChanged.connect(self._reach_changed)
        self.port = QSpinBox()
        self.port.setRange(0, 65535)
        self.port.setSpecialValueText("any free port")
        self.port.setValue(DEFAULT_PORT)
        self.port.setAccessibleName("Port")
        self.parallel = QSpinBox()
        self.parallel.setRange(int(SERVER_LIMITS["parallel"].low),
                               int(SERVER_LIMITS["parallel"].high))
        self.parallel.setValue(4)
        self.parallel.setAccessibleName("Parallel requests")
        self.parallel.setToolTip("Requests generated at once, each in its own slot of one "
                                 "context; more wait in a queue. Aggregate tokens/s grows with "
                                 "slots while each request gets slower.")
        self.key = QLineEdit()
        self.key.setEchoMode(QLineEdit.EchoMode.PasswordEchoOnEdit)
        self.key.setPlaceholderText("none (this computer only)")
        self.key.setAccessibleName("API key")
        self.key.setToolTip("Clients send it as 'Authorization: Bearer KEY'. Not saved.")
        self.new_key = QPushButton("New key")
        self.new_key.clicked.connect(lambda: self.key.setText(secrets.token_urlsafe(24)))
        key_row = QHBoxLayout()
        key_row.addWidget(self.key, 1)
        key_row.addWidget(self.new_key)
        form.addRow("Model", self.model_label)
        form.addRow("Reachable from", self.reach)
        form.addRow("Port", self.port)
        form.addRow("Parallel requests", self.parallel)
        form.addRow("API key", key_row)
        outer.addLayout(form)
        run_row = QHBoxLayout()
        self.start_button = QPushButton("Start server")
        self.start_button.setObjectName("primaryButton")
        self.start_button.clicked.connect(self._start_or_stop)
        self.status = QLabel()
        self.status.setAccessibleName("Server status")
        self.throughput = QLabel()
        self.throughput.setToolTip(f"Tokens generated per second by all requests together over "
                                   f"the last {THROUGHPUT_WINDOW_S:g} s")
        run_row.addWidget(self.start_button)
        run_row.addWidget(self.status, 1)
        run_row.addWidget(self.throughput)
        outer.addLayout(run_row)
        url_row = QHBoxLayout()
        self.url = QLineEdit()
        self.url.setReadOnly(True)
        self.url.setAccessibleName("Base URL")
        self.url.setPlaceholderText("the base URL appears here once the server runs")
        self.copy_url = QPushButton("Copy URL")
        self.copy_url.clicked.connect(lambda: self._copy(self.url.text()))
        url_row.addWidget(QLabel("Base URL"))
        url_row.addWidget(self.url, 1)
        url_row.addWidget(self.copy_url)
        outer.addLayout(url_row)
        self.examples = QTabWidget()
        self.curl = self._example_box()
        self.python = self._example_box()
        self.curl.setAccessibleName("Example: curl")
        self.python.setAccessibleName("Example: Python with the openai package")
        self.examples.addTab(self.curl, "curl")
        self.examples.addTab(self.python, "Python (openai)")
        self.copy_example = QPushButton("Copy example")
        self.copy_example.clicked.connect(
            lambda: self._copy(self.examples.currentWidget().toPlainText()))  # type: ignore[attr-defined]
        self.examples.setCornerWidget(self.copy_example)
        self.examples.setMaximumHeight(190)
        self.examples.setMinimumHeight(150)
        outer.addWidget(self.examples)
        self.table = QTableView()
        self.table.setModel(self.log)
        self.table.setAccessibleName("Requests answered")
        self.table.verticalHeader().hide()
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setStretchLastSection(True)
        # The header sizes its sections to their contents only at a layout of its own, which a
        # new row does not always start: without this the first columns kept the width of
        # their titles and clipped "13:05:12" and "POST /v1/chat/completions".
        self.log.rowsInserted.connect(
            lambda *_: header.resizeSections())
        self.output = QPlainTextEdit()
        self.output.setReadOnly(True)
        self.output.setMaximumBlockCount(MAX_OUTPUT_LINES)
        self.output.setAccessibleName("Server output")
        logs = QTabWidget()
        logs.setMinimumHeight(180)
        logs.addTab(self.table, "Requests")
        logs.addTab(self.output, "Server output")
        outer.addWidget(logs, 1)
        self._show_examples()
        self.key.textChanged.connect(self._show_examples)
        self.port.valueChanged.connect(self._show_examples)

    def _example_box(self) -> QPlainTextEdit:
        box = QPlainTextEdit()
        box.setReadOnly(True)
        box.setObjectName("codeExample")
        return box

    # -- starting and stopping ---------------------------------------------------------------
    def _start_or_stop(self) -> None:
        if self.process.state is ServerState.STOPPED:
            self.start()
        else:
            self.process.stop()

    def start(self) -> bool:
        """Start serving the loaded model; False (and one line on the banner) when it cannot."""
        loaded = self.client.loaded
        if loaded is None:
            self.errorOccurred.emit("Load a model on the Chat page first: the server serves "
                                    "the loaded model.")
            return False
        network = self.reach.currentData() == NETWORK_HOST
        if network and not self.key.text().strip():
            self.errorOccurred.emit("Serving to other devices needs an API key: press New key, "
                                    "or type one.")
            return False
        try:
            config = ServerConfig(host=str(self.reach.currentData()), port=self.port.value(),
                                  parallel=self.parallel.value(),
                                  api_key=self.key.text().strip() or None)
            command = serve_command(loaded.config, config,
                                    template_file=self._write_template(loaded.config))
        except (ParleyError, OSError) as err:
            self.errorOccurred.emit(f"The server cannot start: {err}")
            return False
        self.log.clear()
        self.output.clear()
        self.process.start(command)
        return True

    def _write_template(self, model: ModelConfig) -> Path | None:
        """The user's own chat template, written where `parley serve` can read it."""
        if model.template.kind is not TemplateKind.CUSTOM:
            return None
        if self._template_file is None:
            handle, name = tempfile.mkstemp(prefix="parley-serve-", suffix=".jinja")
            os.close(handle)
            self._template_file = Path(name)
        self._template_file.write_text(model.template.text, encoding="utf-8")
        return self._template_file

    def _ready(self, url: str, model_id: str) -> None:
        self._model_id = model_id
        shown = url.replace(f"//{NETWORK_HOST}:", "//<this computer's address>:")
        self.url.setText(shown)
        self._show_examples()

    def _failed(self, message: str) -> None:
        self.errorOccurred.emit(message)

    def _logged(self, record: Any) -> None:
        self.log.add(record)
        self._show_throughput()

    # -- showing -----------------------------------------------------------------------------
    def _show_state(self, state: ServerState) -> None:
        running = state is not ServerState.STOPPED
        self.start_button.setText("Start server" if not running else "Stop server")
        self.start_button.setEnabled(state is not ServerState.STOPPING)
        for widget in (self.reach, self.port, self.parallel, self.key, self.new_key):
            widget.setEnabled(not running)
        self.status.setText(STATE_TEXT[state])
        if state is ServerState.RUNNING:
            self._tick.start()
        elif state is ServerState.STOPPED:
            self._tick.stop()
            self.url.clear()
            self.throughput.setText("")
        self._show_examples()

    def _show_model(self, *_args: object) -> None:
        loaded = self.client.loaded
        if loaded is None:
            self.model_label.setText("No model loaded: load one on the Chat page first.")
        else:
            cfg = loaded.config
            self.model_label.setText(f"{cfg.path.name} · context {cfg.n_ctx:,} · "
                                     f"{cfg.n_gpu_layers} GPU layers")
            self.model_label.setToolTip(str(cfg.path))

    def _reach_changed(self) -> None:
        network = self.reach.currentData() == NETWORK_HOST
        self.key.setPlaceholderText("required: press New key, or type one" if network
                                    else "none (this computer only)")
        if network and not self.key.text().strip():
            self.key.setText(secrets.token_urlsafe(24))

    def _show_examples(self) -> None:
        base = self.url.text() or f"http://127.0.0.1:{self.port.value()}/v1"
        model = self._model_id or "MODEL"
        key = self.key.text().strip() or None
        self.curl.setPlainText(curl_example(base, model, key))
        self.python.setPlainText(python_example(base, model, key))

    def _show_throughput(self) -> None:
        if self.process.state is not ServerState.RUNNING:
            return
        rate = throughput_now(self.log.records)
        count = len(self.log.records)
        self.throughput.setText(f"Throughput now: {rate:,.1f} tok/s · {count:,} "
                                f"request{'s' if count != 1 else ''}")

    def _copy(self, text: str) -> None:
        if text:
            QGuiApplication.clipboard().setText(text)

    # -- Page --------------------------------------------------------------------------------
    def set_palette(self, palette: Palette) -> None:
        self.curl.setStyleSheet(f"font-family: monospace; background: {palette.code_bg};")
        self.python.setStyleSheet(f"font-family: monospace; background: {palette.code_bg};")

    def shutdown(self) -> None:
        """The window is closing: stop the server and wait for it (no process left behind)."""
        self._tick.stop()
        self.process.shutdown()
        if self._template_file is not None:
            self._template_file.unlink(missing_ok=True)
