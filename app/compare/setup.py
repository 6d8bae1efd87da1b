"""The Setup tab of the quant workbench: the files (from disk or the library), the reference,
context and speed choices, the text, and the run row (Compare, Cancel, progress, ETA, one
status line per file). The page (`compare_page`) connects the buttons and runs the work."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from app.compare.library_picker import LibraryPicker
from inference.common.errors import ParleyError
from inference.common.text_files import TextFileError, read_text_file
from inference.gguf.file import read_gguf
from inference.library.library import Library

SAMPLES_DIR = Path(__file__).resolve().parents[2] / "resources" / "samples"
DEFAULT_LADDER = "Q8_0,Q6_K,Q4_K_M,Q4_0,Q2_K"
AUTO_REFERENCE = "Most precise (automatic)"
AUTO_REFERENCE_TIP = ("The reference is the most precise file: the one whose quantization type "
                      "keeps the most bits per weight, where a requantized file counts no more "
                      "precise than the type it was made from (a Q8_0 made from a Q4_K_M file "
                      "is no better than that Q4_K_M); ties go to the file that was not "
                      "requantized. Pick a file here to measure against it instead.")
MAX_TEXT_BYTES = 32 << 20


def _button(text: str, slot: Callable[[], object] | None, tip: str = "") -> QPushButton:
    button = QPushButton(text)
    if slot is not None:
        button.clicked.connect(slot)
    button.setToolTip(tip)
    return button


class SetupTab(QWidget):
    errorOccurred = Signal(str)

    def __init__(self, samples_dir: Path = SAMPLES_DIR, library: Library | None = None,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.samples_dir = samples_dir
        self._library = library
        self.picker: LibraryPicker | None = None
        layout = QVBoxLayout(self)
        layout.addWidget(QLabel("<b>Files</b> — quantizations of one model"))
        self.files = QListWidget()
        self.files.setAccessibleName("Files to compare")
        self.files.setMaximumHeight(130)
        layout.addWidget(self.files)
        row = QHBoxLayout()
        row.addWidget(_button("Add files…", self._choose_files))
        row.addWidget(_button("Add from library…", self.open_library_picker,
                              "Choose GGUF files from the library (same architecture first)"))
        row.addWidget(_button("Remove", self._remove_selected))
        self.ladder_types = QLineEdit(DEFAULT_LADDER)
        self.ladder_types.setAccessibleName("Quantization types for the ladder")
        self.allow_requantize = QCheckBox("Allow requantizing")
        self.allow_requantize.setToolTip("The selected file is already quantized: make the "
                                         "ladder anyway (files are marked as requantized)")
        self.ladder_button = _button("Make a ladder from selected", None,
                                     "Quantize the selected file into every listed type")
        layout.addLayout(row)
        ladder_row = QHBoxLayout()             # its own row: a small window has room for it
        for widget in (self.ladder_types, self.allow_requantize, self.ladder_button):
            ladder_row.addWidget(widget)
        layout.addLayout(ladder_row)
        ref_row = QHBoxLayout()
        ref_row.addWidget(QLabel("Reference"))
        self.reference = QComboBox()
        self.reference.setAccessibleName("Reference file")
        self.reference.addItem(AUTO_REFERENCE)
        self.reference.setItemData(0, AUTO_REFERENCE_TIP, Qt.ItemDataRole.ToolTipRole)
        self.reference.setToolTip(AUTO_REFERENCE_TIP)
        ref_row.addWidget(self.reference, 1)
        ref_row.addWidget(QLabel("Context"))
        self.ctx = QSpinBox()
        self.ctx.setAccessibleName("Context size")
        self.ctx.setRange(16, 32768)
        self.ctx.setValue(512)
        self.ctx.setToolTip("Tokens per chunk (n_ctx); the text needs at least twice as many")
        ref_row.addWidget(self.ctx)
        self.measure_speed = QCheckBox("Measure pp512 / tg128 speed")
        self.measure_speed.setChecked(True)
        ref_row.addWidget(self.measure_speed)
        layout.addLayout(ref_row)
        text_row = QHBoxLayout()
        text_row.addWidget(QLabel("<b>Text</b>"))
        text_row.addStretch(1)
        text_row.addWidget(_button("Open text file…", self._choose_text))
        text_row.addWidget(_button("Use bundled sample", self.use_sample))
        layout.addLayout(text_row)
        self.text = QPlainTextEdit()
        self.text.setAccessibleName("Text to measure on")
        self.text.setPlaceholderText("Paste a text (at least 2 × context tokens)…")
        layout.addWidget(self.text, 1)
        run_row = QHBoxLayout()
        self.run_button = _button("Compare", None)
        self.run_button.setObjectName("primaryButton")
        self.cancel_button = _button("Cancel", None)
        self.progress = QProgressBar()
        self.progress.setRange(0, 1000)
        for widget in (self.run_button, self.cancel_button):
            run_row.addWidget(widget)
        run_row.addWidget(self.progress, 1)
        self.eta = QLabel("")
        self.eta.setAccessibleName("Time left")
        self.eta.setMinimumWidth(90)
        run_row.addWidget(self.eta)
        layout.addLayout(run_row)
        self.status = QListWidget()
        self.status.setAccessibleName("Progress per file")
        self.status.setMaximumHeight(110)
        layout.addWidget(self.status)

    # -- inputs --------------------------------------------------------------------------------
    def paths(self) -> list[Path]:
        return [Path(self.files.item(i).data(Qt.ItemDataRole.UserRole))
                for i in range(self.files.count())]

    def selected_source(self) -> Path | None:
        """The file to make a ladder from: the first selected one, else the first listed."""
        selected = self.files.selectedItems() or ([self.files.item(0)] if self.files.count()
                                                  else [])
        return Path(selected[0].data(Qt.ItemDataRole.UserRole)) if selected else None

    def add_files(self, paths: list[Path]) -> None:
        known = {p.resolve() for p in self.paths()}
        for path in paths:
            if Path(path).resolve() in known:
                continue
            self.files.addItem(Path(path).name)
            item = self.files.item(self.files.count() - 1)
            item.setData(Qt.ItemDataRole.UserRole, str(path))
            item.setToolTip(str(path))
            self.reference.addItem(Path(path).name, str(path))
            known.add(Path(path).resolve())

    def _remove_selected(self) -> None:
        for item in self.files.selectedItems():
            row = self.files.row(item)
            self.files.takeItem(row)
            self.reference.removeItem(row + 1)

    def library(self) -> Library:
        if self._library is None:
            self._library = Library()
        return self._library

    def open_library_picker(self) -> LibraryPicker:
        """Open (window-modal, not blocking) the library picker; its choice is added."""
        architecture = None
        if self.paths():
            try:
                architecture = read_gguf(self.paths()[0]).architecture
            except (OSError, ParleyError):
                architecture = None
        self.picker = LibraryPicker(self.library(), architecture, self)
        self.picker.chosen.connect(self.add_files)
        self.picker.open()
        return self.picker

    def _choose_files(self) -> None:
        names, _ = QFileDialog.getOpenFileNames(self, "GGUF files to compare", "",
                                                "GGUF models (*.gguf)")
        self.add_files([Path(n) for n in names])

    def _choose_text(self) -> None:
        name, _ = QFileDialog.getOpenFileName(self, "Text to measure on", "",
                                              "Text (*.txt *.md);;All files (*)")
        if name:
            self.set_text_from(Path(name))

    def set_text_from(self, path: Path) -> bool:
        """Put the file's text in the editor; a file that is not UTF-8 text is refused with a
        message and the editor keeps what it had."""
        try:
            text = read_text_file(path, max_bytes=MAX_TEXT_BYTES)
        except TextFileError as exc:
            self.errorOccurred.emit(f"Cannot use that text: {exc}")
            return False
        self.text.setPlainText(text[:-1] if text.endswith("\n") else text)
        return True

    def use_sample(self) -> None:
        samples = sorted(self.samples_dir.glob("*.txt"))
        if not samples:
            self.errorOccurred.emit(f"No bundled sample text in {self.samples_dir}")
            return
        self.set_text_from(samples[0])

