"""The Library and Hub pages, offscreen: listing, filters, actions, drag-and-drop import, hub
search, downloads with pause/cancel, and the offline banner (stand-in hub on 127.0.0.1)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl
from PySide6.QtGui import QDragEnterEvent, QDropEvent

from app.hub.page import HubPage
from app.library.model import ENTRY_ROLE
from app.library.page import LibraryPage
from inference.hub.downloads import part_path
from inference.hub.queue import DownloadState
from inference.hub.search import OFFLINE_MESSAGE, list_gguf_files
from inference.library.library import FitSettings, Library
from tests.support.gguf_factory import write_broken, write_tiny_model
from tests.support.hub_server import StandInHub, stand_in_hub  # noqa: F401  (fixture)

pytestmark = pytest.mark.gui
FIT = FitSettings(n_ctx=512, available_ram=8 << 30)
REPO = "parley-test/Tiny-GGUF"


@pytest.fixture(autouse=True)
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "home"
    folder.mkdir()
    monkeypatch.setenv("HOME", str(folder))
    for key in ("HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE", "HF_HOME", "XDG_CACHE_HOME",
                "XDG_DATA_HOME"):
        monkeypatch.delenv(key, raising=False)
    return folder


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_tiny_model(tmp_path_factory.mktemp("tiny") / "tiny.gguf")


@pytest.fixture
def library(tiny: Path, home: Path) -> Library:
    lib = Library()
    lib.paths.ensure()
    shutil.copyfile(tiny, lib.models_dir / "alpha-F32.gguf")
    write_tiny_model(lib.models_dir / "beta-F16.gguf", f16=True, name="Beta")
    write_broken("bad_magic", lib.models_dir)
    lm = home / ".lmstudio" / "models" / "pub" / "repo" / "gamma.gguf"
    lm.parent.mkdir(parents=True)
    shutil.copyfile(tiny, lm)
    return lib


class Recorder:
    def __init__(self) -> None:
        self.calls: list[object] = []
        self.answer = True

    def __call__(self, *args: object) -> bool:
        self.calls.append(args)
        return self.answer


@pytest.fixture
def page(qtbot, library: Library):
    confirm, reveal = Recorder(), Recorder()
    widget = LibraryPage(library, fit_settings=lambda: FIT, confirm=confirm, reveal=reveal)
    widget.confirm, widget.reveal = confirm, reveal      # for the tests
    qtbot.addWidget(widget)
    refreshed(qtbot, widget)
    yield widget
    widget.shutdown()


def refreshed(qtbot, page: LibraryPage) -> None:
    with qtbot.waitSignal(page.modelsChanged, timeout=10_000):
        page.refresh()


def names(page: LibraryPage) -> list[str]:
    return [page.proxy.index(r, 0).data(ENTRY_ROLE).file_name
            for r in range(page.proxy.rowCount())]


def select(page: LibraryPage, file_name: str) -> None:
    entry = next(e for e in page.entries() if e.file_name == file_name)
    assert page.select_path(entry.path)


# --- Library page ------------------------------------------------------------------------------


def test_the_page_lists_every_source_off_the_gui_thread(page):
    assert sorted(names(page)) == ["alpha-F32.gguf", "bad_magic.gguf", "beta-F16.gguf",
                                   "gamma.gguf"]
    assert "4 models (1 with problems)" in page.status.text()
    row = {names(page)[r]: r for r in range(page.proxy.rowCount())}["gamma.gguf"]
    assert page.proxy.index(row, 8).data() == "LM Studio"
    assert page.proxy.index(row, 7).data() == "RAM"


def test_search_filters_and_sort(page):
    page.search.setText("beta")
    assert names(page) == ["beta-F16.gguf"]
    page.search.setText("")
    page.quant_filter.setCurrentIndex(page.quant_filter.findData("F16"))
    assert names(page) == ["beta-F16.gguf"]
    page.quant_filter.setCurrentIndex(0)
    page.arch_filter.setCurrentIndex(page.arch_filter.findData("llama"))
    assert "bad_magic.gguf" not in names(page) and len(names(page)) == 3
    page.arch_filter.setCurrentIndex(0)
    page.table.sortByColumn(5, Qt.SortOrder.DescendingOrder)            # size
    sizes = [page.proxy.index(r, 0).data(ENTRY_ROLE).size for r in range(page.proxy.rowCount())]
    assert sizes == sorted(sizes, reverse=True)


def test_load_emits_the_path_and_a_broken_file_cannot_be_loaded(qtbot, page):
    select(page, "alpha-F32.gguf")
    assert page.load_button.isEnabled()
    with qtbot.waitSignal(page.loadRequested) as blocker:
        page.load_button.click()
    assert blocker.args == [str(page.library.models_dir / "alpha-F32.gguf")]
    select(page, "bad_magic.gguf")
    assert not page.load_button.isEnabled()
    with qtbot.waitSignal(page.errorOccurred):
        page.load_selected()


def test_reveal_opens_the_folder(page):
    select(page, "gamma.gguf")
    page.reveal_button.click()
    assert page.reveal.calls == [(Path(os.environ["HOME"]) / ".lmstudio/models/pub/repo",)]


def test_delete_asks_first_and_never_touches_other_apps_files(qtbot, page):
    target = page.library.models_dir / "alpha-F32.gguf"
    select(page, "alpha-F32.gguf")
    page.confirm.answer = False
    page.delete_button.click()
    assert target.exists() and "alpha-F32.gguf" in page.confirm.calls[0][1]
    page.confirm.answer = True
    with qtbot.waitSignal(page.modelsChanged, timeout=10_000):
        page.delete_button.click()
    assert not target.exists() and "alpha-F32.gguf" not in names(page)
    select(page, "gamma.gguf")
    assert not page.delete_button.isEnabled()
    assert "LM Studio" in page.delete_button.toolTip()


def test_dropping_gguf_files_imports_them(qtbot, page, tiny, tmp_path):
    dropped = shutil.copyfile(tiny, tmp_path / "dropped.gguf")
    (tmp_path / "notes.txt").write_text("not a model")
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(dropped)), QUrl.fromLocalFile(str(tmp_path / "x.txt"))])
    enter = QDragEnterEvent(page.rect().center(), Qt.DropAction.CopyAction, mime,
                            Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier)
    page.dragEnterEvent(enter)
    assert enter.isAccepted()
    drop = QDropEvent(QPointF(page.rect().center()), Qt.DropAction.CopyAction, mime,
                      Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier)
    with qtbot.waitSignal(page.modelsChanged, timeout=10_000):
        page.dropEvent(drop)
    assert (page.library.models_dir / "dropped.gguf").exists() and dropped.exists()
    assert "dropped.gguf" in names(page)


def test_add_a_folder(qtbot, page, tiny, tmp_path):
    folder = tmp_path / "more"
    folder.mkdir()
    shutil.copyfile(tiny, folder / "delta.gguf")
    with qtbot.waitSignal(page.modelsChanged, timeout=10_000):
        page.add_folder(folder)
    assert "delta.gguf" in names(page)
    with qtbot.waitSignal(page.errorOccurred):
        page.add_folder(tmp_path / "missing")
    page._fill_folders_menu()
    assert [a.text() for a in page.folders_menu.actions() if a.text()][-1] == \
        f"Remove {folder.resolve()}"


def test_fit_follows_new_settings(qtbot, page):
    with qtbot.waitSignal(page.modelsChanged, timeout=10_000):
        page.set_fit_settings(lambda: FitSettings(n_ctx=512, available_ram=1 << 20))
    fits = {page.proxy.index(r, 0).data(ENTRY_ROLE).file_name: page.proxy.index(r, 7).data()
            for r in range(page.proxy.rowCount())}
    assert fits["alpha-F32.gguf"] == "Too large" and fits["bad_magic.gguf"] == "Unreadable"


# --- Hub page ----------------------------------------------------------------------------------


@pytest.fixture
def hub(stand_in_hub: StandInHub, tiny: Path) -> StandInHub:  # noqa: F811
    data = tiny.read_bytes()
    stand_in_hub.add_repo(REPO, {"tiny-Q4_K_M.gguf": data, "tiny-Q8_0.gguf": data + b"\0" * 64,
                                 "big-IQ3_XS.gguf": os.urandom(2_000_000)}, downloads=10)
    return stand_in_hub


@pytest.fixture
def hub_page(qtbot, library: Library):
    widget = HubPage(library.models_dir, fit_settings=lambda: FIT)
    qtbot.addWidget(widget)
    yield widget
    widget.shutdown()


def test_search_list_files_and_download(qtbot, hub, hub_page):
    hub_page.search_box.setText("tiny")
    hub_page.search_button.click()
    qtbot.waitUntil(lambda: hub_page.results.rowCount() == 1, timeout=10_000)
    assert hub_page.results.item(0, 0).text() == REPO and hub_page.offline_banner.isHidden()
    hub_page.results.selectRow(0)
    qtbot.waitUntil(lambda: hub_page.file_table.rowCount() == 3, timeout=10_000)
    quants = {hub_page.file_table.item(r, 1).text() for r in range(3)}
    assert quants == {"Q4_K_M", "Q8_0", "IQ3_XS"}
    row = next(r for r in range(3) if hub_page.file_table.item(r, 1).text() == "Q4_K_M")
    assert hub_page.file_table.item(row, 3).text().startswith("fits in RAM")
    hub_page.file_table.selectRow(row)
    with qtbot.waitSignal(hub_page.downloaded, timeout=20_000) as blocker:
        hub_page.download_button.click()
    path = Path(blocker.args[0])
    assert path == hub_page.models_dir / "tiny-Q4_K_M.gguf" and path.exists()
    item_id = next(iter(hub_page.downloads.items))
    qtbot.waitUntil(lambda: hub_page.downloads.state_of(item_id) == DownloadState.DONE)
    assert hub_page.downloads.table.item(0, 2).text() == "Done"


def test_hub_fit_follows_new_settings(qtbot, hub, hub_page):
    """The Hub's fit column is judged again when the settings change (the model panel's
    context / GPU layers in the window), without listing the repository again."""
    hub_page.open_repo(REPO)
    qtbot.waitUntil(lambda: hub_page.file_table.rowCount() == 3, timeout=10_000)
    fits = lambda: {hub_page.file_table.item(r, 3).text().split(":")[0] for r in range(3)}  # noqa: E731
    assert fits() == {"fits in RAM"}
    hub_page.set_fit_settings(lambda: FitSettings(n_ctx=512, available_ram=1 << 20))
    assert fits() == {"too large"}
    gpu = FitSettings(n_ctx=512, n_gpu_layers=-1, free_vram=8 << 30, available_ram=1 << 20)
    hub_page.set_fit_settings(lambda: gpu)
    assert fits() == {"fits on the GPU"}


def test_pause_resume_and_cancel_from_the_queue(qtbot, hub, hub_page):
    hub.delay_s = 0.02
    big = next(f for f in list_gguf_files(REPO) if f.quant == "IQ3_XS")
    item_id = hub_page.download(big)
    downloads = hub_page.downloads
    qtbot.waitUntil(lambda: item_id in downloads.items
                    and downloads.state_of(item_id) == DownloadState.RUNNING, timeout=10_000)
    downloads.select(item_id)
    downloads.pause_button.click()
    qtbot.waitUntil(lambda: downloads.state_of(item_id) == DownloadState.PAUSED, timeout=10_000)
    assert part_path(hub_page.models_dir / big.name).exists()
    downloads.resume_button.click()
    qtbot.waitUntil(lambda: downloads.state_of(item_id) == DownloadState.RUNNING, timeout=10_000)
    downloads.cancel_button.click()
    qtbot.waitUntil(lambda: downloads.state_of(item_id) == DownloadState.CANCELLED,
                    timeout=10_000)
    assert not part_path(hub_page.models_dir / big.name).exists()


def test_an_unfinished_download_comes_back_paused(qtbot, hub, library):
    hub.delay_s = 0.02
    big = next(f for f in list_gguf_files(REPO) if f.quant == "IQ3_XS")
    first = HubPage(library.models_dir, fit_settings=lambda: FIT)
    qtbot.addWidget(first)
    item_id = first.download(big)
    qtbot.waitUntil(lambda: (first.queue.get(item_id).progress or _Zero).done > 0,
                    timeout=10_000)
    first.shutdown()                                   # Parley closes mid-download
    hub.delay_s = 0.0
    second = HubPage(library.models_dir, fit_settings=lambda: FIT)
    qtbot.addWidget(second)
    [again] = second.queue.items()
    assert again.state == DownloadState.PAUSED and again.file == big
    with qtbot.waitSignal(second.downloaded, timeout=20_000):
        second.queue.resume(again.id)
    second.shutdown()


class _Zero:
    done = 0


def test_offline_shows_a_plain_banner(qtbot, library, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    page = HubPage(library.models_dir, fit_settings=lambda: FIT)
    qtbot.addWidget(page)
    assert not page.offline_banner.isHidden() and page.offline_banner.text() == OFFLINE_MESSAGE
    assert not page.search_button.isEnabled()
    page.shutdown()


def test_no_network_shows_the_banner_after_a_search(qtbot, library, monkeypatch):
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{port}")
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    page = HubPage(library.models_dir, fit_settings=lambda: FIT)
    qtbot.addWidget(page)
    page.search("anything")
    qtbot.waitUntil(lambda: not page.offline_banner.isHidden(), timeout=10_000)
    assert "can't reach the Hugging Face hub" in page.offline_banner.text()
    assert page.search_button.isEnabled()
    page.shutdown()


def test_the_pages_open_no_connection(library, tmp_path):
    """Build both pages and list the library in a fresh process under a socket audit hook."""
    import subprocess
    import sys

    script = (
        "import sys\n"
        "events = []\n"
        "sys.addaudithook(lambda e, a: events.append(e) if e.startswith("
        "('socket.connect', 'socket.getaddrinfo')) else None)\n"
        "from PySide6.QtWidgets import QApplication\n"
        "from app.library.page import LibraryPage\n"
        "from app.hub.page import HubPage\n"
        "app = QApplication([])\n"
        "lib, hub = LibraryPage(), HubPage()\n"
        "seen = []\n"
        "lib.modelsChanged.connect(seen.append)\n"
        "lib.refresh()\n"
        "import time\n"
        "end = time.monotonic() + 30\n"
        "while not seen and time.monotonic() < end:\n"
        "    app.processEvents()\n"
        "    time.sleep(0.01)\n"
        "lib.shutdown(); hub.shutdown()\n"
        "print('MODELS', len(seen[0]), 'EVENTS', events)\n"
    )
    root = Path(__file__).resolve().parents[2]
    env = dict(os.environ, PYTHONPATH=str(root), QT_QPA_PLATFORM="offscreen")
    done = subprocess.run([sys.executable, "-c", script], cwd=root, capture_output=True,
                          text=True, timeout=120, env=env)
    assert done.returncode == 0, done.stderr
    assert "MODELS 4 EVENTS []" in done.stdout, done.stdout + done.stderr
