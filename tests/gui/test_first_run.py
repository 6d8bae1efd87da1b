"""The first run as a person who just installed Parley meets it, on the real window.

The recommended models are checked against a stand-in hub on 127.0.0.1 (tests/support/
hub_server.py): what it has is offered, a renamed, changed or missing file is not; a pick
downloads through the Hub page's queue and loads. Offline, one line says so and the file and
other apps' folders remain (a fake HOME with an LM Studio folder). The bundle's wording is
asked for through the wording helpers' `frozen` parameter, and the bundle's first-run
self-test (`parley --self-test --first-run`) is run on the window and in a fresh process.
"""

from __future__ import annotations

import dataclasses
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from PySide6.QtCore import Qt

from app.engine.build_read import BuildReport, read_build
from app.settings.gpu_layers import no_offload_note
from app.shell.first_run_check import other_app_folders
from app.shell.selftest_first_run import FirstRunCheckError, check_first_run, save_window
from app.shell.welcome import OFFLINE_LINE, WelcomePage
from app.shell.window import MainWindow
from inference.common.install import developer_wording
from inference.hub.queue import DownloadState
from inference.library.recommended import RecommendedModel, load_recommended
from inference.library.starter import starter_missing_message
from inference.memory.fit import human_bytes
from tests.support.gguf_factory import SIMPLE_CHAT_TEMPLATE, write_tiny_model
from tests.support.gui_window import MakeWindow, gpu_build
from tests.support.hub_server import StandInHub, stand_in_hub  # noqa: F401  (fixture)

pytestmark = pytest.mark.gui
ROOT = Path(__file__).resolve().parents[2]
REPO = "parley-test/Tiny-Chat-GGUF"
FILE = "tiny-chat-Q8_0.gguf"


def model(name: str, file: str = FILE, repo: str = REPO, sha256: str | None = None,
          quant: str = "Q8_0") -> RecommendedModel:
    return RecommendedModel(name=name, repo=repo, file=file, quant=quant, size=123_456_789,
                            sha256=sha256, licence="MIT", good_for=f"{name} for the tests.")


@pytest.fixture(autouse=True)
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh HOME: other apps' folders are looked for only there."""
    folder = tmp_path / "home"
    folder.mkdir()
    monkeypatch.setenv("HOME", str(folder))
    for key in ("HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE", "HF_HOME", "XDG_CACHE_HOME",
                "XDG_DATA_HOME", "HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"):
        monkeypatch.delenv(key, raising=False)
    return folder


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    path = tmp_path_factory.mktemp("tiny") / "tiny-chat.gguf"
    return write_tiny_model(path, chat_template=SIMPLE_CHAT_TEMPLATE).read_bytes()


@pytest.fixture
def hub(stand_in_hub: StandInHub, tiny: bytes) -> StandInHub:  # noqa: F811
    stand_in_hub.add_repo(REPO, {FILE: tiny, "tiny-chat-Q4_K_M.gguf": tiny[:-8] + bytes(8),
                                 "README.md": b"# tiny"})
    return stand_in_hub


def welcome_window(qtbot, make_window: MakeWindow, models: list[RecommendedModel],
                   **kwargs) -> MainWindow:
    window = make_window(**kwargs)
    window.first_run.models = tuple(models)
    welcome = window.welcome                                       # after the folder scan
    qtbot.waitUntil(lambda: not window.first_run.tasks.busy
                    and all(b.isVisible() for b in welcome.app_buttons.values()),
                    timeout=10_000)
    assert window.pages.currentWidget() is window.welcome
    return window


def ask_for_the_list(qtbot, window: MainWindow) -> None:
    qtbot.mouseClick(window.welcome.recommend_button, Qt.MouseButton.LeftButton)
    rows = window.welcome.recommended
    qtbot.waitUntil(lambda: not window.first_run.checking       # and the new rows shown (Qt
                    and all(r.button.isVisible() for r in rows.rows),   # shows them queued)
                    timeout=20_000)


def test_the_hubs_files_are_offered_and_a_renamed_changed_or_missing_one_is_not(
        qtbot, make_window: MakeWindow, hub: StandInHub, tiny: bytes) -> None:
    models = [model("Tiny Chat"),
              model("Tiny Chat small", "tiny-chat-Q4_K_M.gguf", quant="Q4_K_M"),
              model("Renamed", "tiny-chat-old-name-Q8_0.gguf"),
              model("Changed", FILE, sha256="0" * 64),
              model("Gone", repo="parley-test/No-Such-GGUF")]
    window = welcome_window(qtbot, make_window, models)
    welcome = window.welcome
    assert hub.requests == []                        # nothing goes online until asked
    assert welcome.recommend_button.isVisible() and not welcome.recommended.rows
    ask_for_the_list(qtbot, window)
    rows = welcome.recommended.rows
    assert [r.offer.model.name for r in rows] == ["Tiny Chat", "Tiny Chat small"]
    first = rows[0]
    assert first.name.text() == f"Tiny Chat  ·  {human_bytes(len(tiny))}  ·  Q8_0"  # the hub's
    assert first.details.text() == "Tiny Chat for the tests."
    assert first.fit.text() == "Licence: MIT  ·  Fits in memory"
    assert first.fit.toolTip().startswith("fits in RAM: ~")
    assert first.button.isVisible() and first.button.isEnabled()
    assert not welcome.recommend_button.isVisible()
    why = welcome.hub_line.toolTip()
    assert "Renamed: tiny-chat-old-name-Q8_0.gguf is no longer in" in why
    assert "Changed: tiny-chat-Q8_0.gguf in parley-test/Tiny-Chat-GGUF changed since" in why
    assert "Gone: the model repo parley-test/No-Such-GGUF was not found" in why
    listings = [r for r in hub.requests if r["path"] == f"/api/models/{REPO}/revision/main"]
    assert len(listings) == 1                        # one request per repo, not per entry


def test_a_pick_downloads_through_the_hub_queue_and_loads(
        qtbot, make_window: MakeWindow, hub: StandInHub, tiny: bytes) -> None:
    window = welcome_window(qtbot, make_window, [model("Tiny Chat")])
    ask_for_the_list(qtbot, window)
    qtbot.mouseClick(window.welcome.recommended.rows[0].button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: window.ctx.client.loaded is not None, timeout=20_000)
    target = window.ctx.models_dir / FILE
    assert window.ctx.client.last_spec.model == str(target)
    assert target.read_bytes() == tiny
    hub_page = window.switcher.page("hub")                       # the one download queue
    assert hub_page.downloads.state_of(window.first_run.item_id) == DownloadState.DONE
    assert hub_page.downloads.items[window.first_run.item_id].path == target
    assert window.pages.currentWidget() is window.chat_page      # pick → download → chat
    assert window.welcome.recommended.progress_text.text().startswith("Done Tiny Chat")


def test_a_failed_download_resumes_from_the_welcome_view(
        qtbot, make_window: MakeWindow, hub: StandInHub) -> None:
    window = welcome_window(qtbot, make_window, [model("Tiny Chat")])
    ask_for_the_list(qtbot, window)
    hub.missing_blob.add(FILE)                                   # the hub fails the file
    recommended = window.welcome.recommended
    qtbot.mouseClick(recommended.rows[0].button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: recommended.resume_button.isVisible(), timeout=20_000)
    assert recommended.progress_text.text().startswith("Failed Tiny Chat: ")
    assert recommended.rows[0].button.isEnabled()                # another pick is possible
    assert window.ctx.client.loaded is None
    hub.missing_blob.discard(FILE)
    qtbot.mouseClick(recommended.resume_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: window.ctx.client.loaded is not None, timeout=20_000)
    assert window.ctx.client.last_spec.model == str(window.ctx.models_dir / FILE)


def lm_studio_model(home: Path) -> Path:
    folder = home / ".lmstudio" / "models" / "someone" / "Tiny-GGUF"
    folder.mkdir(parents=True)
    return write_tiny_model(folder / "tiny-Q8_0.gguf", chat_template=SIMPLE_CHAT_TEMPLATE)


def test_offline_says_so_and_offers_the_file_and_other_apps_folders(
        qtbot, make_window: MakeWindow, home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    path = lm_studio_model(home)
    window = welcome_window(qtbot, make_window, [model("Tiny Chat")])
    welcome = window.welcome
    assert welcome.hub_line.isVisible() and welcome.hub_line.text() == OFFLINE_LINE
    assert "HF_HUB_OFFLINE=1" in welcome.hub_line.toolTip()      # the hub's own reason
    assert not welcome.recommend_button.isVisible() and not welcome.recommended.isVisible()
    assert welcome.open_button.isVisible()
    assert list(welcome.app_buttons) == ["Use models from LM Studio (1 file)"]
    qtbot.mouseClick(welcome.app_buttons["Use models from LM Studio (1 file)"],
                     Qt.MouseButton.LeftButton)
    [load] = welcome.file_buttons
    assert load.isVisible() and load.toolTip() == str(path)
    qtbot.mouseClick(load, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: window.ctx.client.loaded is not None, timeout=10_000)
    assert window.ctx.client.last_spec.model == str(path)


def test_other_apps_are_grouped_one_entry_per_model(home: Path, tiny: bytes) -> None:
    snapshot = home / ".cache/huggingface/hub/models--org--Big-GGUF/snapshots/abc123"
    snapshot.mkdir(parents=True)
    for part in (1, 2):                            # a split model is one model
        (snapshot / f"big-Q4_K_M-0000{part}-of-00002.gguf").write_bytes(tiny)
    gpt4all = home / ".local/share/nomic.ai/GPT4All"
    gpt4all.mkdir(parents=True)
    (gpt4all / "chat.gguf").write_bytes(tiny)
    (home / ".lmstudio/models").mkdir(parents=True)          # LM Studio, but no models
    folders = other_app_folders()
    assert [f.label for f in folders] == ["Use models from Hugging Face cache (1 file)",
                                          "Use models from GPT4All (1 file)"]
    assert [p.name for p in folders[0].files] == ["big-Q4_K_M-00001-of-00002.gguf"]


def test_no_network_is_offline_too(qtbot, make_window: MakeWindow,
                                   monkeypatch: pytest.MonkeyPatch) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]                  # nothing listens there
    monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{port}")
    window = welcome_window(qtbot, make_window, [model("Tiny Chat")])
    assert window.welcome.app_buttons == {}        # no other app's models in this HOME
    ask_for_the_list(qtbot, window)
    welcome = window.welcome
    assert welcome.hub_line.text() == OFFLINE_LINE
    assert "can't reach the Hugging Face hub" in welcome.hub_line.toolTip()
    assert not welcome.recommended.rows and not welcome.recommend_button.isVisible()


# -- what a bundle says ---------------------------------------------------------------------------


def test_a_bundle_never_sends_anyone_to_pip_or_make() -> None:
    assert developer_wording(starter_missing_message(frozen=False)) == ["pip"]  # source install
    assert developer_wording(starter_missing_message(frozen=True)) == []
    assert "make rebuild-llama" in developer_wording(no_offload_note(frozen=False))
    assert developer_wording(no_offload_note(frozen=True)) == []
    assert no_offload_note(frozen=True).startswith("This llama.cpp build has no GPU offload")
    assert developer_wording("Run pip install x, then make test-fast; see the README.") == [
        "pip", "make test-fast", "README"]
    assert developer_wording("make the ladder from the pipeline's file") == []


def test_without_the_starter_package_no_starter_button_is_offered(qtbot, tmp_path) -> None:
    page = WelcomePage(tmp_path, starter_available=False)
    qtbot.addWidget(page)
    page.show()
    assert page.starter_button.isHidden() and page.starter_note.isHidden()
    assert page.recommend_button.objectName() == "primaryButton"   # the first way in, then
    with_starter = WelcomePage(tmp_path, starter_available=True)
    qtbot.addWidget(with_starter)
    assert not with_starter.starter_button.isHidden()


# -- the bundle's first-run self-test ---------------------------------------------------------


@pytest.fixture
def shipped_hub(stand_in_hub: StandInHub, tiny: bytes,  # noqa: F811
                monkeypatch: pytest.MonkeyPatch) -> StandInHub:
    """The stand-in hub serving every shipped recommended model, as package-check runs it."""
    monkeypatch.setattr(sys, "path", [str(ROOT / "packaging"), *sys.path])
    from first_run_hub import serve_recommended

    serve_recommended(stand_in_hub, load_recommended(), tiny)
    return stand_in_hub


def cpu_build(_cancel: object = None) -> BuildReport:
    """This llama.cpp build, reported as one with no GPU offload."""
    return BuildReport(dataclasses.replace(read_build().info, gpu_backend="none",
                                           backends=("CPU",)))


def test_the_first_run_check_passes_on_a_clean_first_run(qtbot, make_window: MakeWindow,
                                                         shipped_hub: StandInHub) -> None:
    window = make_window(build=gpu_build())            # its GPU note gives no build advice
    count = len(load_recommended())
    assert check_first_run(window, 20) == (
        f"welcome view with {count} of {count} recommended models offered, no "
        "pip/make/README wording")


def test_the_first_run_check_counts_a_renamed_file(qtbot, make_window: MakeWindow,
                                                   stand_in_hub: StandInHub,  # noqa: F811
                                                   tiny: bytes, monkeypatch) -> None:
    monkeypatch.setattr(sys, "path", [str(ROOT / "packaging"), *sys.path])
    from first_run_hub import serve_recommended

    models = load_recommended()
    serve_recommended(stand_in_hub, models, tiny, renamed=[models[0].file])
    window = make_window(build=gpu_build())
    assert check_first_run(window, 20).startswith(
        f"welcome view with {len(models) - 1} of {len(models)} recommended models offered")


def test_the_first_run_check_finds_developer_advice(qtbot, make_window: MakeWindow,
                                                    shipped_hub: StandInHub) -> None:
    window = make_window(build=cpu_build)              # a source install's GPU note
    with pytest.raises(FirstRunCheckError) as err:
        check_first_run(window, 20)
    assert str(err.value).startswith("the window gives developer advice: make rebuild-llama, "
                                     "README in QLabel")


def test_the_first_run_check_refuses_a_starter_button_that_cannot_work(
        qtbot, make_window: MakeWindow, shipped_hub: StandInHub) -> None:
    window = make_window(build=gpu_build())            # the starter package is installed here
    assert not window.welcome.starter_button.isHidden()
    with pytest.raises(FirstRunCheckError, match="offers the starter model, which this install"):
        check_first_run(window, 20, starter=False)     # as a bundle without it would


def test_an_install_without_the_starter_offers_it_nowhere(
        qtbot, make_window: MakeWindow, shipped_hub: StandInHub, monkeypatch) -> None:
    """The bundle has no starter package (its absence is faked here, the one boundary a source
    install cannot reach): neither the welcome view nor the model picker offers it, and the
    first-run check would say so if either did."""
    import app.shell.welcome as welcome_module
    from app.engine.worker import STARTER

    monkeypatch.setattr(welcome_module, "starter_installed", lambda: False)
    window = make_window(build=gpu_build())
    assert window.welcome.starter_button.isHidden()
    assert window.model_panel.picker.findData(STARTER) < 0
    assert check_first_run(window, 20, starter=False).startswith("welcome view with")
    window.model_panel.set_models([], starter=True)       # as the picker was before the fix
    with pytest.raises(FirstRunCheckError, match="the model picker offers the starter model"):
        check_first_run(window, 20, starter=False)


def test_the_self_test_flag_runs_the_first_run_check(shipped_hub: StandInHub, home: Path) -> None:
    env = dict(os.environ, PYTHONPATH=str(ROOT), QT_QPA_PLATFORM="offscreen", HOME=str(home))
    done = subprocess.run([sys.executable, "-m", "app.shell.launcher", "--self-test",
                           "--first-run", "--timeout", "60"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=180)
    line = done.stdout.strip().splitlines()[-1] if done.stdout.strip() else done.stderr
    if read_build().offloads:                          # a GPU build: nothing to advise
        assert done.returncode == 0, line
        assert line.startswith("Parley first run: passed: welcome view with ")
    else:                                              # a source install advises make
        assert done.returncode == 1, line
        assert line.startswith("Parley first run: FAILED: the window gives developer "
                               "advice: make rebuild-llama"), line
    assert any(r["path"].startswith("/api/models/") for r in shipped_hub.requests)


def test_the_first_run_screenshot_is_the_window_as_checked(qtbot, make_window: MakeWindow,
                                                          shipped_hub: StandInHub,
                                                          tmp_path: Path) -> None:
    """`--self-test --first-run --screenshot` (make screenshots, on the bundle) saves what the
    check saw: the welcome view with the recommended models listed."""
    from PySide6.QtGui import QImage

    window = make_window(build=gpu_build())
    check_first_run(window, 20)
    shot = tmp_path / "shots" / "first-run.png"
    save_window(window, shot)
    image = QImage(str(shot))
    assert not image.isNull()
    assert (image.width(), image.height()) == (window.width(), window.height())
    assert len({image.pixel(x, image.height() // 2) for x in range(0, image.width(), 7)}) > 2
