"""Deleting and importing model files, with the rules that keep other apps' files safe.

Parley deletes only inside its own models folder and folders the user added. The Hugging Face
cache is deleted from only when the caller says so explicitly (the snapshot link, and its blob
when no other snapshot uses it); LM Studio's and GPT4All's files are never deleted.
"""

from __future__ import annotations

import errno
import os
import shutil
from collections.abc import Callable, Sequence
from pathlib import Path

from inference.common.errors import GGUFError, ParleyError
from inference.gguf.file import GGUFInfo, read_gguf
from inference.library.provenance import record_path
from inference.library.sources import hf_cache_dir, split_name


class LibraryError(ParleyError):
    """A library operation was refused or failed (the message says which and why)."""


def delete_model(path: Path, *, own: Path, added: Sequence[Path], allow_hf_cache: bool = False
                 ) -> tuple[Path, ...]:
    """Delete a model file (every part of a split model); returns the paths deleted."""
    path = Path(path).expanduser().absolute()
    if not (path.is_file() or path.is_symlink()):
        raise LibraryError(f"no such model file: {path}")
    hf_root = hf_cache_dir()
    if _inside(path, hf_root):                 # even when the user added the cache as a folder
        if not allow_hf_cache:
            raise LibraryError(
                f"{path.name} is in the Hugging Face cache, which other programs share; "
                "Parley deletes it only when asked to explicitly")
        return _delete_from_hf_cache(_parts(path), hf_root)
    if any(_inside(path, root) for root in (own, *added)):
        files = _parts(path)
        for f in files:
            f.unlink()
            record_path(f).unlink(missing_ok=True)       # what a download checked of it
        return tuple(files)
    raise LibraryError(f"{path} is not in Parley's models folder or a folder you added; "
                       "Parley does not delete other apps' files")


def import_model(source: Path, models_dir: Path, *, move: bool = False,
                 reader: Callable[[Path], GGUFInfo] = read_gguf) -> Path:
    """Copy (or move) a GGUF model into the models folder; returns its path there."""
    source = Path(source).expanduser().absolute()
    if not source.exists():
        raise LibraryError(f"no such file: {source}")
    if not source.is_file():
        raise LibraryError(f"{source} is not a file")
    if not source.name.lower().endswith(".gguf"):
        raise LibraryError(f"{source.name} is not a .gguf file")
    parts = _parts(source, require_all=True)
    try:
        reader(parts[0])
    except GGUFError as exc:
        raise LibraryError(f"{source.name} was not imported: {exc}") from None
    models_dir.mkdir(parents=True, exist_ok=True)
    if parts[0].parent.resolve() == models_dir.resolve():
        return parts[0]
    targets = [models_dir / p.name for p in parts]
    for target in targets:
        if target.exists():
            raise LibraryError(f"{target.name} is already in the models folder")
    for part, target in zip(parts, targets, strict=True):
        _transfer(part, target, move)
    return targets[0]


# --- internals ---------------------------------------------------------------------------------


def _inside(path: Path, root: Path) -> bool:
    """Whether `path` (not following its own link) lies under `root`."""
    try:
        where = path.parent.resolve() / path.name
        return where.is_relative_to(root.expanduser().resolve())
    except OSError:
        return False


def _parts(path: Path, require_all: bool = False) -> list[Path]:
    """The file, or every present part of its split model (in order)."""
    split = split_name(path.name)
    if split is None:
        return [path]
    names = [split.file_name(n) for n in range(1, split.count + 1)]
    present = [path.parent / n for n in names if (path.parent / n).exists()
               or (path.parent / n).is_symlink()]
    missing = [n for n in names if path.parent / n not in present]
    if require_all and missing:
        raise LibraryError(f"{path.name} is part of a split model whose parts are missing: "
                           + ", ".join(missing))
    return present


def _delete_from_hf_cache(links: list[Path], hf_root: Path) -> tuple[Path, ...]:
    """Remove snapshot links, and each blob no other snapshot of the repo still uses."""
    deleted: list[Path] = []
    for link in links:
        blob = link.resolve() if link.is_symlink() else None
        link.unlink()
        deleted.append(link)
        if blob is None or not blob.exists() or not _inside(blob, hf_root):
            continue
        repo = _repo_dir(link, hf_root)
        if repo is None or not _still_linked(repo / "snapshots", blob):
            blob.unlink()
            deleted.append(blob)
    return tuple(deleted)


def _repo_dir(link: Path, hf_root: Path) -> Path | None:
    root = hf_root.expanduser().resolve()
    for parent in (link.parent.resolve() / link.name).parents:
        if parent.parent == root and parent.name.startswith("models--"):
            return parent
    return None


def _still_linked(snapshots: Path, blob: Path) -> bool:
    for folder, _dirs, files in os.walk(snapshots):
        for name in files:
            candidate = Path(folder) / name
            try:
                if candidate.is_symlink() and candidate.resolve() == blob:
                    return True
            except OSError:
                continue
    return False


def _transfer(source: Path, target: Path, move: bool) -> None:
    """Copy through a temporary name (no half file ever has the final name); move when asked."""
    if move:
        try:
            os.replace(source, target)
            return
        except OSError as exc:
            if exc.errno != errno.EXDEV:
                raise LibraryError(f"could not move {source.name}: {exc.strerror}") from None
    partial = target.with_name(target.name + ".importing")
    try:
        shutil.copyfile(source, partial)
        os.replace(partial, target)
    except OSError as exc:
        partial.unlink(missing_ok=True)
        raise LibraryError(f"could not copy {source.name}: {exc.strerror or exc}") from None
    if move:
        source.unlink()
