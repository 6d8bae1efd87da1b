"""GGUF header reads for the library, cached in SQLite by (path, size, mtime_ns).

A listing of hundreds of models re-reads only the files that changed since the last listing.
What is cached is what the library needs: the header's facts, its metadata (arrays are already
summaries) and its tensor table *condensed* to one entry per repeating layer (`blk.N.*`), which
is all the memory estimate in `fit.py` looks at. A file that fails to read is cached with its
error, so a broken file costs one read, not one per listing.

Later parts of a split model (`-00002-of-00003.gguf` …) hold no metadata, only tensors; they are
read with gguf-py's `GGUFReader` for their tensor table. The cache never raises: when its file
cannot be used the library reads every header, slower but correct.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import sqlite3
import struct
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any

from inference.common.errors import GGUFError
from inference.gguf.file import GGUFInfo, TensorInfo, read_gguf
from inference.gguf.split_names import split_name

log = logging.getLogger("parley.library")

FORMAT = 1                       # bump when the record layout or the parser's output changes
HeaderReader = Callable[[Path], GGUFInfo]
_BLOCK_PREFIX = "blk."


@dataclass(frozen=True)
class Stamp:
    size: int
    mtime_ns: int


def stamp_of(path: Path) -> Stamp:
    st = path.stat()
    return Stamp(st.st_size, st.st_mtime_ns)


@dataclass(frozen=True)
class PartTensors:
    """The tensor table of a later split part (condensed), and what it adds up to."""

    tensors: tuple[TensorInfo, ...]
    parameters: int
    n_bytes: int


@dataclass(frozen=True)
class Header:
    """One file's header as the library sees it: a model, a later split part, or an error."""

    info: GGUFInfo | None = None
    part: PartTensors | None = None
    error: str | None = None


def read_header(path: Path, reader: HeaderReader = read_gguf) -> Header:
    """Read one file's header, never raising for a bad file (the error is the result)."""
    split = split_name(path.name)
    try:
        if split is not None and split.part > 1:
            return Header(part=_read_part(path))
        info = reader(path)
    except GGUFError as exc:
        return Header(error=str(exc))
    except (OSError, ValueError) as exc:
        return Header(error=f"{path}: cannot read the header: {exc}")
    return Header(info=dataclasses.replace(info, tensors=condense(info.tensors)))


def _read_part(path: Path) -> PartTensors:
    from gguf import GGUFReader

    try:
        reader = GGUFReader(path)
    except (ValueError, IndexError, KeyError, struct.error) as exc:
        raise GGUFError(f"{path}: not a readable GGUF split part ({exc})") from None
    tensors = tuple(
        TensorInfo(t.name, int(t.tensor_type), t.tensor_type.name, tuple(int(d) for d in t.shape),
                   int(t.n_elements), int(t.n_bytes), int(t.data_offset))
        for t in reader.tensors)
    del reader
    return PartTensors(condense(tensors), sum(t.n_elements for t in tensors),
                       sum(t.n_bytes for t in tensors))


def condense(tensors: Iterable[TensorInfo]) -> tuple[TensorInfo, ...]:
    """One entry per repeating layer (`blk.N.*`, sums of elements and bytes); others kept."""
    kept: list[TensorInfo] = []
    blocks: dict[str, list[TensorInfo]] = defaultdict(list)
    for t in tensors:
        if t.name.startswith(_BLOCK_PREFIX) and t.name.count(".") >= 2:
            blocks[t.name.split(".", 2)[1]].append(t)
        else:
            kept.append(t)
    for index, group in blocks.items():
        if len(group) == 1 and group[0].name.endswith(".*"):
            kept.append(group[0])
            continue
        by_type: Counter[int] = Counter()
        names: dict[int, str] = {}
        for t in group:
            by_type[t.ggml_type] += t.n_elements
            names[t.ggml_type] = t.type_name
        main = by_type.most_common(1)[0][0]
        n_elements = sum(t.n_elements for t in group)
        kept.append(TensorInfo(f"blk.{index}.*", main, names[main], (n_elements,), n_elements,
                               sum(t.n_bytes for t in group), min(t.offset for t in group)))
    return tuple(kept)


# --- JSON records ------------------------------------------------------------------------------

_INFO_FIELDS = tuple(f.name for f in dataclasses.fields(GGUFInfo)
                     if f.name not in ("path", "metadata", "tensors"))


def _tensor_row(t: TensorInfo) -> list[Any]:
    return [t.name, t.ggml_type, t.type_name, list(t.shape), t.n_elements, t.n_bytes, t.offset]


def _tensor(row: list[Any]) -> TensorInfo:
    name, ggml_type, type_name, shape, n_elements, n_bytes, offset = row
    return TensorInfo(name, ggml_type, type_name, tuple(shape), n_elements, n_bytes, offset)


def header_to_json(header: Header) -> str:
    if header.info is not None:
        info = header.info
        data: dict[str, Any] = {f: getattr(info, f) for f in _INFO_FIELDS}
        data["metadata"] = dict(info.metadata)
        data["tensors"] = [_tensor_row(t) for t in info.tensors]
        return json.dumps({"info": data})
    if header.part is not None:
        part = header.part
        return json.dumps({"part": {"tensors": [_tensor_row(t) for t in part.tensors],
                                    "parameters": part.parameters, "n_bytes": part.n_bytes}})
    return json.dumps({"error": header.error or "unreadable"})


def header_from_json(text: str, path: Path) -> Header:
    data = json.loads(text)
    if "info" in data:
        d = data["info"]
        fields = {f: d[f] for f in _INFO_FIELDS}
        return Header(info=GGUFInfo(path=path, metadata=MappingProxyType(d["metadata"]),
                                    tensors=tuple(_tensor(r) for r in d["tensors"]), **fields))
    if "part" in data:
        p = data["part"]
        return Header(part=PartTensors(tuple(_tensor(r) for r in p["tensors"]),
                                       p["parameters"], p["n_bytes"]))
    return Header(error=str(data["error"]))


# --- the cache ---------------------------------------------------------------------------------


class HeaderCache:
    """A small SQLite file of header records keyed by path and checked by (size, mtime_ns).

    Each listing reads the whole table once (`load`) and writes what it read anew (`store`);
    a connection lives only for one call, so any thread may use the cache.
    """

    def __init__(self, path: Path) -> None:
        self.path = path

    def load(self) -> dict[str, tuple[Stamp, str]]:
        """path -> (stamp, record JSON) for every cached file; {} when the cache is unusable."""
        try:
            with self._session() as db:
                rows = db.execute("SELECT path, size, mtime_ns, data FROM headers").fetchall()
        except (sqlite3.Error, OSError) as exc:
            log.warning("header cache %s unusable (%s); reading every header", self.path, exc)
            return {}
        return {path: (Stamp(size, mtime), data) for path, size, mtime, data in rows}

    def store(self, records: Mapping[str, tuple[Stamp, str]], keep: Iterable[str] | None = None
              ) -> None:
        """Write records; with `keep`, drop every other path (files that are gone)."""
        try:
            with self._session() as db:
                db.executemany(
                    "INSERT OR REPLACE INTO headers (path, size, mtime_ns, data) "
                    "VALUES (?, ?, ?, ?)",
                    [(p, s.size, s.mtime_ns, d) for p, (s, d) in records.items()])
                if keep is not None:
                    keep_set = set(keep)
                    stale = [(p,) for (p,) in db.execute("SELECT path FROM headers")
                             if p not in keep_set]
                    db.executemany("DELETE FROM headers WHERE path = ?", stale)
        except (sqlite3.Error, OSError) as exc:
            log.warning("could not update the header cache %s: %s", self.path, exc)

    @contextmanager
    def _session(self) -> Iterator[sqlite3.Connection]:
        db = self._connect()
        try:
            with db:                      # one transaction: committed, or rolled back on error
                yield db
        finally:
            db.close()

    def _connect(self) -> sqlite3.Connection:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        db = sqlite3.connect(self.path, timeout=5)
        try:
            version = db.execute("PRAGMA user_version").fetchone()[0]
            if version != FORMAT:
                db.execute("DROP TABLE IF EXISTS headers")
                db.execute(f"PRAGMA user_version = {FORMAT}")
            db.execute("CREATE TABLE IF NOT EXISTS headers (path TEXT PRIMARY KEY, "
                       "size INTEGER NOT NULL, mtime_ns INTEGER NOT NULL, data TEXT NOT NULL)")
        except sqlite3.DatabaseError:
            db.close()
            os.replace(self.path, self.path.with_suffix(".corrupt"))
            return self._connect()
        return db
