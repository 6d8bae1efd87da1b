"""Model info: what the loaded GGUF is (architecture, size, quant, context, layers, experts,
prompt template, and whether it is a base model or a chat / instruction-tuned one)."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFormLayout, QLabel, QVBoxLayout, QWidget

from inference.engine.api import LoadedModel
from inference.library.model_kind import model_kind_of
from inference.memory.fit import human_bytes

ROWS = (
    ("name", "Name"), ("architecture", "Architecture"), ("parameters", "Parameters"),
    ("quant", "Quantization"), ("bits_per_weight", "Bits per weight"),
    ("file_size", "File size"), ("context_length", "Trained context"),
    ("n_ctx", "Context in use"), ("layers", "Layers"), ("experts", "MoE experts"),
    ("template", "Prompt template"), ("kind", "Kind"), ("backend", "Backend"),
)


def human_count(n: int | None) -> str:
    if not n:
        return "—"
    for unit, size in (("T", 1e12), ("B", 1e9), ("M", 1e6), ("K", 1e3)):
        if n >= size:
            return f"{n / size:.1f}{unit}".replace(".0", "")
    return str(n)


def describe(loaded: LoadedModel) -> dict[str, str]:
    """The text of each row for `loaded`."""
    info = loaded.info
    experts = int(info.get("experts") or 0)
    used = info.get("experts_used")
    return {
        "name": str(info.get("name") or info.get("file_name") or loaded.config.path.name),
        "architecture": str(info.get("architecture") or "—"),
        "parameters": human_count(info.get("parameters")),
        "quant": str(info.get("quant") or "—"),
        "bits_per_weight": f"{info['bits_per_weight']:.2f}"
        if info.get("bits_per_weight") else "—",
        "file_size": human_bytes(info["file_size"]) if info.get("file_size") else "—",
        "context_length": f"{loaded.n_ctx_train:,} tokens" if loaded.n_ctx_train else "—",
        "n_ctx": f"{loaded.n_ctx:,} tokens" if loaded.n_ctx else "unknown",
        "layers": str(info.get("layers") or "—"),
        "experts": (f"{experts} ({used} active per token)" if experts > 1 and used
                    else str(experts) if experts > 1 else "none (dense model)"),
        "template": loaded.template,
        "kind": model_kind_of(info).label,
        "backend": f"{loaded.backend}" + (" · GPU offload available" if loaded.gpu_offload
                                           else " · CPU only build"),
    }


class ModelInfoPanel(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("modelInfo")
        outer = QVBoxLayout(self)
        outer.setContentsMargins(12, 12, 12, 12)
        self.empty = QLabel("No model loaded. Load one from the Model section.")
        self.empty.setObjectName("mutedLabel")
        self.empty.setWordWrap(True)
        outer.addWidget(self.empty)
        self.form = QFormLayout()
        self.form.setLabelAlignment(Qt.AlignmentFlag.AlignLeft)
        self.form.setHorizontalSpacing(12)
        self.form.setVerticalSpacing(6)
        self.values: dict[str, QLabel] = {}
        for key, title in ROWS:
            value = QLabel("—")
            value.setObjectName("infoValue")
            value.setWordWrap(True)
            value.setAccessibleName(title)
            value.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            name = QLabel(title)
            name.setObjectName("infoName")
            self.form.addRow(name, value)
            self.values[key] = value
        outer.addLayout(self.form)
        outer.addStretch(1)
        self.set_model(None)

    def set_model(self, loaded: LoadedModel | None) -> None:
        self.empty.setVisible(loaded is None)
        texts = describe(loaded) if loaded else {}
        for key, label in self.values.items():
            label.setText(texts.get(key, "—"))
            label.setToolTip(str(loaded.config.path) if loaded and key == "name" else "")
