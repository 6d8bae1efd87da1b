"""The model library: sources, split models, the header cache, file operations, `parley models`."""

from __future__ import annotations

import functools
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from gguf import GGUFWriter

import tests.support.gguf_factory as factory
from inference.common.cancel import CancelToken
from inference.common.errors import Cancelled
from inference.gguf.file import read_gguf
from inference.library.library import FitSettings, Library, LibraryError, with_fit
from inference.library.sources import (
    FolderSource,
    HFCacheSource,
    SourceKind,
    gpt4all_dir,
    hf_cache_dir,
    split_name,
)
from inference.memory.fit import estimate
from tests.support.gguf_factory import write_tiny_model

FIT = FitSettings(n_ctx=512, n_gpu_layers=0, free_vram=None, available_ram=8 << 30)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_tiny_model(tmp_path_factory.mktemp("tiny") / "tiny.gguf")


class CountingReader:
    def __init__(self) -> None:
        self.paths: list[Path] = []

    def __call__(self, path: Path):
        self.paths.append(path)
        return read_gguf(path)


def write_split(path: Path, max_tensors: int = 8) -> list[Path]:
    """The tiny model written as a split GGUF (gguf-py's own sharding: metadata in part 1)."""
    writer = functools.partial(GGUFWriter, split_max_tensors=max_tensors)
    original = factory.GGUFWriter
    factory.GGUFWriter = writer  # type: ignore[misc]
    try:
        write_tiny_model(path)
    finally:
        factory.GGUFWriter = original  # type: ignore[misc]
    return sorted(path.parent.glob(f"{path.stem}-*-of-*.gguf"))


def hf_cache_tree(hub: Path, repo: str, files: dict[str, Path], rev: str = "abc123") -> Path:
    """An HF hub cache entry: blobs named by hash, snapshot links into them (as hf does)."""
    repo_dir = hub / ("models--" + repo.replace("/", "--"))
    (repo_dir / "blobs").mkdir(parents=True, exist_ok=True)
    snap = repo_dir / "snapshots" / rev
    for i, (name, source) in enumerate(files.items()):
        blob = repo_dir / "blobs" / f"{i:064x}"
        shutil.copyfile(source, blob)
        link = snap / name
        link.parent.mkdir(parents=True, exist_ok=True)
        link.symlink_to(os.path.relpath(blob, link.parent))
    (repo_dir / "refs").mkdir(exist_ok=True)
    (repo_dir / "refs" / "main").write_text(rev)
    return snap


def only(entries, **match):
    found = [e for e in entries if all(getattr(e, k) == v for k, v in match.items())]
    assert len(found) == 1, (match, entries)
    return found[0]


# --- listing -----------------------------------------------------------------------------------


def test_own_folder_model_has_its_header_facts_and_fit(home, tiny):
    lib = Library()
    lib.paths.ensure()
    shutil.copyfile(tiny, lib.models_dir / "tiny.gguf")
    entry = only(lib.scan(FIT).entries, file_name="tiny.gguf")
    info = read_gguf(tiny)
    assert entry.source is SourceKind.OWN and entry.source_label == "own folder"
    assert (entry.architecture, entry.quant, entry.context_length) == ("llama", "F32", 256)
    assert entry.parameters == info.parameters and entry.size == tiny.stat().st_size
    assert entry.bits_per_weight == pytest.approx(info.bits_per_weight)
    assert entry.name == "Parley Tiny Test" and entry.ok and entry.error is None
    assert entry.fit is not None and entry.fit.fit.value == "ram"
    assert entry.fit.estimate.total_bytes == estimate(info, 512, 0).total_bytes
    data = entry.to_dict()
    assert data["source"] == "own" and data["fit"]["fit"] == "ram" and json.dumps(data)


def test_lm_studio_trees_are_found_in_place(home, tiny):
    new = home / ".lmstudio" / "models" / "lmstudio-community" / "Tiny-GGUF" / "tiny-Q8_0.gguf"
    old = home / ".cache" / "lm-studio" / "models" / "TheBloke" / "Old-GGUF" / "old.Q4_0.gguf"
    for path in (new, old):
        path.parent.mkdir(parents=True)
        shutil.copyfile(tiny, path)
    entries = Library().scan(FIT).entries
    assert only(entries, path=new).source is SourceKind.LM_STUDIO
    assert only(entries, path=old).source_label == "LM Studio"
    assert not list(Library().models_dir.glob("*.gguf")), "nothing is copied"


def test_hf_cache_links_resolve_to_blobs_and_name_the_repo(home, tiny, monkeypatch):
    hub = home / "elsewhere" / "hub"
    monkeypatch.setenv("HF_HUB_CACHE", str(hub))
    snap = hf_cache_tree(hub, "org/Tiny-GGUF", {"tiny-Q4_K_M.gguf": tiny,
                                                  "sub/tiny-F16.gguf": tiny})
    hf_cache_tree(hub, "org/Tiny-GGUF", {"tiny-Q4_K_M.gguf": tiny}, rev="def456")  # same name
    entries = [e for e in Library().scan(FIT).entries if e.source is SourceKind.HF_CACHE]
    assert {e.path for e in entries} >= {snap / "tiny-Q4_K_M.gguf", snap / "sub/tiny-F16.gguf"}
    entry = only(entries, path=snap / "tiny-Q4_K_M.gguf")
    assert entry.path.is_symlink() and entry.repo_id == "org/Tiny-GGUF"
    assert entry.revision == "abc123" and entry.source_label == "Hugging Face cache"
    assert entry.size == tiny.stat().st_size and entry.architecture == "llama"


def test_a_dangling_hf_link_is_listed_with_an_error(home, tiny, monkeypatch):
    hub = home / ".cache" / "huggingface" / "hub"
    snap = hf_cache_tree(hub, "org/Gone", {"gone.gguf": tiny})
    next((hub / "models--org--Gone" / "blobs").iterdir()).unlink()
    entry = only(Library().scan(FIT).entries, path=snap / "gone.gguf")
    assert not entry.ok and "missing file" in entry.error


@pytest.mark.parametrize(("env", "expected"), [
    ({"HF_HUB_CACHE": "/x/hub"}, "/x/hub"),
    ({"HF_HOME": "/y"}, "/y/hub"),
    ({"XDG_CACHE_HOME": "/z"}, "/z/huggingface/hub"),
    ({}, "/home/u/.cache/huggingface/hub"),
])
def test_hf_cache_dir_follows_huggingface_hub_rules(env, expected):
    assert hf_cache_dir(env, Path("/home/u")) == Path(expected)


@pytest.mark.parametrize(("platform", "env", "expected"), [
    ("linux", {}, "/home/u/.local/share/nomic.ai/GPT4All"),
    ("darwin", {}, "/home/u/Library/Application Support/nomic.ai/GPT4All"),
    ("win32", {"LOCALAPPDATA": "/c/AppData/Local"}, "/c/AppData/Local/nomic.ai/GPT4All"),
])
def test_gpt4all_folder_per_platform(platform, env, expected):
    assert gpt4all_dir(env, Path("/home/u"), platform) == Path(expected)


def test_gpt4all_models_are_found(home, tiny):
    path = gpt4all_dir({}, home, "linux") / "orca-mini-3b.Q4_0.gguf"
    path.parent.mkdir(parents=True)
    shutil.copyfile(tiny, path)
    assert only(Library().scan(FIT).entries, path=path).source is SourceKind.GPT4ALL


def test_a_split_model_is_one_entry_with_summed_size_and_parameters(home, tiny, tmp_path):
    parts = write_split(tmp_path / "models" / "tiny.gguf")
    assert [split_name(p.name).part for p in parts] == [1, 2, 3]
    lib = Library(sources=[FolderSource(tmp_path / "models")])
    entry = only(lib.scan(FIT).entries)
    whole = read_gguf(tiny)
    assert entry.path == parts[0] and entry.parts == tuple(parts) and entry.ok
    assert entry.size == sum(p.stat().st_size for p in parts)
    assert entry.parameters == whole.parameters
    assert entry.bits_per_weight == pytest.approx(whole.bits_per_weight)
    expected = estimate(whole, 512, 0)
    assert entry.fit.estimate.weights_bytes == expected.weights_bytes
    assert entry.fit.estimate.total_bytes == expected.total_bytes
    cached = only(lib.scan(FIT).entries)                      # from the cache: same answer
    assert cached.fit.estimate == entry.fit.estimate and cached.parameters == entry.parameters


def test_a_split_model_with_a_missing_part_says_which(home, tmp_path):
    parts = write_split(tmp_path / "m" / "tiny.gguf")
    parts[1].unlink()
    entry = only(Library(sources=[FolderSource(tmp_path / "m")]).scan(FIT).entries)
    assert entry.missing_parts == ("tiny-00002-of-00003.gguf",)
    assert not entry.ok and "tiny-00002-of-00003.gguf" in entry.error and entry.fit is None
    assert entry.architecture == "llama"                      # the first part still tells


def test_broken_files_are_listed_with_their_errors(home, tiny, tmp_path):
    folder = tmp_path / "mixed"
    factory.write_broken("bad_magic", folder)
    factory.write_broken("truncated_kv", folder)
    shutil.copyfile(tiny, folder / "good.gguf")
    (folder / "empty.gguf").write_bytes(b"")
    entries = Library(sources=[FolderSource(folder)]).scan(FIT).entries
    assert only(entries, file_name="good.gguf").ok
    assert "not a GGUF file" in only(entries, file_name="bad_magic.gguf").error
    assert "truncated" in only(entries, file_name="truncated_kv.gguf").error
    assert only(entries, file_name="empty.gguf").error


def test_300_headers_list_from_the_cache_on_the_second_open(home, tiny, tmp_path):
    folder = tmp_path / "many"
    folder.mkdir()
    for i in range(300):
        shutil.copyfile(tiny, folder / f"model-{i:03d}.gguf")
    (folder / "broken.gguf").write_bytes(b"not a model at all" * 4)
    reader = CountingReader()
    first = Library(sources=[FolderSource(folder)], reader=reader).scan(FIT)
    assert len(first.entries) == 301 and first.header_reads == 301 and len(reader.paths) == 301
    reader.paths.clear()
    second = Library(sources=[FolderSource(folder)], reader=reader).scan(FIT)
    assert reader.paths == [] and second.header_reads == 0 and second.cache_hits == 301
    assert [e.to_dict() for e in second.entries] == [e.to_dict() for e in first.entries]
    print(f"\n300 headers: first open {first.seconds * 1000:.0f} ms, "
          f"cached {second.seconds * 1000:.0f} ms")
    changed = folder / "model-007.gguf"
    os.utime(changed, ns=(time.time_ns(), time.time_ns() + 10**9))
    (folder / "model-008.gguf").unlink()
    third = Library(sources=[FolderSource(folder)], reader=reader).scan(FIT)
    assert reader.paths == [changed] and len(third.entries) == 300


def test_scan_reports_progress_and_can_be_cancelled(home, tiny, tmp_path):
    for i in range(3):
        shutil.copyfile(tiny, tmp_path / f"m{i}.gguf")
    seen: list[tuple[int, int]] = []
    lib = Library(sources=[FolderSource(tmp_path)])
    lib.scan(FIT, progress=lambda done, total: seen.append((done, total)))
    assert seen == [(1, 3), (2, 3), (3, 3)]
    token = CancelToken()
    token.cancel()
    with pytest.raises(Cancelled):
        lib.scan(FIT, cancel=token)


def test_fit_follows_the_settings_without_reading_again(home, tiny, tmp_path):
    shutil.copyfile(tiny, tmp_path / "m.gguf")
    entries = Library(sources=[FolderSource(tmp_path)]).scan(FIT).entries
    tight = with_fit(entries, FitSettings(n_ctx=512, available_ram=1 << 20))
    assert tight[0].fit.fit.value == "too_large" and entries[0].fit.fit.value == "ram"
    gpu = with_fit(entries, FitSettings(n_ctx=512, n_gpu_layers=-1, free_vram=8 << 30,
                                        available_ram=8 << 30))
    assert gpu[0].fit.fit.value == "gpu"


# --- folders and files -------------------------------------------------------------------------


def test_added_folders_persist_and_are_listed(home, tiny, tmp_path):
    folder = tmp_path / "mine"
    folder.mkdir()
    shutil.copyfile(tiny, folder / "x.gguf")
    lib = Library()
    assert lib.add_folder(folder) == folder.resolve()
    lib.add_folder(folder)
    assert Library().folders() == (folder.resolve(),)
    data = json.loads((lib.paths.config / "library.json").read_text())
    assert data == {"folders": [str(folder.resolve())]}
    assert only(Library().scan(FIT).entries, file_name="x.gguf").source is SourceKind.ADDED
    assert Library().remove_folder(folder) and Library().folders() == ()
    assert not Library().remove_folder(folder)
    with pytest.raises(Exception, match="no such folder"):
        lib.add_folder(tmp_path / "nope")


def test_delete_only_inside_parley_and_added_folders(home, tiny, tmp_path, monkeypatch):
    lib = Library()
    lib.paths.ensure()
    own = shutil.copyfile(tiny, lib.models_dir / "own.gguf")
    added_dir = tmp_path / "added"
    added_dir.mkdir()
    added = shutil.copyfile(tiny, added_dir / "added.gguf")
    lib.add_folder(added_dir)
    lm = home / ".lmstudio" / "models" / "a" / "b" / "lm.gguf"
    lm.parent.mkdir(parents=True)
    shutil.copyfile(tiny, lm)
    assert lib.delete(own) == (own,) and not own.exists()
    entry = only(lib.scan(FIT).entries, path=added)
    assert lib.delete(entry) == (added,) and not added.exists()
    with pytest.raises(LibraryError, match="does not delete other apps' files"):
        lib.delete(lm)
    assert lm.exists()


def test_delete_in_the_hf_cache_needs_the_explicit_flag(home, tiny):
    hub = home / ".cache" / "huggingface" / "hub"
    snap = hf_cache_tree(hub, "org/R", {"r.gguf": tiny})
    link = snap / "r.gguf"
    blob = link.resolve()
    with pytest.raises(LibraryError, match="Hugging Face cache"):
        Library().delete(link)
    assert link.exists()
    assert set(Library().delete(link, allow_hf_cache=True)) == {link, blob}
    assert not link.is_symlink() and not blob.exists()


def test_delete_a_split_model_removes_every_part(home, tmp_path):
    lib = Library()
    parts = write_split(lib.models_dir / "s.gguf")
    assert lib.delete(parts[0]) == tuple(parts)
    assert not any(p.exists() for p in parts)


def test_import_copies_or_moves_into_the_models_folder(home, tiny, tmp_path):
    lib = Library()
    src = shutil.copyfile(tiny, tmp_path / "dropped.gguf")
    copied = lib.import_file(src)
    assert copied == lib.models_dir / "dropped.gguf" and src.exists()
    assert copied.read_bytes() == tiny.read_bytes()
    with pytest.raises(LibraryError, match="already in the models folder"):
        lib.import_file(src)
    other = shutil.copyfile(tiny, tmp_path / "moved.gguf")
    assert lib.import_file(other, move=True).exists() and not other.exists()
    junk = tmp_path / "junk.gguf"
    junk.write_bytes(b"<html>oops</html>" * 10)
    with pytest.raises(LibraryError, match="was not imported: .*web page"):
        lib.import_file(junk)
    assert not (lib.models_dir / "junk.gguf").exists()


def test_import_a_split_model_takes_every_part(home, tmp_path):
    parts = write_split(tmp_path / "drop" / "s.gguf")
    lib = Library()
    assert lib.import_file(parts[1]) == lib.models_dir / parts[0].name
    assert sorted(p.name for p in lib.models_dir.glob("s-*.gguf")) == [p.name for p in parts]


# --- CLI and no network ------------------------------------------------------------------------


def test_parley_models_json_and_table(home, tiny, capsys, monkeypatch):
    from inference.cli import main

    lib = Library()
    lib.paths.ensure()
    shutil.copyfile(tiny, lib.models_dir / "tiny.gguf")
    snap = hf_cache_tree(home / ".cache" / "huggingface" / "hub", "org/T", {"t.gguf": tiny})
    assert main(["models", "--json", "--ctx", "512"]) == 0
    data = json.loads(capsys.readouterr().out)
    by_source = {m["source_label"]: m for m in data["models"]}
    assert by_source["own folder"]["path"] == str(lib.models_dir / "tiny.gguf")
    assert by_source["Hugging Face cache"]["repo_id"] == "org/T"
    assert by_source["Hugging Face cache"]["path"] == str(snap / "t.gguf")
    assert data["n_ctx"] == 512 and by_source["own folder"]["architecture"] == "llama"
    assert main(["models"]) == 0
    out = capsys.readouterr().out
    assert "tiny.gguf" in out and "Hugging Face cache (org/T)" in out and "own folder" in out
    assert str(lib.models_dir / "tiny.gguf") in out


def test_listing_the_library_opens_no_connection(home, tiny, tmp_path):
    """Import Parley's library, hub and CLI modules and list models under a socket audit hook."""
    lib = Library()
    lib.paths.ensure()
    shutil.copyfile(tiny, lib.models_dir / "tiny.gguf")
    script = (
        "import sys\n"
        "events = []\n"
        "def hook(event, args):\n"
        "    if event.startswith(('socket.connect', 'socket.getaddrinfo', 'socket.sendto')):\n"
        "        events.append((event, repr(args)[:80]))\n"
        "sys.addaudithook(hook)\n"
        "import inference.library.library, inference.hub.search, inference.hub.downloads\n"
        "import inference.hub.queue, inference.cli\n"
        "from inference.cli import main\n"
        "assert main(['models', '--json']) == 0\n"
        "print('EVENTS', events, file=sys.stderr)\n"
        "assert not events, events\n"
    )
    root = Path(__file__).resolve().parents[2]
    done = subprocess.run([sys.executable, "-c", script], cwd=root, capture_output=True,
                          text=True, timeout=120, env=dict(os.environ, PYTHONPATH=str(root)))
    assert done.returncode == 0, done.stderr
    assert "EVENTS []" in done.stderr and '"tiny.gguf"' in done.stdout


def test_hf_cache_source_can_point_anywhere(tmp_path, tiny):
    snap = hf_cache_tree(tmp_path / "hub", "a/b", {"m.gguf": tiny})
    found = list(HFCacheSource(tmp_path / "hub").scan())
    assert [(f.path, f.repo_id, f.revision) for f in found] == [(snap / "m.gguf", "a/b",
                                                                 "abc123")]


def test_a_corrupt_header_cache_is_replaced_not_fatal(home, tiny, tmp_path):
    shutil.copyfile(tiny, tmp_path / "m.gguf")
    lib = Library(sources=[FolderSource(tmp_path)])
    lib.cache.path.parent.mkdir(parents=True, exist_ok=True)
    lib.cache.path.write_bytes(b"this is not SQLite" * 100)
    assert only(lib.scan(FIT).entries).ok
    assert lib.scan(FIT).cache_hits == 1
