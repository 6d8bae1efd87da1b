"""The Engines dialog: the saved remote engines — name, base URL, API key, model — added,
edited, removed, and tried with "Test connection", which lists the server's models (a job on a
`JobPool`, never on the GUI thread)."""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from app.engine.jobs import JobContext, JobPool, failure_message
from app.remote.saved import EngineBook, SavedEngine
from inference.common.errors import ParleyError
from inference.remote.discovery import ServerSurvey
from inference.remote.endpoint import RemoteEndpoint
from inference.remote.engine import RemoteEngine
from inference.remote.sampling_map import ignored_sliders

NEW = "New engine"
KEY_KEPT = "(stored in the keychain; type to replace)"


def survey(endpoint: RemoteEndpoint, ctx: JobContext) -> ServerSurvey:
    """The job behind "Test connection" (on a pool thread)."""
    engine = RemoteEngine(endpoint)
    try:
        return engine.survey(ctx.token)
    finally:
        engine.close()


def describe(found: ServerSurvey) -> str:
    """"llama.cpp server · 1 model · context 2,048 · ignores …" for the status line."""
    models = len(found.models)
    parts = [found.kind.label, f"{models} model" + ("" if models == 1 else "s")]
    if found.models:
        n_ctx = found.n_ctx(found.models[0])
        parts.append(f"context {n_ctx:,}" if n_ctx else "context size not reported")
    ignored = ignored_sliders(found.kind)
    if ignored:
        parts.append("ignores " + ", ".join(ignored))
    return "Connected: " + " · ".join(parts)


class EnginesDialog(QDialog):
    enginesChanged = Signal()            # saved, renamed or removed

    def __init__(self, book: EngineBook, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Engines")
        self.setObjectName("enginesDialog")
        self.book = book
        self.tasks = JobPool(1, self, name="EngineTest")
        self._editing = ""                       # the saved engine shown ("" : a new one)
        self.list = QListWidget()
        self.list.setAccessibleName("Saved remote engines")
        self.list.currentTextChanged.connect(self._show)
        self.name = QLineEdit()
        self.url = QLineEdit()
        self.url.setPlaceholderText("http://192.168.1.20:8080")
        self.key = QLineEdit()
        self.key.setEchoMode(QLineEdit.EchoMode.Password)
        self.key.setAccessibleName("API key")
        self.model = QComboBox()
        self.model.setEditable(True)
        self.model.setAccessibleName("Model")
        self.model.setToolTip("The model on the server; empty: its only model")
        form = QFormLayout()
        for label, widget in (("Name", self.name), ("Base URL", self.url),
                              ("API key", self.key), ("Model", self.model)):
            form.addRow(label, widget)
        self.status = QLabel("")
        self.status.setObjectName("mutedLabel")
        self.status.setWordWrap(True)
        self.status.setAccessibleName("Connection status")
        self.new_button = QPushButton("New")
        self.remove_button = QPushButton("Remove")
        self.test_button = QPushButton("Test connection")
        self.save_button = QPushButton("Save")
        self.save_button.setObjectName("primaryButton")
        close = QPushButton("Close")
        self.new_button.clicked.connect(self.new_engine)
        self.remove_button.clicked.connect(self.remove_engine)
        self.test_button.clicked.connect(self.test_connection)
        self.save_button.clicked.connect(self.save_engine)
        close.clicked.connect(self.accept)
        side = QVBoxLayout()
        side.addWidget(self.list, 1)
        side_buttons = QHBoxLayout()
        side_buttons.addWidget(self.new_button)
        side_buttons.addWidget(self.remove_button)
        side.addLayout(side_buttons)
        main = QVBoxLayout()
        main.addLayout(form)
        main.addWidget(self.status)
        main.addStretch(1)
        buttons = QHBoxLayout()
        for button in (self.test_button, self.save_button, close):
            buttons.addWidget(button)
        main.addLayout(buttons)
        layout = QHBoxLayout(self)
        layout.addLayout(side, 1)
        layout.addLayout(main, 2)
        self.resize(640, 340)
        self._fill()

    # -- actions -----------------------------------------------------------------------------
    def new_engine(self) -> None:
        self.list.clearSelection()
        self._editing = ""
        for field in (self.name, self.url, self.key):
            field.clear()
        self.key.setPlaceholderText("")
        self.model.clear()
        self.status.setText("")
        self.name.setFocus()

    def save_engine(self) -> bool:
        try:
            engine = SavedEngine.checked(self.name.text(), self.url.text(),
                                         self.model.currentText())
        except ParleyError as exc:
            self.status.setText(str(exc))
            return False
        if engine.name != self._editing and self.book.find(engine.name) is not None:
            self.status.setText(f"An engine named “{engine.name}” is saved already.")
            return False
        key = self.key.text() or (None if self._editing else "")
        note = self.book.put(engine, key, replacing=self._editing)
        self._editing = engine.name
        self._fill(select=engine.name)
        self.status.setText(note or f"Saved “{engine.name}”.")
        self.enginesChanged.emit()
        return True

    def remove_engine(self) -> None:
        if self._editing:
            self.book.remove(self._editing)
            self._fill()
            self.new_engine()
            self.enginesChanged.emit()

    def test_connection(self) -> None:
        """List the server's models with what is typed now (saved or not)."""
        try:
            endpoint = RemoteEndpoint(self.url.text(), model=self.model.currentText().strip(),
                                      api_key=self._typed_key(), name=self.name.text())
        except ParleyError as exc:
            self.status.setText(str(exc))
            return
        self.test_button.setEnabled(False)
        self.status.setText(f"Connecting to {endpoint.base_url}…")
        self.tasks.start(lambda ctx: survey(endpoint, ctx), returned=self._tested,
                         errored=self._test_failed)

    # -- internals ---------------------------------------------------------------------------
    def _typed_key(self) -> str:
        return self.key.text() or (self.book.keys.get(self._editing) if self._editing else "")

    def _tested(self, found: ServerSurvey) -> None:
        self.test_button.setEnabled(True)
        typed = self.model.currentText().strip()
        self.model.clear()
        self.model.addItems([m.id for m in found.models])
        self.model.setCurrentText(typed or (found.models[0].id if found.models else ""))
        self.status.setText(describe(found))

    def _test_failed(self, error: BaseException) -> None:
        self.test_button.setEnabled(True)
        self.status.setText(failure_message(error, "Could not connect"))

    def _fill(self, select: str = "") -> None:
        self.list.blockSignals(True)
        self.list.clear()
        names = [e.name for e in self.book.engines()]
        self.list.addItems(names)
        self.list.blockSignals(False)
        if select in names:
            self.list.setCurrentRow(names.index(select))
        elif names:
            self.list.setCurrentRow(0)
        self.remove_button.setEnabled(bool(names))

    def _show(self, name: str) -> None:
        engine = self.book.find(name)
        if engine is None:
            return
        self._editing = engine.name
        self.name.setText(engine.name)
        self.url.setText(engine.base_url)
        self.key.clear()
        self.key.setPlaceholderText(KEY_KEPT if self.book.keys.get(engine.name) else "")
        self.model.clear()
        self.model.setCurrentText(engine.model)
        self.status.setText("")

    def done(self, result: int) -> None:
        self.tasks.shutdown(2000)
        super().done(result)
