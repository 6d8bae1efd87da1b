"""Downloads from a hostile or broken hub (issue 16: items 1, 3, 7, 11, 12): names that are paths,
no checksum, no size, too many or too few bytes, a full disk, a 404, a request storm — against
the stand-in hub on 127.0.0.1 (tests/support/hub_server.py) with its misbehaving modes."""

from __future__ import annotations

import json
import ntpath
import os
import posixpath
import shutil
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

from inference.hub.disk import MIN_MARGIN, DiskSpaceError
from inference.hub.downloads import (
    DownloadCheck,
    DownloadInterruptedError,
    download_check,
    download_model,
    part_path,
    pending_downloads,
)
from inference.hub.names import UnsafeFileNameError, local_name
from inference.hub.queue import DownloadQueue, DownloadState
from inference.hub.retries import Failures, RetryPolicy
from inference.hub.search import HubError, HubFile, list_gguf_files
from inference.library.library import FitSettings, Library
from inference.library.provenance import read_record, record_path
from inference.library.sources import FolderSource
from tests.support.gguf_factory import write_tiny_model
from tests.support.hub_server import StandInHub, stand_in_hub  # noqa: F401  (fixture)

REPO = "parley-test/Hostile-GGUF"
NAME = "tiny-Q8_0.gguf"
DATA = os.urandom(3_000_000)
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def hub(stand_in_hub: StandInHub) -> StandInHub:  # noqa: F811
    stand_in_hub.add_repo(REPO, {NAME: DATA, "small-Q4_0.gguf": DATA[:100_000]})
    return stand_in_hub


def the_file(name: str = NAME, repo: str = REPO) -> HubFile:
    return next(f for f in list_gguf_files(repo) if f.name == name)


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.glob("*.part*"))


# --- 1. names that are paths -------------------------------------------------------------------

HOSTILE = {
    posixpath: ["../x.gguf", "/etc/x.gguf", "a/../../x.gguf", "./x.gguf", "a//x.gguf"],
    ntpath: ["..\\..\\..\\x.gguf", "C:x.gguf", "C:\\x.gguf", "\\x.gguf", "\\\\srv\\s\\x.gguf",
             "x.gguf:stream", "CON.gguf", "x.gguf."],
}
PLAIN = ["x.gguf", "BF16/x-00001-of-00002.gguf", "a b (1).gguf", "ünïcode-Q4_K_M.gguf"]


@pytest.mark.parametrize("rules", [posixpath, ntpath], ids=["posixpath", "ntpath"])
def test_names_that_are_paths_are_refused_under_each_platforms_rules(rules: ModuleType):
    for name in HOSTILE[rules]:
        with pytest.raises(UnsafeFileNameError, match="refusing to download") as err:
            local_name(name, "org/repo", rules=(rules,))
        assert name in str(err.value) and "\n" not in str(err.value)
    for name in PLAIN:
        saved = local_name(name, "org/repo", rules=(rules,))
        joined = rules.normpath(rules.join("dest", saved))
        assert rules.dirname(joined) == "dest" and rules.basename(joined) == saved


@pytest.mark.parametrize("rules", [posixpath, ntpath], ids=["posixpath", "ntpath"])
def test_a_hub_name_that_is_a_path_is_refused_before_any_request(hub, tmp_path, rules):
    """The hub lists the file; the download is refused by name, under the default rules (both
    platforms at once), whatever this machine runs."""
    hostile = HOSTILE[rules][0]
    hub.add_repo("parley-test/Evil-GGUF", {hostile: b"GGUF" + b"\0" * 100})
    file = list_gguf_files("parley-test/Evil-GGUF")[0]
    dest = tmp_path / "a" / "b" / "c" / "models"
    with pytest.raises(UnsafeFileNameError, match="refusing to download") as err:
        download_model(file, dest)
    assert hostile in str(err.value)
    assert not [r for r in hub.requests if "/resolve/" in r["path"] or "_blobs" in r["path"]]
    assert [p for p in tmp_path.rglob("*") if p.is_file()] == []


def test_a_sidecar_naming_a_path_is_not_resumed(tmp_path):
    model = {"repo_id": "o/r", "filename": "..\\x.gguf", "quant": None, "revision": "main",
             "parts": [["..\\x.gguf", 5, None]]}
    (tmp_path / "x.gguf.part.json").write_text(json.dumps({"model": model}))
    assert pending_downloads(tmp_path) == []


# --- 3. no checksum: size checked, "not verified" said everywhere -------------------------------


def test_a_file_without_sha256_is_size_checked_and_marked_not_verified(hub, tmp_path, capsys):
    from inference.cli import main

    hub.no_sha256.add(NAME)
    file = the_file()
    assert file.sha256 is None and not file.verifiable and file.size == len(DATA)
    path = download_model(file, tmp_path)
    assert path.read_bytes() == DATA and leftovers(tmp_path) == []
    record = read_record(path)
    assert record is not None and record.check == DownloadCheck.SIZE
    assert download_check(file, tmp_path) == DownloadCheck.SIZE
    entry = next(e for e in Library(sources=[FolderSource(tmp_path)]).entries()
                 if e.path == path)
    assert entry.unverified and entry.to_dict()["verified"] is False

    assert main(["download", REPO, NAME, "--dest", str(tmp_path), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert (result["verified"], result["check"]) == (False, "size")
    path.unlink()
    assert main(["download", REPO, NAME, "--dest", str(tmp_path)]) == 0
    assert "not verified" in capsys.readouterr().out
    assert main(["files", REPO]) == 0
    line = next(x for x in capsys.readouterr().out.splitlines() if NAME in x)
    assert "not verified" in line


def test_a_checked_download_is_recorded_as_verified(hub, tmp_path, capsys):
    from inference.cli import main

    assert main(["download", REPO, NAME, "--dest", str(tmp_path), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert (result["verified"], result["check"]) == (True, "sha256")
    entry = next(e for e in Library(sources=[FolderSource(tmp_path)]).entries()
                 if e.file_name == NAME)
    assert entry.download_check == DownloadCheck.SHA256 and not entry.unverified


def test_a_record_for_another_version_of_the_file_counts_for_nothing(hub, tmp_path):
    hub.no_sha256.add(NAME)
    path = download_model(the_file(), tmp_path)
    path.write_bytes(DATA[:1000])                       # replaced since: the record is stale
    assert read_record(path) is None
    entry = next(e for e in Library(sources=[FolderSource(tmp_path)]).entries()
                 if e.path == path)
    assert entry.download_check is None and not entry.unverified


def test_deleting_a_download_removes_its_record(hub, home_library: Library):
    hub.no_sha256.add(NAME)
    path = download_model(the_file(), home_library.models_dir)
    assert record_path(path).exists()
    home_library.delete(path)
    assert not record_path(path).exists()


@pytest.mark.parametrize("announced", [True, False], ids=["announced", "unannounced"])
def test_more_bytes_than_announced_stop_the_download_and_nothing_is_kept(hub, tmp_path,
                                                                          announced):
    hub.no_sha256.add(NAME)                   # no checksum to catch it: the size must
    hub.extra_bytes[NAME] = 5_000_000
    if not announced:
        hub.no_length.add(NAME)
    seen = []
    with pytest.raises(HubError, match=f"{NAME}: the hub (sent more|announces)"):
        download_model(the_file(), tmp_path, progress=seen.append)
    assert leftovers(tmp_path) == [] and not (tmp_path / NAME).exists()
    assert all(p.done <= len(DATA) for p in seen)


def test_fewer_bytes_than_announced_are_never_kept_as_the_file(hub, tmp_path):
    hub.no_sha256.add(NAME)
    hub.short_200[NAME] = 1_000
    with pytest.raises(DownloadInterruptedError):
        download_model(the_file(), tmp_path, retries=1, retry_wait_s=0.001)
    assert not (tmp_path / NAME).exists()


# --- 12. no size in the listing ------------------------------------------------------------------


def test_a_listing_without_sizes_is_read_and_downloads_still_check(hub, tmp_path, capsys):
    from inference.cli import main

    hub.no_size.add(NAME)
    file = the_file()
    assert file.size is None and file.sha256 is not None
    assert main(["files", REPO]) == 0
    assert "size unknown" in capsys.readouterr().out
    assert main(["files", REPO, "--json"]) == 0
    assert next(f for f in json.loads(capsys.readouterr().out) if f["name"] == NAME)["size"] \
        is None
    assert main(["download", REPO, NAME, "--dest", str(tmp_path)]) == 0
    assert (tmp_path / NAME).read_bytes() == DATA
    assert download_check(file, tmp_path) == DownloadCheck.SHA256


def test_without_size_or_sha256_the_size_the_hub_sends_is_checked(hub, tmp_path):
    hub.no_size.add(NAME)
    hub.no_sha256.add(NAME)
    file = the_file()
    assert (file.size, file.sha256) == (None, None)
    path = download_model(file, tmp_path)
    assert path.read_bytes() == DATA and download_check(file, tmp_path) == DownloadCheck.SIZE
    (tmp_path / NAME).unlink()
    record_path(path).unlink()
    hub.extra_bytes[NAME] = 10                     # 10 bytes more, and no length said:
    hub.no_length.add(NAME)                         # nothing to check them against
    path = download_model(file, tmp_path)
    assert path.stat().st_size == len(DATA) + 10
    assert download_check(file, tmp_path) == DownloadCheck.NONE


# --- 7. free space, disk full, fatal errors ----------------------------------------------------


def _free(monkeypatch: pytest.MonkeyPatch, free: int) -> None:
    real = shutil.disk_usage

    def disk_usage(path):  # type: ignore[no-untyped-def]
        usage = real(path)
        return type(usage)(usage.total, usage.total - free, free)

    monkeypatch.setattr(shutil, "disk_usage", disk_usage)


def test_free_space_is_checked_with_a_margin_before_any_request(hub, tmp_path, monkeypatch):
    _free(monkeypatch, len(DATA) + MIN_MARGIN - 1)
    with pytest.raises(DiskSpaceError) as err:
        download_model(the_file(), tmp_path)
    message = str(err.value)
    assert NAME in message and str(tmp_path) in message and "free" in message
    assert hub.downloads_of(NAME) == [] and leftovers(tmp_path) == []
    _free(monkeypatch, len(DATA) + MIN_MARGIN)
    assert download_model(the_file(), tmp_path).read_bytes() == DATA


def test_an_unknown_size_is_checked_for_room_once_the_hub_announces_it(hub, tmp_path,
                                                                        monkeypatch):
    hub.no_size.add(NAME)
    _free(monkeypatch, MIN_MARGIN + 1_000_000)         # room for the margin, not for the file
    with pytest.raises(DiskSpaceError, match=f"not enough free space for {NAME}"):
        download_model(the_file(), tmp_path)
    assert leftovers(tmp_path) == [] and not (tmp_path / NAME).exists()


def test_a_full_disk_names_the_file_folder_and_free_space_and_removes_the_part(hub, tmp_path):
    """A real write failure: the CLI in a child process whose files may not exceed 1 MB."""
    dest = tmp_path / "models"
    script = ("import resource, sys\n"
              "resource.setrlimit(resource.RLIMIT_FSIZE, (1_000_000, 1_000_000))\n"
              "from inference.cli import main\n"
              f"sys.exit(main(['download', {REPO!r}, {NAME!r}, '--dest', {str(dest)!r}]))\n")
    done = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True,
                          text=True, timeout=120, env=dict(os.environ, PYTHONPATH=str(ROOT)))
    assert done.returncode == 1, done.stderr
    error = done.stderr.strip().splitlines()[-1]
    assert f"could not write {NAME} in {dest}" in error and "File too large" in error
    assert "free there" in error and "Traceback" not in done.stderr
    assert leftovers(dest) == [] and not (dest / NAME).exists()


def test_a_404_leaves_no_part_and_no_sidecar(hub, tmp_path):
    file = the_file()
    hub.missing_blob.add(NAME)
    with pytest.raises(HubError, match=f"{NAME} is listed in {REPO}, but the hub answered 404"):
        download_model(file, tmp_path)
    assert leftovers(tmp_path) == []
    part_path(tmp_path / NAME).write_bytes(DATA[:1000])   # a part from an earlier run, gone now
    (tmp_path / f"{NAME}.part.json").write_text(json.dumps(
        {"repo_id": REPO, "filename": NAME, "size": len(DATA), "sha256": file.sha256}))
    with pytest.raises(HubError, match="404"):
        download_model(file, tmp_path)
    assert leftovers(tmp_path) == [] and pending_downloads(tmp_path) == []


# --- 11. request storms --------------------------------------------------------------------------


def test_short_200s_to_range_requests_back_off_and_give_up(hub, tmp_path):
    hub.short_200[NAME] = 1_000
    hub.blob_limit = 50                    # a runaway client is cut off, so this test ends
    with pytest.raises(DownloadInterruptedError) as err:
        download_model(the_file(), tmp_path, retries=3, retry_wait_s=0.001)
    message = str(err.value)
    assert "answered a request for bytes 1,000- with 200" in message
    assert "only 1,000 bytes" in message and "4 failed requests" in message
    assert len(hub.downloads_of(NAME)) == 4 and hub.over_limit == 0


def test_back_off_doubles_up_to_a_cap_and_progress_starts_the_count_again():
    policy = RetryPolicy(retries=4, wait_s=1.0, max_wait_s=5.0, max_failures=8)
    failures = Failures(policy, NAME, have=0)
    waits = [failures.failed("the hub answered 503", 0) for _ in range(4)]
    assert waits == [1.0, 2.0, 4.0, 5.0]
    assert failures.failed("the connection failed", 10) == 1.0       # further than ever
    assert failures.failed("the connection failed", 10) == 2.0
    with pytest.raises(DownloadInterruptedError, match="after 8 failed requests: the hub"):
        failures.failed("the connection failed", 20)
        failures.failed("the hub answered 503", 20)


def test_a_hub_that_keeps_answering_429_is_given_up_on(hub, tmp_path):
    hub.blob_limit = -1                    # every blob request is answered 429
    with pytest.raises(DownloadInterruptedError, match="answered 429"):
        download_model(the_file(), tmp_path, retries=2, retry_wait_s=0.001)
    assert len(hub.downloads_of(NAME)) == 3 and leftovers(tmp_path) == []


# --- the queue and the GUI -------------------------------------------------------------------


def test_the_queue_tells_what_was_checked(hub, tmp_path):
    hub.no_sha256.add("small-Q4_0.gguf")
    queue = DownloadQueue(tmp_path)
    checked, unchecked = queue.add(the_file()), queue.add(the_file("small-Q4_0.gguf"))
    assert queue.wait_idle(30)
    assert queue.get(checked).check == DownloadCheck.SHA256 and not queue.get(checked).unverified
    assert queue.get(unchecked).state == DownloadState.DONE and queue.get(unchecked).unverified
    queue.close()


@pytest.mark.gui
def test_the_hub_page_and_the_library_say_not_verified(qtbot, hub, tmp_path):
    from PySide6.QtCore import Qt

    from app.hub.page import HubPage
    from app.library.model import LibraryTableModel

    real = write_tiny_model(tmp_path / "src" / "real-Q8_0.gguf").read_bytes()
    hub.add_repo("parley-test/Plain-GGUF", {"real-Q8_0.gguf": real})
    hub.no_sha256.add("real-Q8_0.gguf")
    models = tmp_path / "models"
    page = HubPage(models, fit_settings=lambda: FitSettings(available_ram=1 << 34))
    qtbot.addWidget(page)
    page.open_repo("parley-test/Plain-GGUF")
    qtbot.waitUntil(lambda: page.file_table.rowCount() == 1, timeout=10_000)
    assert page.file_table.item(0, 4).text() == "none · not verified"
    with qtbot.waitSignal(page.downloaded, timeout=20_000):
        page.download(page.files[0])
    qtbot.waitUntil(lambda: page.downloads.table.item(0, 2).text() == "Done · not verified",
                    timeout=10_000)
    assert "only its size was checked" in page.downloads.table.item(0, 2).toolTip()
    page.shutdown()

    table = LibraryTableModel()
    table.set_entries(Library(sources=[FolderSource(models)]).entries())
    assert table.rowCount() == 1 and table.index(0, 8).data().endswith("· not verified")
    assert "not verified" in table.index(0, 0).data(Qt.ItemDataRole.ToolTipRole)  # tooltip


@pytest.fixture
def home_library() -> Library:
    lib = Library()
    lib.paths.ensure()
    return lib
