"""The model panel's "RPC servers" field: llama.cpp rpc-servers on other machines (host:port, one
per line), the security caveat beside it, and "Check servers", which asks them (in a child
process, off the GUI thread) for their devices and free memory so the fit estimate can show the
split per device before anything is loaded."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from app.engine.jobs import Job, JobPool, failure_message
from inference.common.cancel import CancelToken
from inference.common.errors import InvalidSettingError
from inference.common.rpc_endpoints import TRUST_NOTE, normalize_servers
from inference.llama.rpc import DeviceMemory

FIELD_LABEL = "RPC servers (host:port, one per line)"
FIELD_HELP = ("llama.cpp rpc-server processes on other machines. With servers listed, the GPU "
              "layers go to them (and to this computer's GPU, if any), split by their free "
              "memory; the other layers stay here. Applied when you press Apply (reloads).")
CAVEAT = f"⚠ {TRUST_NOTE}"
Query = Callable[[Sequence[str], CancelToken], list[DeviceMemory]]


def query_in_child(servers: Sequence[str], cancel: CancelToken) -> list[DeviceMemory]:
    from inference.host.devices import query_devices

    return query_devices(servers, cancel)


class RpcServersField(QWidget):
    changed = Signal()                  # the text changed (the servers may differ)
    devicesChanged = Signal()           # a check ended: `devices` or `check_error` is new

    def __init__(self, query: Query = query_in_child, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._query = query
        self._jobs = JobPool(1, self, "RpcCheck")
        self._job: Job | None = None
        self._serial = 0
        self.devices: list[DeviceMemory] | None = None    # None: not asked for these servers
        self.check_error = ""
        self.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Maximum)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(4)
        label = QLabel(FIELD_LABEL)
        label.setToolTip(FIELD_HELP)
        self.edit = QPlainTextEdit()
        self.edit.setObjectName("rpcServers")
        self.edit.setAccessibleName("RPC servers")
        self.edit.setToolTip(FIELD_HELP)
        self.edit.setPlaceholderText("192.168.1.20:50052")
        self.edit.setTabChangesFocus(True)
        self.edit.setFixedHeight(self.edit.fontMetrics().lineSpacing() * 3 + 12)
        self.edit.textChanged.connect(self._text_changed)
        label.setBuddy(self.edit)
        self.caveat = QLabel(CAVEAT)
        self.caveat.setObjectName("mutedLabel")
        self.caveat.setWordWrap(True)
        self.caveat.setAccessibleName("RPC security note")
        self.problem = QLabel("")
        self.problem.setObjectName("rpcProblem")
        self.problem.setWordWrap(True)
        self.problem.hide()
        self.check_button = QPushButton("Check servers")
        self.check_button.setAccessibleName("Ask the RPC servers for their free memory")
        self.check_button.clicked.connect(self.check)
        row = QHBoxLayout()
        row.addWidget(label, 1)
        row.addWidget(self.check_button)
        for item in (row, self.edit, self.caveat, self.problem):
            if isinstance(item, QHBoxLayout):
                layout.addLayout(item)
            else:
                layout.addWidget(item)
        self._update()

    def servers(self) -> tuple[str, ...]:
        """The servers as typed, validated; () while the text is not valid (see `error`)."""
        try:
            return normalize_servers(self.edit.toPlainText())
        except InvalidSettingError:
            return ()

    def error(self) -> str:
        """One line on what is wrong with the text, or ""."""
        try:
            normalize_servers(self.edit.toPlainText())
        except InvalidSettingError as err:
            return str(err)
        return ""

    def set_servers(self, servers: Sequence[str]) -> None:
        self.edit.setPlainText("\n".join(servers))

    def check(self) -> None:
        """Ask the servers (off the GUI thread) for their devices and free memory."""
        servers = self.servers()
        if not servers:
            return
        if self._job is not None:
            self._job.cancel()
        self._serial += 1
        serial, query = self._serial, self._query
        self.check_button.setEnabled(False)
        self.check_button.setText("Checking…")
        self._job = self._jobs.start(
            lambda ctx: query(servers, ctx.token),
            returned=lambda devices: self._checked(serial, devices, ""),
            errored=lambda err: self._checked(serial, None,
                                              failure_message(err, "RPC check failed")))

    def shutdown(self) -> None:
        self._serial += 1
        self._jobs.shutdown()

    def _checked(self, serial: int, devices: list[DeviceMemory] | None, error: str) -> None:
        if serial != self._serial:
            return                          # the text changed since: this answer is stale
        self._job = None
        self.devices, self.check_error = devices, " ".join(error.split())
        self._update()
        self.devicesChanged.emit()

    def _text_changed(self) -> None:
        self._serial += 1                   # any answer in flight is for other servers
        if self._job is not None:
            self._job.cancel()
            self._job = None
        self.devices, self.check_error = None, ""
        self._update()
        self.changed.emit()

    def _update(self) -> None:
        problem = self.error()
        self.problem.setText(problem)
        self.problem.setVisible(bool(problem))
        self.check_button.setText("Check servers")
        self.check_button.setEnabled(bool(self.servers()))
