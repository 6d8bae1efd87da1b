"""The model picker: recent models, Open GGUF…, the starter model; Load / Unload with progress;
context size, GPU layers and prompt template, applied (with a reload) only when the user says so;
a note when the loaded model is a base model."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QApplication,
    QComboBox,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from app.engine.build_read import BuildReport
from app.engine.worker import STARTER, LoadSpec
from app.remote import EngineRow
from app.settings.gpu_layers import GpuLayersEstimator, ctx_stops, starter_file
from app.settings.model_check import model_file_problem
from app.settings.rpc_field import RpcServersField
from app.settings.slider_field import FieldSpec, SliderField
from app.settings.speculative_field import SpeculativeChoice, SpeculativeField
from app.settings.template_panel import TemplatePanel
from app.settings.template_preview import PreviewContext, preview_context
from inference.common.limits import LIMITS
from inference.engine.api import LoadedModel
from inference.engine.requests import GenerationRequest
from inference.library.model_kind import BASE_MODEL_NOTICE, model_kind_of

STARTER_LABEL = "Gemma 3 270M · Q4_K_M (starter)"
CTX_HELP = ("Context size (n_ctx): how many tokens the model sees at once — prompt, history and "
            "reply together. Bigger needs more memory. Applied when you press Apply (reloads).")
GPU_HELP = ("GPU layers (n_gpu_layers): how many layers run on the GPU; the rest run on the CPU "
            "from RAM. Applied when you press Apply (reloads).")


def model_label(choice: str) -> str:
    return STARTER_LABEL if choice == STARTER else Path(choice).name


class ModelPanel(QWidget):
    loadRequested = Signal(object)         # LoadSpec
    unloadRequested = Signal()
    cancelRequested = Signal()
    choiceChanged = Signal(str)            # the picker's model (a path or "starter")
    fileRefused = Signal(str)              # why an opened file cannot be loaded (one line)

    def __init__(self, models_dir: Path | None = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("modelPanel")
        self._models_dir = models_dir
        self._loaded: LoadedModel | None = None
        self._loading = False
        self._load_clicked_at = -1e9           # monotonic time of the last Load click
        self._n_threads = 0                 # 0 = physical cores (preferences may say otherwise)
        self._conversation: Callable[[], GenerationRequest | None] = lambda: None
        layout = QVBoxLayout(self)
        layout.setContentsMargins(12, 12, 12, 4)
        layout.setSpacing(6)
        layout.addWidget(_heading("Model"))
        self.engine = EngineRow()
        self.engine.changed.connect(self._engine_changed)
        layout.addWidget(self.engine)
        self.picker = QComboBox()
        self.picker.setObjectName("modelPicker")
        self.picker.setAccessibleName("Model")
        self.picker.setToolTip("Recent models and the bundled starter model")
        self.picker.currentIndexChanged.connect(self._choice_changed)
        self.open_button = QPushButton("Open GGUF…")
        self.open_button.setAccessibleName("Open a GGUF model file")
        self.open_button.clicked.connect(self.open_file_dialog)
        layout.addWidget(self.picker)
        self.load_button = QPushButton("Load")
        self.load_button.setObjectName("primaryButton")
        self.load_button.setAccessibleName("Load the selected model")
        self.load_button.clicked.connect(self._load_clicked)
        self.unload_button = QPushButton("Unload")
        self.unload_button.setAccessibleName("Unload the model")
        self.unload_button.clicked.connect(self.unloadRequested)
        buttons = QHBoxLayout()
        buttons.addWidget(self.open_button)
        buttons.addWidget(self.load_button, 1)
        buttons.addWidget(self.unload_button)
        layout.addLayout(buttons)
        self.progress = QProgressBar()
        self.progress.setAccessibleName("Model load progress")
        self.progress.setRange(0, 100)
        self.progress.setTextVisible(True)
        self.progress.hide()
        layout.addWidget(self.progress)
        self.status = QLabel("No model loaded")
        self.status.setObjectName("mutedLabel")
        self.status.setWordWrap(True)
        layout.addWidget(self.status)
        self.base_note = QLabel(BASE_MODEL_NOTICE)
        self.base_note.setObjectName("baseModelNote")
        self.base_note.setAccessibleName("Base model")
        self.base_note.setWordWrap(True)
        self.base_note.hide()
        layout.addWidget(self.base_note)
        self.ctx = SliderField(FieldSpec("n_ctx", "Context size", 256, LIMITS["n_ctx"].high, 256, 0,
                                         stops=ctx_stops(131072), tooltip=CTX_HELP, suffix=" tok"))
        gpu = LIMITS["n_gpu_layers"]
        self.gpu = SliderField(FieldSpec("n_gpu_layers", "GPU layers", gpu.low, gpu.high, 1, 0,
                                         slider_high=64, tooltip=GPU_HELP))
        self.gpu.spin.setSpecialValueText("all")
        self.gpu_note = QLabel("")
        self.gpu_note.setObjectName("mutedLabel")
        self.gpu_note.setWordWrap(True)
        self.template = TemplatePanel(self._preview_context, self._own_template)
        self.template.changed.connect(self._settings_changed)
        self.rpc = RpcServersField()
        self.rpc.changed.connect(self._rpc_changed)
        self.rpc.devicesChanged.connect(self._rpc_changed)
        self.speculative = SpeculativeField()
        self.speculative.changed.connect(self._settings_changed)
        self.apply_button = QPushButton("Apply (reloads the model)")
        self.apply_button.setAccessibleName(
            "Apply context size, GPU layers, RPC servers and prompt template")
        self.apply_button.clicked.connect(self._apply_clicked)
        for widget in (self.ctx, self.gpu, self.rpc, self.gpu_note, self.template,
                       self.speculative, self.apply_button):
            layout.addWidget(widget)
        self.estimator = GpuLayersEstimator(self.gpu, self.gpu_note, self.ctx)
        self.ctx.valueChanged.connect(self._settings_changed)
        self.gpu.valueChanged.connect(self._settings_changed)
        # what only a local model has (a remote engine's server decides these)
        self._local_only: tuple[QWidget, ...] = (self.picker, self.open_button, self.ctx,
                                                 self.gpu, self.gpu_note, self.template,
                                                 self.apply_button)
        self._update_buttons()

    # -- model list --------------------------------------------------------------------------
    def set_models(self, recent: list[str], current: str = "", starter: bool = True) -> None:
        self.picker.blockSignals(True)
        self.picker.clear()
        for path in recent:
            if path != STARTER:
                self.picker.addItem(Path(path).name, path)
                self.picker.setItemData(self.picker.count() - 1, path,
                                        Qt.ItemDataRole.ToolTipRole)
        if starter:
            self.picker.addItem(STARTER_LABEL, STARTER)
        index = self.picker.findData(current) if current else 0
        self.picker.setCurrentIndex(max(index, 0))
        self.picker.blockSignals(False)
        self._choice_changed()

    def choice(self) -> str:
        return self.picker.currentData() or ""

    def select(self, choice: str) -> None:
        index = self.picker.findData(choice)
        if index < 0:
            self.picker.insertItem(0, model_label(choice), choice)
            index = 0
        self.picker.setCurrentIndex(index)

    def open_file_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Open a GGUF model", "",
                                              "GGUF models (*.gguf);;All files (*)")
        if path:
            self.open_file(Path(path))

    def open_file(self, path: Path) -> bool:
        """Pick and load `path`; a file that is not a GGUF model is refused (with what it is)
        before anything is unloaded, and is not added to the list."""
        problem = model_file_problem(path)
        if problem:
            self.fileRefused.emit(problem)
            return False
        self.select(str(path))
        self._load_clicked()
        return True

    # -- settings ----------------------------------------------------------------------------
    def set_model_settings(self, n_ctx: int, n_gpu_layers: int, n_threads: int = 0,
                           rpc_servers: tuple[str, ...] = ()) -> None:
        self._n_threads = n_threads
        self.ctx.set_value(n_ctx)
        self.gpu.set_value(n_gpu_layers)
        self.rpc.set_servers(rpc_servers)
        self._settings_changed()

    def spec(self, choice: str | None = None) -> LoadSpec:
        """What Load loads: the remote engine chosen (unless a local `choice` is named), else
        `choice` or the picker's model with the panel's settings."""
        remote = self.engine.endpoint() if choice is None else None
        if remote is not None:
            return LoadSpec(remote.model, remote=remote)
        speculative = self.speculative.value()
        return LoadSpec(choice or self.choice(), n_ctx=int(self.ctx.value()),
                        n_gpu_layers=int(self.gpu.value()), n_threads=self._n_threads,
                        template=self.template.source(), rpc_servers=self.rpc.servers(),
                        speculative=speculative.mode.value,
                        draft_model=speculative.draft_model, draft_max=speculative.draft_max)

    def set_conversation(self, request: Callable[[], GenerationRequest | None]) -> None:
        """Where the template editor's preview finds the current conversation."""
        self._conversation = request

    # -- engine state ------------------------------------------------------------------------
    def set_loading(self, loading: bool) -> None:
        self._loading = loading
        self.progress.setVisible(loading)
        self.progress.setValue(0)
        remote = self.engine.chosen()
        if loading:
            self.status.setText(f"Connecting to {remote.name}…" if remote is not None else
                                f"Loading {model_label(self.choice())}…")
        elif self.status.text().startswith("Loading "):
            self._show_loaded_status("")          # stopped: say what is loaded now
        self._update_buttons()

    def set_progress(self, fraction: float) -> None:
        self.progress.setValue(round(fraction * 100))

    def set_loaded(self, loaded: LoadedModel | None, message: str = "") -> None:
        self._loaded = loaded
        self.set_loading(False)
        self._show_loaded_status(message)
        if loaded is not None:
            self.estimator.set_loaded_split(loaded.config.rpc_servers, loaded.config.n_gpu_layers,
                                            loaded.config.n_ctx, loaded.devices)
            self.estimator.set_model(loaded.config.path, loaded.gpu_offload, loaded.n_ctx_train)
        else:
            self.estimator.set_loaded_split((), 0, 0, ())     # nothing loaded over them now
            self.estimator.show_file(self.selected_file())
        self.base_note.setVisible(loaded is not None and model_kind_of(loaded.info).is_base)
        self.template.set_in_use(loaded.template if loaded is not None else "")
        self._update_buttons()

    def _show_loaded_status(self, message: str) -> None:
        loaded = self._loaded
        if loaded is not None:
            split = "".join(f" · {d.name} {d.layers}{'+out' if d.has_output else ''}"
                            for d in loaded.devices)       # with RPC servers: layers per device
            n_ctx = loaded.n_ctx or "unknown"
            self.status.setText(f"Loaded {loaded.config.path.name} · {loaded.backend} · "
                                f"context {n_ctx} · {loaded.load_seconds:.1f} s{split}")
        else:
            self.status.setText(message or "No model loaded")

    def set_memory(self, free_vram: int | None) -> None:
        self.estimator.set_free_vram(free_vram)

    def set_build(self, report: BuildReport) -> None:
        """What this llama.cpp build can do, known before any model is loaded (a loaded model
        says it itself)."""
        if self._loaded is None:
            self.estimator.set_offload(report.offloads)
            if report.offloads:
                self.estimator.set_free_vram(report.free_vram)

    def selected_file(self) -> Path | None:
        """The GGUF the picker points at, when it is on disk (the starter once assembled)."""
        choice = self.choice()
        if not choice:
            return None
        path = starter_file(self._models_dir) if choice == STARTER else Path(choice)
        return path if path is not None and path.is_file() else None

    def _load_clicked(self) -> None:
        now = time.monotonic()
        if self._loading:
            # the second click of a double-click on Load is not a Cancel
            if now - self._load_clicked_at > QApplication.doubleClickInterval() / 1000:
                self.cancelRequested.emit()
        elif self.rpc.error():                  # the field says what is wrong; keep the text
            self.rpc.edit.setFocus()
        elif self.choice() or self.engine.chosen() is not None:
            self._load_clicked_at = now
            self.loadRequested.emit(self.spec())

    def _apply_clicked(self) -> None:
        loaded = self._loaded
        if loaded is None:
            return
        if self.rpc.error():                     # the field says what is wrong
            self.rpc.edit.setFocus()
            return
        if self._on_loaded_model():             # as chosen ("starter" stays "starter")
            self.loadRequested.emit(self.spec(self.choice()))
        else:                                   # the template shown is another model's
            self.loadRequested.emit(replace(self.spec(str(loaded.config.path)),
                                            template=loaded.config.template))

    def _on_loaded_model(self) -> bool:
        """Whether the picker shows the loaded model (so the template shown is its own)."""
        loaded = self._loaded
        return loaded is not None and (self.selected_file() == loaded.config.path
                                       or self.choice() == str(loaded.config.path))

    def _choice_changed(self) -> None:
        loaded = self._loaded
        path = self.selected_file()
        if loaded is not None and (path is None or path == loaded.config.path):
            self.estimator.set_model(loaded.config.path, loaded.gpu_offload, loaded.n_ctx_train)
        else:
            self.estimator.show_file(path)
        self._update_buttons()
        self.choiceChanged.emit(self.choice())

    def _preview_context(self) -> PreviewContext | None:
        """The selected model's file, context size and conversation, for the template preview."""
        loaded, path = self._loaded, self.selected_file()
        if path is None and loaded is not None and self.choice() == str(loaded.config.path):
            path = loaded.config.path
        if path is None:
            return None
        same = loaded is not None and loaded.config.path == path
        n_ctx = loaded.n_ctx if same and loaded else int(self.ctx.value())
        return preview_context(path, self._conversation(), n_ctx)

    def _own_template(self) -> str:
        """The selected model's own chat template text ("" when none or too long to keep)."""
        info = self.estimator.info
        text = info.chat_template if info is not None and info.has_chat_template else ""
        return "" if not text or text.startswith("[string of ") else text

    def _rpc_changed(self) -> None:
        self.estimator.set_rpc(self.rpc.servers(), self.rpc.devices, self.rpc.check_error)
        self._update_buttons()

    def shutdown(self) -> None:
        """Stop a server check in flight (its child process is ended)."""
        self.rpc.shutdown()

    def _settings_changed(self) -> None:
        self.estimator.refresh()
        self._update_buttons()

    def pending_changes(self) -> bool:
        loaded = self._loaded
        if loaded is None:
            return False
        return (int(self.ctx.value()) != loaded.config.n_ctx
                or int(self.gpu.value()) != loaded.config.n_gpu_layers
                or self.rpc.servers() != loaded.config.rpc_servers
                or self.speculative.value() != SpeculativeChoice.of(loaded.config)
                or (self._on_loaded_model()
                    and self.template.source() != loaded.config.template))

    def _engine_changed(self) -> None:
        """This computer shows the local model's settings; a remote engine hides them."""
        remote = self.engine.chosen() is not None
        for widget in self._local_only:
            widget.setVisible(not remote)
        self._update_buttons()

    def _update_buttons(self) -> None:
        remote = self.engine.chosen() is not None
        self.load_button.setText("Cancel" if self._loading else "Connect" if remote else "Load")
        self.load_button.setEnabled(self._loading or bool(self.choice()) or remote)
        self.engine.setEnabled(not self._loading)
        self.unload_button.setEnabled(self._loaded is not None and not self._loading)
        self.apply_button.setEnabled(self.pending_changes() and not self._loading)
        self.picker.setEnabled(not self._loading)
        self.open_button.setEnabled(not self._loading)


def _heading(text: str) -> QLabel:
    label = QLabel(text)
    label.setObjectName("sectionHeading")
    return label
