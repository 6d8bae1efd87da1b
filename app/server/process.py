"""The `parley serve` child the Server page starts and stops, read through QProcess.

The server is its own process tree (its HTTP front, and the engine in a supervised child of
that), so neither a native crash nor a stuck request can take the window down. QProcess reads
its pipes on the GUI thread's event loop — no thread of ours waits on them, so this is not
background work in the sense of app/engine/jobs.py: each line arrives as a signal. stdout carries
one JSON `RequestRecord` per answered request (`--request-log`); stderr the server's own lines:
the "ready" line with its address, warnings, and a one-line error if it cannot start.
"""

from __future__ import annotations

import enum
import re

from PySide6.QtCore import QObject, QProcess, QProcessEnvironment, QTimer, Signal

from inference.server.command import ServeCommand
from inference.server.request_log import RequestRecord

STOP_GRACE_MS = 6000          # SIGTERM first (open streams end cleanly), then SIGKILL
_READY = re.compile(r"^parley serve: (?P<model>\S+) on (?P<url>https?://\S+/v1) ")
_ERROR = re.compile(r"^parley serve: (?:error: )?(?P<text>.+)$")


class ServerState(enum.Enum):
    STOPPED = "stopped"
    STARTING = "starting"
    RUNNING = "running"
    STOPPING = "stopping"


class ServerProcess(QObject):
    """Starts one `parley serve`, tells its state, its address, each request and each line."""

    stateChanged = Signal(object)      # ServerState
    ready = Signal(str, str)           # base URL (…/v1), model id
    failed = Signal(str)               # one line: why it could not start, or why it stopped
    requestLogged = Signal(object)     # RequestRecord
    logLine = Signal(str)              # any other line the server printed

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.state = ServerState.STOPPED
        self.url = ""
        self._proc: QProcess | None = None
        self._last_error = ""
        self._buffers = {QProcess.ProcessChannel.StandardOutput: b"",
                         QProcess.ProcessChannel.StandardError: b""}
        self._kill_timer = QTimer(self, singleShot=True, interval=STOP_GRACE_MS)
        self._kill_timer.timeout.connect(self._kill)

    def start(self, command: ServeCommand) -> None:
        if self.state is not ServerState.STOPPED:
            return
        proc = QProcess(self)
        env = QProcessEnvironment.systemEnvironment()
        env.insert("PYTHONUNBUFFERED", "1")
        for key, value in command.environment:
            env.insert(key, value)
        proc.setProcessEnvironment(env)
        proc.readyReadStandardOutput.connect(
            lambda: self._read(proc, QProcess.ProcessChannel.StandardOutput))
        proc.readyReadStandardError.connect(
            lambda: self._read(proc, QProcess.ProcessChannel.StandardError))
        proc.finished.connect(self._finished)
        proc.errorOccurred.connect(self._process_error)
        self._proc = proc
        self._last_error = ""
        self.url = ""
        self._set_state(ServerState.STARTING)
        proc.start(command.program, list(command.arguments))

    def stop(self) -> None:
        """Ask the server to stop (it closes its streams and its engine); killed if it lingers."""
        if self._proc is None or self.state in (ServerState.STOPPED, ServerState.STOPPING):
            return
        self._set_state(ServerState.STOPPING)
        self._proc.terminate()
        self._kill_timer.start()

    def shutdown(self) -> None:
        """Stop and wait for the server (the window is closing): no process is left behind."""
        proc = self._proc
        if proc is None:
            return
        self.stop()
        if not proc.waitForFinished(STOP_GRACE_MS):
            proc.kill()
            proc.waitForFinished(2000)

    @property
    def pid(self) -> int:
        return int(self._proc.processId()) if self._proc is not None else 0

    # -- the pipes ---------------------------------------------------------------------------
    def _read(self, proc: QProcess, channel: QProcess.ProcessChannel) -> None:
        proc.setReadChannel(channel)
        data = self._buffers[channel] + bytes(proc.readAll().data())
        *lines, rest = data.split(b"\n")
        self._buffers[channel] = rest
        for raw in lines:
            line = raw.decode("utf-8", "replace").rstrip("\r")
            if line:
                self._line(line, channel)

    def _line(self, line: str, channel: QProcess.ProcessChannel) -> None:
        if channel is QProcess.ProcessChannel.StandardOutput:
            record = RequestRecord.from_json(line)
            if record is not None:
                self.requestLogged.emit(record)
                return
        ready = _READY.match(line)
        if ready and self.state is ServerState.STARTING:
            self.url = ready["url"]
            self._set_state(ServerState.RUNNING)
            self.ready.emit(self.url, ready["model"])
        elif (error := _ERROR.match(line)) and "warning:" not in line \
                and error["text"] != "stopped":
            self._last_error = error["text"]
        self.logLine.emit(line)

    # -- endings -----------------------------------------------------------------------------
    def _finished(self, code: int, _status: QProcess.ExitStatus) -> None:
        was = self.state
        self._kill_timer.stop()
        for channel, rest in self._buffers.items():
            if rest and self._proc is not None:
                self._line(rest.decode("utf-8", "replace"), channel)
            self._buffers[channel] = b""
        self._proc = None
        self.url = ""
        self._set_state(ServerState.STOPPED)
        if was is ServerState.STARTING:
            self.failed.emit(f"The server did not start: "
                             f"{self._last_error or f'it ended with code {code}'}.")
        elif was is ServerState.RUNNING:
            self.failed.emit(f"The server stopped unexpectedly "
                             f"({self._last_error or f'code {code}'}).")

    def _process_error(self, error: QProcess.ProcessError) -> None:
        if error is QProcess.ProcessError.FailedToStart and self._proc is not None:
            self._last_error = f"could not run {self._proc.program()}"
            self._proc = None
            self._set_state(ServerState.STOPPED)
            self.failed.emit(f"The server did not start: {self._last_error}.")

    def _kill(self) -> None:
        if self._proc is not None:
            self._proc.kill()

    def _set_state(self, state: ServerState) -> None:
        if state is not self.state:
            self.state = state
            self.stateChanged.emit(state)
