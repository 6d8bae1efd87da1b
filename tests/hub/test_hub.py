"""Hub search, file listing and resumable, checked downloads — against a stand-in hub on
127.0.0.1 (tests/support/hub_server.py); nothing here reaches the real hub."""

from __future__ import annotations

import hashlib
import json
import os
import socket
from pathlib import Path

import pytest

from inference.common.cancel import CancelToken
from inference.common.errors import Cancelled, TruncatedFileError
from inference.gguf.file import read_gguf
from inference.hub.downloads import (
    ChecksumMismatchError,
    DownloadInterruptedError,
    download_model,
    part_path,
    pending_downloads,
)
from inference.hub.queue import DownloadQueue, DownloadState
from inference.hub.search import (
    OFFLINE_MESSAGE,
    HubFile,
    HubOfflineError,
    RepoNotFoundError,
    list_gguf_files,
    quant_label,
    search_models,
    size_fit,
)
from inference.library.library import FitSettings
from tests.support.gguf_factory import TinyModelSpec, write_tiny_model
from tests.support.hub_server import StandInHub, stand_in_hub  # noqa: F401  (fixture)

REPO = "parley-test/Tiny-Llama-GGUF"
REAL_REPO = "parley-test/Real-Tiny-GGUF"
REAL = "real-tiny-F32.gguf"
BIG = os.urandom(3_000_000)          # several 64 KiB blocks, so a drop lands mid-stream
# a real (random-weight) llama GGUF of ~2.3 MB: 35 blocks, most of it tensor data
REAL_SPEC = TinyModelSpec(n_embd=128, n_ff=512)


@pytest.fixture(scope="module")
def real_gguf(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    path = write_tiny_model(tmp_path_factory.mktemp("real-gguf") / REAL, spec=REAL_SPEC)
    return path.read_bytes()


@pytest.fixture
def hub(stand_in_hub: StandInHub) -> StandInHub:  # noqa: F811
    stand_in_hub.add_repo(REPO, {
        "tiny-llama-Q4_K_M.gguf": BIG,
        "tiny-llama-IQ3_XS.gguf": BIG[:200_000],
        "tiny-llama-f16.gguf": BIG[:300_000],
        "BF16/tiny-llama-BF16-00001-of-00002.gguf": BIG[:150_000],
        "BF16/tiny-llama-BF16-00002-of-00002.gguf": BIG[150_000:250_000],
        "README.md": b"# Tiny\n",
        "config.json": b"{}",
    }, downloads=1200, likes=7)
    stand_in_hub.add_repo("parley-test/Other-GGUF", {"other.Q8_0.gguf": b"x" * 10},
                          downloads=50)
    stand_in_hub.add_repo("parley-test/tiny-safetensors", {"model.safetensors": b"s"},
                          downloads=9000, tags=("safetensors",))
    return stand_in_hub


def the_file(name: str) -> HubFile:
    return next(f for f in list_gguf_files(REPO) if f.name == name)


@pytest.mark.parametrize(("name", "label"), [
    ("Qwen3-8B-Q4_K_M.gguf", "Q4_K_M"),
    ("Llama-3.2-1B-Instruct-IQ3_XS.gguf", "IQ3_XS"),
    ("gemma-3-270m-it-F16.gguf", "F16"),
    ("model-bf16.gguf", "BF16"),
    ("phi-4.Q8_0.gguf", "Q8_0"),
    ("mistral-7b-instruct-v0.2.Q5_K_S.gguf", "Q5_K_S"),
    ("Qwen3-30B-A3B-UD-Q4_K_XL.gguf", "Q4_K_XL"),
    ("model-IQ4_NL.gguf", "IQ4_NL"),
    ("model-IQ1_S.gguf", "IQ1_S"),
    ("gpt-oss-20b-MXFP4.gguf", "MXFP4"),
    ("Q4_K_M/model-00001-of-00002.gguf", "Q4_K_M"),
    ("mmproj-model.gguf", None),
    ("Q4_0-is-not-a-name-but/model.gguf", "Q4_0"),
])
def test_quant_label_from_file_names(name, label):
    assert quant_label(name) == label


def test_search_finds_gguf_repos_most_downloaded_first(hub):
    found = search_models("parley-test")
    assert [m.repo_id for m in found] == [REPO, "parley-test/Other-GGUF"]
    assert found[0].downloads == 1200 and found[0].likes == 7 and "gguf" in found[0].tags
    assert [m.repo_id for m in search_models("tiny")] == [REPO]
    query = next(r["query"] for r in hub.requests if r["path"] == "/api/models")
    assert query["filter"] == ["gguf"] and query["search"] == ["parley-test"]


def test_listing_shows_gguf_files_with_quant_size_and_sha256(hub):
    files = {f.filename: f for f in list_gguf_files(REPO)}
    assert set(files) == {"tiny-llama-Q4_K_M.gguf", "tiny-llama-IQ3_XS.gguf",
                          "tiny-llama-f16.gguf", "BF16/tiny-llama-BF16-00001-of-00002.gguf"}
    q4 = files["tiny-llama-Q4_K_M.gguf"]
    assert (q4.quant, q4.size, q4.sha256) == ("Q4_K_M", len(BIG),
                                              hashlib.sha256(BIG).hexdigest())
    assert files["tiny-llama-IQ3_XS.gguf"].quant == "IQ3_XS"
    assert files["tiny-llama-f16.gguf"].quant == "F16"
    split = files["BF16/tiny-llama-BF16-00001-of-00002.gguf"]
    assert split.is_split and split.quant == "BF16" and split.size == 250_000
    assert [p.filename.rsplit("/")[-1] for p in split.parts] == [
        "tiny-llama-BF16-00001-of-00002.gguf", "tiny-llama-BF16-00002-of-00002.gguf"]
    info = next(r for r in hub.requests if r["path"].startswith("/api/models/" + REPO))
    assert info["path"].endswith("/revision/main") and info["query"]["blobs"] == ["true"]


def test_fit_of_hub_files_by_size():
    roomy = FitSettings(n_ctx=4096, available_ram=16 << 30)
    assert size_fit(4 << 30, roomy).fit.value == "ram"
    assert size_fit(40 << 30, roomy).fit.value == "too_large"
    gpu = FitSettings(n_ctx=4096, n_gpu_layers=-1, free_vram=24 << 30, available_ram=16 << 30)
    assert size_fit(8 << 30, gpu).fit.value == "gpu"
    assert size_fit(30 << 30, gpu).fit.value == "partial"
    assert size_fit(None, gpu) is None


def test_an_unknown_repo_is_a_clear_error(hub):
    with pytest.raises(RepoNotFoundError, match="parley-test/nope was not found"):
        list_gguf_files("parley-test/nope")


def test_download_checks_sha256_and_takes_the_final_name(hub, tmp_path):
    seen = []
    path = download_model(the_file("tiny-llama-Q4_K_M.gguf"), tmp_path, progress=seen.append)
    assert path == tmp_path / "tiny-llama-Q4_K_M.gguf" and path.read_bytes() == BIG
    assert not part_path(path).exists() and not list(tmp_path.glob("*.part*"))
    assert seen[-1].done == seen[-1].total == len(BIG) and seen[-1].fraction == 1.0
    blob = hub.downloads_of("tiny-llama-Q4_K_M.gguf")
    assert len(blob) == 1 and blob[0]["range"] is None


def test_an_interrupted_download_resumes_and_completes(hub, real_gguf, tmp_path):
    hub.add_repo(REAL_REPO, {REAL: real_gguf})
    hub.drop_at[REAL] = [len(real_gguf) // 2]
    file = list_gguf_files(REAL_REPO)[0]
    with pytest.raises(DownloadInterruptedError, match="download it again to resume"):
        download_model(file, tmp_path, retries=0)
    partial = part_path(tmp_path / REAL)
    kept = partial.stat().st_size
    assert 0 < kept <= len(real_gguf) // 2 and not (tmp_path / REAL).exists()
    with pytest.raises(TruncatedFileError):          # half a model is not a model
        read_gguf(partial)
    path = download_model(file, tmp_path)            # a new run, as after a restart
    assert path.read_bytes() == real_gguf and not partial.exists()
    assert [r["range"] for r in hub.downloads_of(REAL)] == [None, f"bytes={kept}-"]
    info = read_gguf(path)                           # the resumed file is a whole GGUF
    assert (info.architecture, info.quant, info.file_size) == ("llama", "F32", len(real_gguf))
    assert (info.embedding_length, info.feed_forward_length, info.layers) == (
        REAL_SPEC.n_embd, REAL_SPEC.n_ff, REAL_SPEC.n_layer)
    assert info.tensor_data_offset < kept              # the drop landed in the weights


def test_download_progress_carries_speed_and_eta(hub, tmp_path):
    from app.hub.download_list import eta_text

    seen = []
    hub.delay_s = 0.01                                 # ~0.5 s in all: several reports
    download_model(the_file("tiny-llama-Q4_K_M.gguf"), tmp_path, progress=seen.append)
    midway = [p for p in seen if 0 < p.done < len(BIG) and p.speed > 0]
    assert midway, seen
    for p in midway:
        assert p.total == len(BIG) and p.eta_s == pytest.approx((p.total - p.done) / p.speed)
        assert eta_text(p.eta_s).endswith(" left")
    dones = [p.done for p in seen]
    assert dones == sorted(dones)
    last = seen[-1]
    assert last.done == last.total == len(BIG) and last.speed > 0 and last.eta_s == 0.0


def test_a_dropped_connection_is_resumed_within_one_download(hub, tmp_path):
    name = "tiny-llama-Q4_K_M.gguf"
    hub.drop_at[name] = [1_000_000, 2_000_000]
    path = download_model(the_file(name), tmp_path, retry_wait_s=0.01)
    assert path.read_bytes() == BIG
    ranges = [r["range"] for r in hub.downloads_of(name)]
    assert ranges[0] is None and len(ranges) == 3 and all(r.startswith("bytes=") for r in
                                                            ranges[1:])


def test_a_checksum_mismatch_is_rejected_and_removed(hub, real_gguf, tmp_path):
    hub.add_repo(REAL_REPO, {REAL: real_gguf})
    hub.bad_sha256[REAL] = "0" * 64                  # a whole, valid GGUF: only the sum is off
    with pytest.raises(ChecksumMismatchError, match="failed its checksum.*removed"):
        download_model(list_gguf_files(REAL_REPO)[0], tmp_path)
    assert list(tmp_path.iterdir()) == []
    assert len(hub.downloads_of(REAL)) == 1            # every byte came, then was refused


def test_a_paused_download_keeps_its_part_and_continues(hub, tmp_path):
    name = "tiny-llama-Q4_K_M.gguf"
    token = CancelToken()
    hub.delay_s = 0.01                    # slow enough for progress reports mid-way

    def pause_midway(p):
        if p.done > 500_000:
            token.cancel()

    with pytest.raises(Cancelled):
        download_model(the_file(name), tmp_path, progress=pause_midway, cancel=token)
    kept = part_path(tmp_path / name).stat().st_size
    assert kept > 500_000
    hub.delay_s = 0.0
    assert pending_downloads(tmp_path) == [the_file(name)]      # found again after a restart
    queue = DownloadQueue(tmp_path)
    item = queue.add(pending_downloads(tmp_path)[0], paused=True)
    assert queue.get(item).state == DownloadState.PAUSED
    queue.resume(item)
    assert queue.wait_idle(30) and queue.get(item).path.read_bytes() == BIG
    queue.close()
    assert pending_downloads(tmp_path) == []
    assert hub.downloads_of(name)[-1]["range"] == f"bytes={kept}-"


def test_a_part_of_another_version_starts_over(hub, tmp_path):
    name = "tiny-llama-IQ3_XS.gguf"
    part_path(tmp_path / name).write_bytes(b"stale bytes")
    (tmp_path / f"{name}.part.json").write_text(json.dumps({"sha256": "old"}))
    assert download_model(the_file(name), tmp_path).read_bytes() == BIG[:200_000]
    assert hub.downloads_of(name)[-1]["range"] is None


def test_a_split_model_downloads_every_part(hub, tmp_path):
    file = next(f for f in list_gguf_files(REPO) if f.is_split)
    path = download_model(file, tmp_path)
    assert path.name == "tiny-llama-BF16-00001-of-00002.gguf"
    assert path.read_bytes() + (tmp_path / "tiny-llama-BF16-00002-of-00002.gguf").read_bytes() \
        == BIG[:250_000]


def test_offline_mode_is_reported_and_sends_nothing(hub, tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    file = HubFile(REPO, "tiny-llama-Q4_K_M.gguf", "Q4_K_M", ())
    for call in (lambda: search_models("tiny"), lambda: list_gguf_files(REPO),
                 lambda: download_model(file, tmp_path)):
        with pytest.raises(HubOfflineError) as err:
            call()
        assert str(err.value) == OFFLINE_MESSAGE
    assert hub.requests == []


def test_an_unreachable_hub_is_offline_too(monkeypatch):
    with socket.socket() as s:             # a port on 127.0.0.1 that nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{port}")
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    with pytest.raises(HubOfflineError, match="can't reach the Hugging Face hub"):
        search_models("anything")


# --- the queue ---------------------------------------------------------------------------------


def test_queue_runs_downloads_one_at_a_time(hub, tmp_path):
    events = []
    first, second = the_file("tiny-llama-IQ3_XS.gguf"), the_file("tiny-llama-f16.gguf")
    hub.delay_s = 0.01
    queue = DownloadQueue(tmp_path, listener=events.append)
    a = queue.add(first)
    b = queue.add(second)
    assert queue.add(second) == b                     # already queued: the same item
    assert queue.wait_idle(30)
    assert [queue.get(i).state for i in (a, b)] == [DownloadState.DONE] * 2
    assert queue.get(b).path.read_bytes() == BIG[:300_000]
    running = [e.id for e in events if e.state == DownloadState.RUNNING and e.progress is None]
    assert running == [a, b]
    finished_a = next(i for i, e in enumerate(events) if e.id == a and e.state.value == "done")
    started_b = next(i for i, e in enumerate(events) if e.id == b and e.state.value == "running")
    assert finished_a < started_b
    queue.close()


def test_queue_pause_resume_and_cancel(hub, tmp_path):
    hub.delay_s = 0.005
    name = "tiny-llama-Q4_K_M.gguf"
    queue = DownloadQueue(tmp_path)
    item = queue.add(the_file(name))
    _wait_for(lambda: (queue.get(item).progress or _Zero).done > 200_000)
    queue.pause(item)
    _wait_for(lambda: queue.get(item).state == DownloadState.PAUSED)
    assert part_path(tmp_path / name).exists()
    hub.delay_s = 0.0
    queue.resume(item)
    assert queue.wait_idle(30) and queue.get(item).state == DownloadState.DONE
    assert (tmp_path / name).read_bytes() == BIG
    hub.delay_s = 0.005
    other = queue.add(the_file("tiny-llama-f16.gguf"))
    _wait_for(lambda: queue.get(other).state == DownloadState.RUNNING)
    queue.cancel(other)
    _wait_for(lambda: queue.get(other).state == DownloadState.CANCELLED)
    assert not list(tmp_path.glob("tiny-llama-f16.gguf*"))
    queue.close()


def test_queue_reports_a_failure_and_carries_on(hub, tmp_path):
    hub.bad_sha256["tiny-llama-IQ3_XS.gguf"] = "f" * 64
    queue = DownloadQueue(tmp_path)
    bad = queue.add(the_file("tiny-llama-IQ3_XS.gguf"))
    good = queue.add(the_file("tiny-llama-f16.gguf"))
    assert queue.wait_idle(30)
    assert queue.get(bad).state == DownloadState.FAILED and "checksum" in queue.get(bad).error
    assert queue.get(good).state == DownloadState.DONE
    queue.close()


class _Zero:
    done = 0


def _wait_for(condition, timeout: float = 20.0) -> None:
    import time

    end = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < end, "timed out"
        time.sleep(0.01)


# --- CLI ---------------------------------------------------------------------------------------


def test_cli_search_files_and_download(hub, capsys):
    from inference.cli import main
    from inference.common.paths import parley_paths

    assert main(["search", "parley-test", "--json"]) == 0
    assert [m["repo_id"] for m in json.loads(capsys.readouterr().out)][0] == REPO
    assert main(["files", REPO]) == 0
    out = capsys.readouterr().out
    assert "tiny-llama-Q4_K_M.gguf" in out and "Q4_K_M" in out and "2 parts" in out
    assert main(["files", REPO, "--json"]) == 0
    files = json.loads(capsys.readouterr().out)
    assert {f["quant"] for f in files} == {"Q4_K_M", "IQ3_XS", "F16", "BF16"}
    assert main(["download", REPO, "iq3_xs"]) == 0
    target = parley_paths().models / "tiny-llama-IQ3_XS.gguf"
    assert capsys.readouterr().out.strip() == str(target) and target.exists()


def test_cli_download_ctrl_c_pauses(hub, capsys, monkeypatch, tmp_path):
    from inference.cli import hub as cli_hub
    from inference.cli import main

    def interrupted(file, dest, **_kw):
        part_path(dest / file.name).write_bytes(b"x" * 2048)
        raise KeyboardInterrupt

    monkeypatch.setattr(cli_hub, "download_model", interrupted)
    assert main(["download", REPO, "Q4_K_M", "--dest", str(tmp_path)]) == 130
    assert "paused (2.0 KiB kept); run the same command again to resume" in \
        capsys.readouterr().err


def test_cli_offline_and_unknown_file(hub, capsys, monkeypatch):
    from inference.cli import main

    assert main(["download", REPO, "Q2_K"]) == 1
    assert "has no GGUF file 'Q2_K'" in capsys.readouterr().err
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    assert main(["search", "tiny"]) == 1
    assert capsys.readouterr().err.strip() == f"parley search: error: {OFFLINE_MESSAGE}"


def test_download_into_a_folder_lists_in_the_library(hub, tmp_path):
    from inference.library.library import Library
    from tests.support.gguf_factory import write_tiny_model

    model = write_tiny_model(tmp_path / "src" / "real-Q8_0.gguf").read_bytes()
    hub.add_repo("parley-test/Real-GGUF", {"real-Q8_0.gguf": model})
    file = list_gguf_files("parley-test/Real-GGUF")[0]
    lib = Library()
    path = download_model(file, lib.models_dir)
    entry = next(e for e in lib.scan().entries if e.path == path)
    assert entry.ok and entry.architecture == "llama" and Path(entry.path).exists()
