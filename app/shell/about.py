"""Help → About (F1): Parley's version, the llama.cpp build it runs on, and its data folders.

The build facts come from `inference.llama.version` through the window's BuildProbe (read once, in a
child process), so opening the dialog never waits on llama.cpp.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, QUrl
from PySide6.QtGui import QDesktopServices, QGuiApplication
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QVBoxLayout,
    QWidget,
)

from app.engine.build_read import BuildReport
from inference.common.paths import ParleyPaths
from inference.llama.version import VersionInfo

BUILD_ROWS = (
    ("parley", "Parley version"), ("llama_cpp_python", "llama-cpp-python"),
    ("llama_cpp", "llama.cpp build"), ("cpu", "CPU variant in use"),
    ("gpu", "GPU backend"), ("python", "Python"),
)
FOLDER_ROWS = (
    ("database", "Conversations"), ("config", "Preferences and presets"),
    ("models", "Models folder"), ("logs", "Logs"), ("cache", "Cache"),
)


def build_texts(info: VersionInfo) -> dict[str, str]:
    """The text of each build row for `info`."""
    commit = info.llama_cpp_commit or "commit not reported"
    ggml = f" (ggml {info.ggml_version})" if info.ggml_version else ""
    features = f" ({info.cpu_features})" if info.cpu_features else ""
    return {
        "parley": info.parley + (" · bundled" if info.bundled else ""),
        "llama_cpp_python": info.llama_cpp_python,
        "llama_cpp": f"{commit}{ggml}",
        "cpu": f"{info.cpu_backend}{features}",
        "gpu": info.gpu_backend if info.gpu_backend != "none" else "none (CPU-only build)",
        "python": f"{info.python} · {info.platform}",
    }


def folder_texts(paths: ParleyPaths) -> dict[str, str]:
    return {"database": str(paths.database), "config": str(paths.config),
            "models": str(paths.models), "logs": str(paths.logs), "cache": str(paths.cache)}


class AboutDialog(QDialog):
    def __init__(self, paths: ParleyPaths, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("aboutDialog")
        self.setWindowTitle("About Parley")
        self.setAccessibleName("About Parley")
        self.resize(620, 420)
        self._line = ""
        layout = QVBoxLayout(self)
        title = QLabel("Parley")
        title.setObjectName("pageTitle")
        blurb = QLabel("Chat with language models that run on this computer, over llama.cpp.")
        blurb.setWordWrap(True)
        self.status = QLabel("Reading the llama.cpp build…")
        self.status.setObjectName("mutedLabel")
        self.status.setAccessibleName("Build status")
        self.status.setWordWrap(True)
        self.values: dict[str, QLabel] = {}
        build = self._form(BUILD_ROWS)
        folders = self._form(FOLDER_ROWS)
        for key, text in folder_texts(paths).items():
            self.values[key].setText(text)
        heading = QLabel("Where your data is")
        heading.setObjectName("sectionHeading")
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        close = buttons.button(QDialogButtonBox.StandardButton.Close)
        close.setAccessibleName("Close the About dialog")
        self.copy_button = buttons.addButton("Copy details", QDialogButtonBox.ButtonRole.ActionRole)
        self.copy_button.setAccessibleName("Copy the version and folder details")
        self.copy_button.clicked.connect(self.copy_details)
        self.open_button = buttons.addButton("Open data folder",
                                             QDialogButtonBox.ButtonRole.ActionRole)
        self.open_button.setAccessibleName("Open the folder with your conversations")
        self.open_button.clicked.connect(
            lambda: QDesktopServices.openUrl(QUrl.fromLocalFile(str(paths.data))))
        buttons.rejected.connect(self.reject)
        for widget in (title, blurb, self.status):
            layout.addWidget(widget)
        layout.addLayout(build)
        layout.addWidget(heading)
        layout.addLayout(folders)
        layout.addStretch(1)
        layout.addWidget(buttons)

    def _form(self, rows: tuple[tuple[str, str], ...]) -> QFormLayout:
        form = QFormLayout()
        form.setHorizontalSpacing(12)
        for key, title in rows:
            value = QLabel("…")
            value.setObjectName("infoValue")
            value.setWordWrap(True)
            value.setAccessibleName(title)
            value.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse
                                          | Qt.TextInteractionFlag.TextSelectableByKeyboard)
            value.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
            name = QLabel(title)
            name.setBuddy(value)
            form.addRow(name, value)
            self.values[key] = value
        return form

    def set_report(self, report: BuildReport) -> None:
        for key, text in build_texts(report.info).items():
            self.values[key].setText(text)
        self._line = report.info.line()
        self.status.setText("The same as `parley --version` prints.")

    def set_error(self, message: str) -> None:
        self.status.setText(message)
        for key, _title in BUILD_ROWS:
            if self.values[key].text() == "…":
                self.values[key].setText("unknown")

    def details(self) -> str:
        """Everything shown, as plain text (for a bug report)."""
        lines = [self._line or self.status.text()]
        for key, title in BUILD_ROWS + FOLDER_ROWS:
            lines.append(f"{title}: {self.values[key].text()}")
        return "\n".join(lines)

    def copy_details(self) -> None:
        QGuiApplication.clipboard().setText(self.details())
