"""The model library: every GGUF file Parley knows, with its header facts and memory fit.

Files come from Parley's models folder, folders the user adds (kept in `library.json` in the
config folder) and other apps' stores found on their own (`library.sources`). Nothing is loaded:
each entry is built from the file's header (cached by `header_cache`) and `fit.assess_fit`.
A split model (`name-00001-of-00003.gguf` …) is one entry, its first part; a file that cannot
be read is an entry with its error, never a failed listing.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from inference.common.cancel import CancelToken
from inference.common.errors import Cancelled, ParleyError
from inference.common.paths import ParleyPaths, parley_paths
from inference.gguf.file import GGUFInfo, read_gguf
from inference.gguf.header_cache import (
    Header,
    HeaderCache,
    HeaderReader,
    Stamp,
    header_from_json,
    header_to_json,
    read_header,
    stamp_of,
)
from inference.library.entry import FitSettings, LibraryEntry, LibraryListing
from inference.library.files import LibraryError, delete_model, import_model
from inference.library.folders import FolderList
from inference.library.provenance import weakest_check
from inference.library.sources import (
    FolderSource,
    FoundFile,
    ModelSource,
    SourceKind,
    discovered_sources,
    split_name,
)
from inference.memory.fit import FitVerdict, assess_fit

__all__ = ["FitSettings", "Library", "LibraryEntry", "LibraryError", "LibraryListing",
           "SourceKind"]

log = logging.getLogger("parley.library")
Progress = Callable[[int, int], None]
_FIT_ERRORS = (ParleyError, ArithmeticError, ValueError, TypeError, KeyError, IndexError)


class Library:
    """Lists, adds, deletes and imports models. Safe to use from one worker thread at a time."""

    def __init__(self, paths: ParleyPaths | None = None, *,
                 sources: Sequence[ModelSource] | None = None,
                 reader: HeaderReader = read_gguf, cache: HeaderCache | None = None) -> None:
        self.paths = paths or parley_paths()
        self._fixed_sources = None if sources is None else list(sources)
        self._reader = reader
        self._folders = FolderList(self.paths.config / "library.json")
        self.cache = cache or HeaderCache(self.paths.cache / "gguf-headers.sqlite3")

    @property
    def models_dir(self) -> Path:
        return self.paths.models

    # -- folders -------------------------------------------------------------------------------
    def folders(self) -> tuple[Path, ...]:
        return self._folders.load()

    def add_folder(self, folder: str | Path) -> Path:
        return self._folders.add(folder)

    def remove_folder(self, folder: str | Path) -> bool:
        return self._folders.remove(folder)

    def sources(self) -> list[ModelSource]:
        """Own folder, added folders, then other apps' stores (discovered now)."""
        if self._fixed_sources is not None:
            return list(self._fixed_sources)
        own: list[ModelSource] = [FolderSource(self.models_dir, SourceKind.OWN)]
        added: list[ModelSource] = [FolderSource(f, SourceKind.ADDED) for f in self.folders()]
        return own + added + discovered_sources()

    # -- listing -------------------------------------------------------------------------------
    def scan(self, fit: FitSettings | None = None, *, cancel: CancelToken | None = None,
             progress: Progress | None = None) -> LibraryListing:
        start = time.perf_counter()
        groups = _group(_unique(f for s in self.sources() for f in s.scan()))
        cached = self.cache.load()
        fresh: dict[str, tuple[Stamp, str]] = {}
        seen: set[str] = set()
        hits = 0

        def header(found: FoundFile) -> Header:
            nonlocal hits
            if found.real_path is None:
                why = found.problem or "is not a regular file"
                return Header(error=f"{found.path} {why}")
            key = str(found.real_path)
            seen.add(key)
            try:
                stamp = stamp_of(found.real_path)
            except OSError as exc:
                return Header(error=f"{found.path}: cannot read it: {exc.strerror or exc}")
            hit = cached.get(key)
            if hit is not None and hit[0] == stamp:
                hits += 1
                return header_from_json(hit[1], found.real_path)
            read = read_header(found.real_path, self._reader)
            fresh[key] = (stamp, header_to_json(read))
            return read

        entries: list[LibraryEntry] = []
        for done, group in enumerate(groups):
            if cancel is not None and cancel.cancelled:
                raise Cancelled()
            entries.append(_entry(group, [header(f) for f in group.values()], fit))
            if progress is not None:
                progress(done + 1, len(groups))
        if fresh or set(cached) - seen:
            self.cache.store(fresh, keep=seen)
        files = sum(len(g) for g in groups)
        return LibraryListing(tuple(entries), files, len(fresh), hits,
                              time.perf_counter() - start)

    def entries(self, fit: FitSettings | None = None) -> tuple[LibraryEntry, ...]:
        return self.scan(fit).entries

    # -- files ---------------------------------------------------------------------------------
    def delete(self, model: LibraryEntry | str | Path, *, allow_hf_cache: bool = False
               ) -> tuple[Path, ...]:
        """Delete a model's file(s), only from Parley's folder or added folders (or, with
        `allow_hf_cache`, the Hugging Face cache). Returns what was deleted."""
        path = model.path if isinstance(model, LibraryEntry) else Path(model)
        return delete_model(path, own=self.models_dir, added=self.folders(),
                            allow_hf_cache=allow_hf_cache)

    def import_file(self, source: str | Path, *, move: bool = False) -> Path:
        """Copy (or move) a .gguf file — every part of a split model — into the models folder."""
        return import_model(Path(source), self.models_dir, move=move, reader=self._reader)


def with_fit(entries: Sequence[LibraryEntry], fit: FitSettings) -> tuple[LibraryEntry, ...]:
    """The same entries with verdicts for other settings (no file is read)."""
    return tuple(dataclasses.replace(e, fit=_fit(e.info, fit)) for e in entries)


# --- internals ---------------------------------------------------------------------------------


def _unique(found: Any) -> list[FoundFile]:
    """First sighting of each file wins (own folder before added folders before other apps)."""
    seen: set[Path] = set()
    out: list[FoundFile] = []
    for f in found:
        key = f.real_path or f.path
        if key not in seen:
            seen.add(key)
            out.append(f)
    return out


def _group(found: list[FoundFile]) -> list[dict[int, FoundFile]]:
    """Models as {part number: file}: a single file is {1: file}; split parts share a dict."""
    groups: list[dict[int, FoundFile]] = []
    splits: dict[tuple[Path, str, int], dict[int, FoundFile]] = {}
    for f in found:
        split = split_name(f.path.name)
        if split is None:
            groups.append({1: f})
            continue
        key = (f.path.parent, split.base.lower(), split.count)
        if key not in splits:
            splits[key] = {}
            groups.append(splits[key])
        splits[key][split.part] = f
    return [dict(sorted(g.items())) for g in groups]


def _entry(group: dict[int, FoundFile], headers: list[Header], fit: FitSettings | None
           ) -> LibraryEntry:
    parts = list(group.values())
    first = parts[0]
    split = split_name(first.path.name)
    missing: tuple[str, ...] = ()
    errors = [h.error for h in headers if h.error]
    if split is not None:
        missing = tuple(split.file_name(n) for n in range(1, split.count + 1) if n not in group)
        if missing:
            errors.insert(0, f"{len(missing)} of {split.count} parts missing: "
                             + ", ".join(missing))
    info = _merged(headers) if 1 in group else None
    size = sum(_size(f) for f in parts)
    stem = split.base if split else first.path.stem
    facts: dict[str, Any] = {}
    if info is not None:
        facts = dict(architecture=info.architecture, parameters=info.parameters,
                     quant=info.quant, bits_per_weight=info.bits_per_weight,
                     context_length=info.context_length)
    return LibraryEntry(
        path=first.path, source=first.source, root=first.root, file_name=first.path.name,
        name=(info.name if info is not None and info.name else stem), size=size,
        repo_id=first.repo_id, revision=first.revision, parts=tuple(f.path for f in parts),
        missing_parts=missing, error="; ".join(errors) or None,
        download_check=weakest_check(f.path for f in parts),
        fit=_fit(info, fit) if info is not None and not missing else None, info=info, **facts)


def _merged(headers: list[Header]) -> GGUFInfo | None:
    """The first part's header with the later parts' tensors added (one model's full table)."""
    info = headers[0].info
    if info is None:
        return None
    rest = [h.part for h in headers[1:] if h.part is not None]
    if not rest:
        return info
    parameters = info.parameters + sum(p.parameters for p in rest)
    n_bytes = sum(t.n_bytes for t in info.tensors) + sum(p.n_bytes for p in rest)
    tensors = info.tensors + tuple(t for p in rest for t in p.tensors)
    return dataclasses.replace(info, parameters=parameters, tensors=tensors,
                               bits_per_weight=8 * n_bytes / parameters if parameters else 0.0)


def _fit(info: GGUFInfo | None, fit: FitSettings | None) -> FitVerdict | None:
    if info is None or fit is None:
        return None
    try:
        return assess_fit(info, fit.n_ctx, fit.n_gpu_layers, fit.free_vram, fit.available_ram)
    except _FIT_ERRORS as exc:
        log.warning("no memory estimate for %s: %s", info.path, exc)
        return None


def _size(found: FoundFile) -> int:
    if found.real_path is None:                 # no regular file: a FIFO's or folder's size lies
        return 0
    try:
        return found.real_path.stat().st_size
    except OSError:
        return 0
