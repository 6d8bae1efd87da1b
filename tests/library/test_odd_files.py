""".gguf names that are no regular file (FIFO, link loop, dangling link, socket, device,
folder): the library lists each with what it really is, in words, and never opens it."""

from __future__ import annotations

import os
import shutil
import socket
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from inference.library.library import FitSettings, Library
from inference.library.sources import FolderSource, not_a_file
from tests.support.gguf_factory import write_tiny_model

FIT = FitSettings(n_ctx=512, n_gpu_layers=0, free_vram=None, available_ram=8 << 30)
posix_only = pytest.mark.skipif(sys.platform == "win32", reason="FIFOs and sockets are POSIX")


@pytest.fixture
def odd_folder() -> Iterator[Path]:
    """A short-named folder (a socket path must stay under ~100 bytes) of odd .gguf names."""
    folder = Path(tempfile.mkdtemp(prefix="odd"))
    write_tiny_model(folder / "good.gguf")
    os.mkfifo(folder / "pipe.gguf")
    (folder / "loop.gguf").symlink_to("loop.gguf")
    (folder / "ring-a.gguf").symlink_to("ring-b.gguf")
    (folder / "ring-b.gguf").symlink_to("ring-a.gguf")
    (folder / "dangling.gguf").symlink_to("gone/model.gguf")
    (folder / "dir.gguf").mkdir()
    write_tiny_model(folder / "dir.gguf" / "inner.gguf")
    (folder / "null.gguf").symlink_to(os.devnull)
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.bind(str(folder / "sock.gguf"))
    try:
        yield folder
    finally:
        sock.close()
        shutil.rmtree(folder)


def errors_by_name(folder: Path) -> dict[str, str | None]:
    entries = Library(sources=[FolderSource(folder)]).scan(FIT).entries
    return {e.file_name: e.error for e in entries}


@posix_only
def test_each_odd_name_is_listed_with_what_it_really_is(odd_folder):
    errors = errors_by_name(odd_folder)
    assert errors["good.gguf"] is None and errors["inner.gguf"] is None
    assert errors["pipe.gguf"] == f"{odd_folder / 'pipe.gguf'} is a named pipe (FIFO), not a file"
    for name in ("loop.gguf", "ring-a.gguf", "ring-b.gguf"):
        assert "is a symbolic link loop" in errors[name], errors[name]
    assert "is a link to a missing file, gone/model.gguf" in errors["dangling.gguf"]
    assert errors["sock.gguf"].endswith("sock.gguf is a socket, not a file")
    assert errors["dir.gguf"].endswith("dir.gguf is a folder named .gguf, not a file")
    assert errors["null.gguf"].endswith("null.gguf is a link to a character device, not a file")
    odd = [v for k, v in errors.items() if k not in {"good.gguf", "inner.gguf", "dangling.gguf"}]
    assert not any("missing file" in (v or "") for v in odd), odd


@posix_only
def test_odd_entries_have_no_size_no_header_and_no_fit(odd_folder):
    entries = Library(sources=[FolderSource(odd_folder)]).scan(FIT).entries
    odd = [e for e in entries if e.file_name not in {"good.gguf", "inner.gguf"}]
    assert len(odd) == 8
    assert all(not e.ok and e.size == 0 and e.fit is None and e.info is None for e in odd)


@posix_only
def test_not_a_file_names_a_link_to_a_fifo_and_passes_a_link_to_a_file(tmp_path):
    os.mkfifo(tmp_path / "p")
    (tmp_path / "to-pipe.gguf").symlink_to(tmp_path / "p")
    (tmp_path / "real.gguf").write_bytes(b"GGUF")
    (tmp_path / "to-real.gguf").symlink_to("real.gguf")
    assert not_a_file(tmp_path / "to-pipe.gguf") == "is a link to a named pipe (FIFO), not a file"
    assert not_a_file(tmp_path / "real.gguf") is None
    assert not_a_file(tmp_path / "to-real.gguf") is None


@posix_only
def test_parley_models_says_what_each_odd_file_is(home, odd_folder, capsys):
    from inference.cli import main

    lib = Library()
    lib.paths.ensure()
    for item in odd_folder.iterdir():
        os.replace(item, lib.models_dir / item.name)
    assert main(["models"]) == 0
    out = capsys.readouterr().out
    assert f"error: {lib.models_dir / 'pipe.gguf'} is a named pipe (FIFO), not a file" in out
    assert "loop.gguf is a symbolic link loop" in out
    assert "sock.gguf is a socket, not a file" in out
    assert "dir.gguf is a folder named .gguf, not a file" in out
    assert "dangling.gguf is a link to a missing file" in out
    assert "(8 with errors)" in out
