"""The first-run view: no model loaded yet. Its ways to a first model, most direct first:

* the starter model, where its package is installed (never in the bundled app: there the
  button is not offered), saying that it is a base model (tests/library/test_model_kind.py);
* the recommended models: "Show recommended models" asks the hub which of them it has now
  (Parley goes online only when asked), then each is listed with its size, what it is good for,
  its licence and whether it fits, and Download fetches it and loads it; offline, one line says
  so and only the file and folder ways remain;
* Open a GGUF file…, the models folder, and the models other apps keep on this computer
  ("Use models from LM Studio (3 files)" lists them, a click loads one);
* the recent models.

The view only shows and asks: `app/shell/first_run.py` does the checking, downloading and
loading, off the GUI thread where it waits.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from PySide6.QtCore import Qt, QUrl, Signal
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)

from app.settings.model_panel import model_label
from app.shell.first_run_check import AppFolder, Offer
from app.shell.recommended_view import RecommendedList
from inference.hub.queue import DownloadItem
from inference.hub.search import SizeFit
from inference.library.starter import starter_installed

STARTER_NOTE = ("The starter model is a base model: it continues text. Text mode suits it (it "
                "opens there unless you have chosen a mode); for chat, download an "
                "instruction-tuned model below or on the Hub page.")
RECOMMEND_TIP = ("Asks Hugging Face which of Parley's recommended models it has now. Parley "
                 "goes online only when you ask; nothing you type is sent.")
CHECKING = "Asking Hugging Face for the recommended models…"
OFFLINE_LINE = ("You are offline, so no model can be downloaded now: open a GGUF file, or use "
                "the models other apps keep on this computer.")
NONE_LEFT = "None of the recommended models is on the hub just now: {reason}"


class WelcomePage(QWidget):
    starterRequested = Signal()
    openRequested = Signal()
    recentRequested = Signal(str)
    recommendedRequested = Signal()             # check the recommended models on the hub
    downloadRequested = Signal(object)          # an Offer: download it, then load it
    resumeRequested = Signal()                  # the download started here, again
    fileChosen = Signal(str)                    # a model another app keeps: load it

    def __init__(self, models_dir: Path, starter_available: bool | None = None,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("welcome")
        self._models_dir = models_dir
        self.starter_available = (starter_installed() if starter_available is None
                                  else starter_available)
        card = QFrame()
        card.setObjectName("welcomeCard")
        card.setMaximumWidth(640)
        layout = QVBoxLayout(card)
        layout.setContentsMargins(32, 28, 32, 28)
        layout.setSpacing(10)
        title = QLabel("Welcome to Parley")
        title.setObjectName("welcomeTitle")
        text = QLabel("Chat with language models that run entirely on this computer. "
                      "Nothing you type leaves it. Load a model to begin.")
        text.setWordWrap(True)
        text.setObjectName("welcomeText")
        layout.addWidget(title)
        layout.addWidget(text)
        layout.addSpacing(6)
        self._build_starter(layout)
        self._build_recommended(layout)
        self._build_files(layout, models_dir)
        self.recent_box = QVBoxLayout()
        self.recent_title = QLabel("Recent models")
        self.recent_title.setObjectName("sectionHeading")
        layout.addWidget(self.recent_title)
        layout.addLayout(self.recent_box)
        self.status = QLabel("")
        self.status.setObjectName("welcomeStatus")
        self.status.setWordWrap(True)
        layout.addWidget(self.status)
        self._place(card)
        self.set_recent([])
        self.set_app_folders([])

    def _build_starter(self, layout: QVBoxLayout) -> None:
        self.starter_button = QPushButton("Load the starter model  ·  Gemma 3 270M (253 MB)")
        self.starter_button.setObjectName("primaryButton")
        self.starter_button.setAccessibleName("Load the starter model")
        self.starter_button.setToolTip("A small, fast model that comes with Parley: good for "
                                       "trying things out, not for hard questions.")
        self.starter_button.clicked.connect(self.starterRequested)
        self.starter_note = QLabel(STARTER_NOTE)
        self.starter_note.setObjectName("mutedLabel")
        self.starter_note.setAccessibleName("About the starter model")
        self.starter_note.setWordWrap(True)
        layout.addWidget(self.starter_button)
        layout.addWidget(self.starter_note)
        self.starter_button.setVisible(self.starter_available)
        self.starter_note.setVisible(self.starter_available)

    def _build_recommended(self, layout: QVBoxLayout) -> None:
        heading = QLabel("Download a model")
        heading.setObjectName("sectionHeading")
        self.recommend_button = QPushButton("Show recommended models")
        self.recommend_button.setAccessibleName("Show recommended models to download")
        self.recommend_button.setToolTip(RECOMMEND_TIP)
        if not self.starter_available:
            self.recommend_button.setObjectName("primaryButton")
        self.recommend_button.clicked.connect(self.recommendedRequested)
        self.hub_line = QLabel("")
        self.hub_line.setObjectName("mutedLabel")
        self.hub_line.setAccessibleName("Recommended models")
        self.hub_line.setWordWrap(True)
        self.hub_line.hide()
        self.recommended = RecommendedList()
        self.recommended.downloadRequested.connect(self.downloadRequested)
        self.recommended.resumeRequested.connect(self.resumeRequested)
        layout.addWidget(heading)
        layout.addWidget(self.recommend_button)
        layout.addWidget(self.hub_line)
        layout.addWidget(self.recommended)

    def _build_files(self, layout: QVBoxLayout, models_dir: Path) -> None:
        self.open_button = QPushButton("Open a GGUF file…")
        self.open_button.setAccessibleName("Open a GGUF model file")
        self.open_button.clicked.connect(self.openRequested)
        self.folder_button = QPushButton("Show the models folder")
        self.folder_button.setAccessibleName("Open the models folder")
        self.folder_button.setToolTip(str(models_dir))
        self.folder_button.clicked.connect(self.open_models_folder)
        heading = QLabel("Models on this computer")
        heading.setObjectName("sectionHeading")
        layout.addWidget(heading)
        buttons = QHBoxLayout()
        buttons.addWidget(self.open_button)
        buttons.addWidget(self.folder_button)
        layout.addLayout(buttons)
        self.folder_note = QLabel(f"Models folder: {models_dir}")
        self.folder_note.setObjectName("mutedLabel")
        self.folder_note.setWordWrap(True)
        layout.addWidget(self.folder_note)
        self.apps_box = QVBoxLayout()
        self.apps_box.setSpacing(2)
        layout.addLayout(self.apps_box)
        self.app_buttons: dict[str, QPushButton] = {}     # label -> its button
        self.file_buttons: list[QPushButton] = []

    def _place(self, card: QFrame) -> None:
        """The card centred in a scroll area (the list is long on a small screen)."""
        inner = QWidget()
        outer = QVBoxLayout(inner)
        outer.addStretch(1)
        row = QHBoxLayout()
        row.addStretch(1)
        row.addWidget(card, 10)
        row.addStretch(1)
        outer.addLayout(row)
        outer.addStretch(2)
        scroll = QScrollArea()
        scroll.setObjectName("welcomeScroll")
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        scroll.setWidget(inner)
        page = QVBoxLayout(self)
        page.setContentsMargins(0, 0, 0, 0)
        page.addWidget(scroll)

    # -- recommended models ------------------------------------------------------------------
    def show_checking(self) -> None:
        self.recommend_button.setEnabled(False)
        self._hub_text(CHECKING)

    def show_offers(self, offers: Sequence[Offer], fits: Sequence[SizeFit | None],
                    withdrawn: Sequence[str] = ()) -> None:
        """The checked list; `withdrawn` are the reasons some entries are not offered."""
        self.recommend_button.hide()
        self.recommended.show_offers(offers, fits)
        if not offers:
            self._hub_text(NONE_LEFT.format(reason=withdrawn[0] if withdrawn else "unknown"))
            self.recommend_button.setEnabled(True)
            self.recommend_button.setText("Ask again")
            self.recommend_button.show()
        else:
            self._hub_text("Pick one: it is downloaded into the models folder, then loaded.",
                           "\n".join(withdrawn))

    def show_offline(self, reason: str) -> None:
        """No hub: one line, and only the file and folder ways (`reason`: the hub's words)."""
        self.recommend_button.hide()
        self.recommended.clear()
        self.recommended.hide()
        self._hub_text(OFFLINE_LINE, reason)

    def show_check_failed(self, message: str) -> None:
        self.recommend_button.setEnabled(True)
        self._hub_text(f"Could not get the recommended models: {message}")

    def show_download(self, name: str, item: DownloadItem) -> None:
        self.recommended.show_download(name, item)

    def _hub_text(self, text: str, tip: str = "") -> None:
        self.hub_line.setText(text)
        self.hub_line.setToolTip(tip)
        self.hub_line.show()

    # -- other apps' models ------------------------------------------------------------------
    def set_app_folders(self, folders: Sequence[AppFolder]) -> None:
        """One button per app that keeps models here; a click lists its files to load."""
        _empty(self.apps_box)
        self.app_buttons, self.file_buttons = {}, []
        for folder in folders:
            button = QPushButton(folder.label)
            button.setObjectName("linkButton")
            button.setCheckable(True)
            button.setToolTip("\n".join(str(r) for r in folder.roots))
            files = QWidget()
            box = QVBoxLayout(files)
            box.setContentsMargins(16, 0, 0, 0)
            box.setSpacing(0)
            for path in folder.files:
                load = QPushButton(f"Load {model_label(str(path))}")
                load.setObjectName("linkButton")
                load.setToolTip(str(path))
                load.clicked.connect(lambda _c=False, p=str(path): self.fileChosen.emit(p))
                box.addWidget(load)
                self.file_buttons.append(load)
            files.hide()
            button.toggled.connect(files.setVisible)
            self.apps_box.addWidget(button)
            self.apps_box.addWidget(files)
            self.app_buttons[folder.label] = button

    # -- recent models and status -------------------------------------------------------------
    def set_recent(self, paths: list[str]) -> None:
        _empty(self.recent_box)
        shown = [p for p in paths if p != "starter"][:4]
        self.recent_title.setVisible(bool(shown))
        for path in shown:
            button = QPushButton(model_label(path))
            button.setObjectName("linkButton")
            button.setToolTip(path)
            button.setAccessibleName(f"Load {model_label(path)}")
            button.clicked.connect(lambda _checked=False, p=path: self.recentRequested.emit(p))
            self.recent_box.addWidget(button)

    def set_status(self, text: str) -> None:
        self.status.setText(text)

    def open_models_folder(self) -> None:
        self._models_dir.mkdir(parents=True, exist_ok=True)
        QDesktopServices.openUrl(QUrl.fromLocalFile(str(self._models_dir)))


def _empty(box: QVBoxLayout) -> None:
    while box.count():
        item = box.takeAt(0)
        if item.widget():
            item.widget().deleteLater()
