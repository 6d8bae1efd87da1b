"""Read and validate a GGUF file's header without loading its weights.

The parser streams the header in bounded chunks and checks every length and count against the
bytes really left in the file before it trusts them, so a corrupt or hostile file fails fast with
one specific `GGUFError` instead of a `MemoryError`, a hang or a native crash in llama.cpp.
"""

from __future__ import annotations

import os
import struct
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any, BinaryIO

import numpy as np
from gguf.constants import GGML_QUANT_SIZES, GGMLQuantizationType, LlamaFileType

from .errors import (
    GGUFError,
    MetadataError,
    NotGGUFError,
    TensorOutOfBoundsError,
    TruncatedFileError,
    UnsupportedVersionError,
)

__all__ = [
    "GGUFFileNotFoundError",
    "GGUFInfo",
    "TensorInfo",
    "file_type_name",
    "read_gguf",
]

GGUF_MAGIC = b"GGUF"
SUPPORTED_VERSIONS = (2, 3)
DEFAULT_ALIGNMENT = 32
MAX_DIMS = 4                       # GGML_MAX_DIMS
MAX_TENSOR_NAME = 63               # GGML_MAX_NAME - 1
MAX_STRING_BYTES = 1 << 30         # llama.cpp's GGUF_MAX_STRING_LENGTH
MAX_ARRAY_ITEMS = 1 << 30          # llama.cpp's GGUF_MAX_ARRAY_ELEMENTS
MAX_KV_COUNT = 1_000_000           # real models have tens; anything near this is corrupt
MAX_TENSOR_COUNT = 1_000_000       # the largest real files hold a few thousand
KEPT_STRING_BYTES = 16 << 20       # longer metadata strings are summarised, not kept
KEPT_ARRAY_ITEMS = 65_536          # numeric arrays up to this length keep their values
_CHUNK = 1 << 20
_LLAMA_FTYPE_GUESSED = 1024

_U32 = struct.Struct("<I")
_U64 = struct.Struct("<Q")
_I64 = struct.Struct("<q")

# GGUF value type id -> (name, struct format or None for strings/arrays, minimum encoded size)
_VALUE_TYPES: dict[int, tuple[str, str | None, int]] = {
    0: ("uint8", "B", 1),
    1: ("int8", "b", 1),
    2: ("uint16", "H", 2),
    3: ("int16", "h", 2),
    4: ("uint32", "I", 4),
    5: ("int32", "i", 4),
    6: ("float32", "f", 4),
    7: ("bool", "b", 1),
    8: ("string", None, 8),
    9: ("array", None, 12),
    10: ("uint64", "Q", 8),
    11: ("int64", "q", 8),
    12: ("float64", "d", 8),
}
_SCALAR_STRUCTS = {t: struct.Struct("<" + fmt) for t, (_, fmt, _) in _VALUE_TYPES.items() if fmt}
_TYPE_BOOL, _TYPE_STRING, _TYPE_ARRAY, _TYPE_FLOAT32 = 7, 8, 9, 6
_MIN_KV_BYTES = 8 + 1 + 4 + 1          # key length, 1-byte key, type, 1-byte value
_MIN_TENSOR_INFO_BYTES = 8 + 4 + 4 + 8  # name length, n_dims, type, offset


class GGUFFileNotFoundError(GGUFError, FileNotFoundError):
    """The path does not exist or is not a regular file."""


@dataclass(frozen=True)
class TensorInfo:
    """One tensor's header entry; `offset` is the absolute file offset of its data."""

    name: str
    ggml_type: int
    type_name: str
    shape: tuple[int, ...]
    n_elements: int
    n_bytes: int
    offset: int


@dataclass(frozen=True)
class GGUFInfo:
    """What a GGUF file says about itself, read from its header only."""

    path: Path
    version: int
    file_size: int
    architecture: str
    name: str | None
    size_label: str | None
    parameters: int
    quant: str
    bits_per_weight: float
    context_length: int | None
    layers: int | None
    embedding_length: int | None
    feed_forward_length: int | None
    heads: int | None
    kv_heads: int | None
    key_length: int | None
    value_length: int | None
    sliding_window: int | None
    expert_count: int | None
    experts_used: int | None
    vocab_size: int | None
    chat_template: str | None
    add_bos: bool | None
    split_count: int | None
    metadata: Mapping[str, Any] = field(repr=False, hash=False)
    tensors: tuple[TensorInfo, ...] = field(repr=False)
    tensor_data_offset: int = 0

    @property
    def has_chat_template(self) -> bool:
        return bool(self.chat_template and self.chat_template.strip())

    @property
    def is_moe(self) -> bool:
        return (self.expert_count or 0) > 1

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly summary (no tensor list; `chat_template` is whether there is one)."""
        return {
            "path": str(self.path),
            "file_name": self.path.name,
            "version": self.version,
            "file_size": self.file_size,
            "architecture": self.architecture,
            "name": self.name,
            "size_label": self.size_label,
            "parameters": self.parameters,
            "quant": self.quant,
            "bits_per_weight": round(self.bits_per_weight, 4),
            "context_length": self.context_length,
            "layers": self.layers,
            "embedding_length": self.embedding_length,
            "feed_forward_length": self.feed_forward_length,
            "heads": self.heads,
            "kv_heads": self.kv_heads,
            "key_length": self.key_length,
            "value_length": self.value_length,
            "sliding_window": self.sliding_window,
            "experts": self.expert_count or 0,
            "experts_used": self.experts_used,
            "is_moe": self.is_moe,
            "vocab_size": self.vocab_size,
            "chat_template": self.has_chat_template,
            "add_bos": self.add_bos,
            "split_count": self.split_count,
            "tensor_count": len(self.tensors),
            "tensor_data_offset": self.tensor_data_offset,
            "metadata": dict(self.metadata),
        }


def file_type_name(ftype: int) -> str:
    """llama.cpp's LLAMA_FTYPE name for `general.file_type`, e.g. 15 -> "Q4_K_M"."""
    guessed = ftype >= 0 and bool(ftype & _LLAMA_FTYPE_GUESSED)
    base = ftype & ~_LLAMA_FTYPE_GUESSED if guessed else ftype
    try:
        name = LlamaFileType(base).name
    except ValueError:
        return f"unknown file type {ftype}"
    name = name.removeprefix("MOSTLY_").removeprefix("ALL_")
    return f"{name} (guessed)" if guessed else name


def read_gguf(path: str | os.PathLike[str]) -> GGUFInfo:
    """Inspect a GGUF file: header, metadata and tensor table; the weights are never read."""
    p = Path(path)
    try:
        if not p.exists():
            raise GGUFFileNotFoundError(f"no such file: {p}")
        if p.is_dir():
            raise GGUFFileNotFoundError(f"not a file: {p} is a folder")
        if not p.is_file():
            raise GGUFFileNotFoundError(f"not a regular file: {p}")
        with p.open("rb") as f:
            size = os.fstat(f.fileno()).st_size
            header = _HeaderParser(f, p, size).parse()
    except GGUFError:
        raise
    except PermissionError as exc:
        raise GGUFError(f"cannot read {p}: permission denied") from exc
    except OSError as exc:
        raise GGUFError(f"cannot read {p}: {exc.strerror or exc}") from exc
    return _build_info(p, size, header)


# --------------------------------------------------------------------------------------------
# Low-level reading


class _Reader:
    """Little-endian reads from a file through a chunked buffer, never past the known size."""

    def __init__(self, file: BinaryIO, path: Path, size: int) -> None:
        self._file = file
        self.path = path
        self.size = size
        self._buf = b""
        self._buf_start = 0  # file offset of _buf[0]; the file position is at its end
        self._pos = 0

    @property
    def offset(self) -> int:
        return self._buf_start + self._pos

    @property
    def remaining(self) -> int:
        return self.size - self.offset

    def truncated(self, needed: int, what: str) -> TruncatedFileError:
        return TruncatedFileError(
            f"{self.path}: file is truncated: {what} needs {self.offset + needed:,} bytes "
            f"but the file has {self.size:,} — the download may be incomplete"
        )

    def _ensure(self, n: int, what: str) -> None:
        if len(self._buf) - self._pos >= n:
            return
        if n > self.remaining:
            raise self.truncated(n, what)
        tail = self._buf[self._pos:]
        chunk = self._file.read(max(n - len(tail), _CHUNK))
        self._buf_start = self.offset
        self._buf = tail + chunk
        self._pos = 0
        if len(self._buf) < n:  # the file shrank while we read it
            raise self.truncated(n, what)

    def unpack(self, fmt: struct.Struct, what: str) -> tuple[Any, ...]:
        self._ensure(fmt.size, what)
        values = fmt.unpack_from(self._buf, self._pos)
        self._pos += fmt.size
        return values

    def u32(self, what: str) -> int:
        return int(self.unpack(_U32, what)[0])

    def u64(self, what: str) -> int:
        return int(self.unpack(_U64, what)[0])

    def i64(self, what: str) -> int:
        return int(self.unpack(_I64, what)[0])

    def read(self, n: int, what: str) -> bytes:
        self._ensure(n, what)
        data = self._buf[self._pos:self._pos + n]
        self._pos += n
        return data

    def skip(self, n: int, what: str) -> None:
        if n <= len(self._buf) - self._pos:
            self._pos += n
            return
        if n > self.remaining:
            raise self.truncated(n, what)
        target = self.offset + n
        self._file.seek(target)
        self._buf, self._buf_start, self._pos = b"", target, 0

    def string_length(self, what: str) -> int:
        """Read a string's length and check it against the limit and the bytes left."""
        n = self.u64(what)
        if n > MAX_STRING_BYTES:
            where = "past the end of the file" if n > self.remaining else "over the 1 GiB limit"
            raise MetadataError(
                f"{self.path}: {what} claims a string of {n:,} bytes, {where} "
                f"({self.remaining:,} bytes remain) — the file is corrupt"
            )
        if n > self.remaining:
            raise self.truncated(n, what)
        return n

    def skip_strings(self, count: int, what: str) -> None:
        """Skip `count` length-prefixed strings (a tokenizer's vocabulary) quickly."""
        done = 0
        unpack = _U64.unpack_from
        while done < count:
            buf, pos, end = self._buf, self._pos, len(self._buf)
            while done < count and pos + 8 <= end:
                nxt = pos + 8 + unpack(buf, pos)[0]
                if nxt > end:
                    break
                pos = nxt
                done += 1
            self._pos = pos
            if done < count:  # the next string crosses the buffer's end: take the careful path
                self.skip(self.string_length(what), what)
                done += 1


# --------------------------------------------------------------------------------------------
# Header parsing


@dataclass(frozen=True)
class _Array:
    """An array value: element type, length, and the values when small and numeric."""

    item_type: int
    count: int
    values: tuple[Any, ...] | None

    def summary(self) -> str:
        return f"[array of {self.count} {_VALUE_TYPES[self.item_type][0]}]"


@dataclass(frozen=True)
class _Header:
    version: int
    kv: dict[str, Any]
    tensors: tuple[TensorInfo, ...]
    data_offset: int
    alignment: int


class _HeaderParser:
    """Parses one file's header; every error names the file and the offending field."""

    def __init__(self, file: BinaryIO, path: Path, size: int) -> None:
        self.path = path
        self.r = _Reader(file, path, size)

    def parse(self) -> _Header:
        version = self._magic_and_version()
        r = self.r
        n_tensors = r.u64("the header")
        n_kv = r.u64("the header")
        self._check_limit(n_tensors, MAX_TENSOR_COUNT, "tensors")
        self._check_limit(n_kv, MAX_KV_COUNT, "metadata entries")
        self._check_fits(n_kv, _MIN_KV_BYTES, "metadata entries")
        kv = self._read_kv(n_kv)
        alignment = self._alignment(kv)
        self._check_fits(n_tensors, _MIN_TENSOR_INFO_BYTES, "tensors")
        infos = [self._read_tensor_info(i) for i in range(n_tensors)]
        header_end = r.offset
        data_offset = _align(header_end, alignment) if n_tensors else header_end
        tensors = self._place_tensors(infos, data_offset, alignment)
        return _Header(version, kv, tensors, data_offset, alignment)

    def _magic_and_version(self) -> int:
        r = self.r
        if r.size < len(GGUF_MAGIC):
            first = r.read(r.size, "the header")
            if GGUF_MAGIC.startswith(first):
                raise TruncatedFileError(
                    f"{self.path}: file is truncated: a GGUF header needs at least 24 bytes "
                    f"but the file has {r.size:,} — the download may be incomplete"
                )
            raise NotGGUFError(
                f"{self.path} is not a GGUF file (it is only {r.size} bytes: {first!r})"
            )
        magic = r.read(4, "the header")
        if magic != GGUF_MAGIC:
            hint = _content_hint(magic + r.read(min(r.remaining, 28), "the header"))
            raise NotGGUFError(
                f"{self.path} is not a GGUF file (starts with bytes {repr(magic)[1:]}, "
                f"expected 'GGUF'){hint}"
            )
        version = r.u32("the header")
        if version in SUPPORTED_VERSIONS:
            return version
        if version & 0xFFFFFF == 0 and version >> 24 in SUPPORTED_VERSIONS + (1,):
            raise UnsupportedVersionError(
                f"{self.path}: GGUF version {version} is not supported; the file looks "
                f"big-endian (version {version >> 24} byte-swapped) and Parley reads "
                "little-endian GGUF only"
            )
        if version == 1:
            raise UnsupportedVersionError(
                f"{self.path}: GGUF version 1 is no longer supported (versions 2 and 3 are); "
                "convert the model again with a current llama.cpp"
            )
        raise UnsupportedVersionError(
            f"{self.path}: GGUF version {version} is not supported (versions 2 and 3 are)"
            + ("; a newer Parley may read it" if 3 < version < 1000 else "")
        )

    def _check_limit(self, count: int, limit: int, what: str) -> None:
        if count > limit:
            raise MetadataError(
                f"{self.path}: the header claims {count:,} {what}, which is absurd "
                f"(at most {limit:,} are allowed) — the file is corrupt"
            )

    def _check_fits(self, count: int, min_bytes: int, what: str) -> None:
        """Fail fast when `count` items cannot fit in what is left of the file."""
        if count * min_bytes > self.r.remaining:
            raise self.r.truncated(count * min_bytes, f"the table of {count:,} {what}")

    # -- metadata ----------------------------------------------------------------------------

    def _read_kv(self, n_kv: int) -> dict[str, Any]:
        kv: dict[str, Any] = {}
        for i in range(n_kv):
            key = self._key(i)
            if key in kv:
                raise MetadataError(f"{self.path}: metadata key {_q(key)} appears twice")
            kv[key] = self._value(key)
        return kv

    def _key(self, index: int) -> str:
        what = f"metadata entry #{index}"
        raw = self.r.read(self.r.string_length(what), what)
        if not raw:
            raise MetadataError(f"{self.path}: metadata entry #{index} has an empty key")
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            raise MetadataError(
                f"{self.path}: metadata key #{index} is not valid UTF-8 ({raw[:40]!r})"
            ) from None

    def _value_type(self, key: str, what: str) -> int:
        value_type = self.r.u32(what)
        if value_type not in _VALUE_TYPES:
            raise MetadataError(
                f"{self.path}: metadata key {_q(key)} has unknown value type {value_type}"
            )
        return value_type

    def _value(self, key: str) -> Any:
        what = f"metadata key {_q(key)}"
        value_type = self._value_type(key, what)
        if value_type == _TYPE_ARRAY:
            return self._array(key, what)
        if value_type == _TYPE_STRING:
            return self._string(what)
        value = self.r.unpack(_SCALAR_STRUCTS[value_type], what)[0]
        if value_type == _TYPE_BOOL:
            return value != 0
        if value_type == _TYPE_FLOAT32:
            return float(str(np.float32(value)))  # shortest form: 1e-06, not 9.99999997e-07
        return value

    def _string(self, what: str) -> str:
        n = self.r.string_length(what)
        if n > KEPT_STRING_BYTES:
            self.r.skip(n, what)
            return f"[string of {n:,} bytes]"
        return self.r.read(n, what).decode("utf-8", errors="replace")

    def _array(self, key: str, what: str) -> _Array:
        item_type = self._value_type(key, what)
        if item_type == _TYPE_ARRAY:
            raise MetadataError(
                f"{self.path}: metadata key {_q(key)} is an array of arrays, which GGUF does "
                "not allow"
            )
        count = self.r.u64(what)
        name, fmt, item_size = _VALUE_TYPES[item_type]
        if count > MAX_ARRAY_ITEMS:
            raise MetadataError(
                f"{self.path}: metadata key {_q(key)} claims an array of {count:,} {name} "
                f"values, which is absurd — the file is corrupt"
            )
        if count * item_size > self.r.remaining:
            raise self.r.truncated(count * item_size, what)
        if fmt is None:
            self.r.skip_strings(count, what)
            return _Array(item_type, count, None)
        if count > KEPT_ARRAY_ITEMS:
            self.r.skip(count * item_size, what)
            return _Array(item_type, count, None)
        values = struct.unpack(f"<{count}{fmt}", self.r.read(count * item_size, what))
        if item_type == _TYPE_BOOL:
            values = tuple(v != 0 for v in values)
        return _Array(item_type, count, values)

    def _alignment(self, kv: dict[str, Any]) -> int:
        value = kv.get("general.alignment", DEFAULT_ALIGNMENT)
        if type(value) is not int or value <= 0 or value & (value - 1):
            raise MetadataError(
                f"{self.path}: general.alignment is {_show(value)}; it must be a power of 2"
            )
        return value

    # -- tensors -----------------------------------------------------------------------------

    def _read_tensor_info(self, index: int) -> _RawTensor:
        r = self.r
        what = f"tensor #{index}"
        raw = r.read(r.string_length(what), what)
        try:
            name = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise MetadataError(
                f"{self.path}: tensor #{index}'s name is not valid UTF-8 ({raw[:40]!r})"
            ) from None
        if len(raw) > MAX_TENSOR_NAME:
            raise MetadataError(
                f"{self.path}: tensor #{index}'s name is {len(raw)} bytes long "
                f"(at most {MAX_TENSOR_NAME} are allowed): {_q(name[:80])}"
            )
        what = f"tensor {_q(name)}"
        n_dims = r.u32(what)
        if n_dims > MAX_DIMS:
            raise MetadataError(
                f"{self.path}: tensor {_q(name)} has {n_dims:,} dimensions "
                f"(at most {MAX_DIMS} are allowed)"
            )
        shape = tuple(r.i64(what) for _ in range(n_dims))
        for axis, dim in enumerate(shape):
            if dim <= 0:
                raise MetadataError(
                    f"{self.path}: tensor {_q(name)} has a {'zero' if dim == 0 else 'negative'} "
                    f"dimension: axis {axis} of shape {list(shape)} is {dim}"
                )
        ggml_type = r.u32(what)
        rel_offset = r.u64(what)
        return _RawTensor(name, ggml_type, shape, rel_offset)

    def _place_tensors(
        self, raw: list[_RawTensor], data_offset: int, alignment: int
    ) -> tuple[TensorInfo, ...]:
        seen: set[str] = set()
        tensors: list[TensorInfo] = []
        expected = 0  # llama.cpp requires tensors stored in order, each padded to the alignment
        data_end = data_offset
        for t in raw:
            if t.name in seen:
                raise MetadataError(f"{self.path}: tensor {_q(t.name)} appears twice")
            seen.add(t.name)
            info = self._tensor_info(t, data_offset)
            end = info.offset + info.n_bytes
            if t.rel_offset != expected:
                if end > self.r.size:
                    raise TensorOutOfBoundsError(
                        f"{self.path}: tensor {_q(t.name)} has its data at bytes "
                        f"{info.offset:,}–{end:,}, past the end of the file "
                        f"({self.r.size:,} bytes)"
                    )
                raise MetadataError(
                    f"{self.path}: tensor {_q(t.name)} has data offset {t.rel_offset:,}, "
                    f"expected {expected:,} (tensors must be stored in order, aligned to "
                    f"{alignment} bytes)"
                )
            expected += _align(info.n_bytes, alignment)
            data_end = max(data_end, end)
            tensors.append(info)
        if data_end > self.r.size:
            raise TruncatedFileError(
                f"{self.path}: file is truncated: the tensor data needs {data_end:,} bytes "
                f"but the file has {self.r.size:,} — the download may be incomplete"
            )
        return tuple(tensors)

    def _tensor_info(self, t: _RawTensor, data_offset: int) -> TensorInfo:
        sizes = _type_sizes(t.ggml_type)
        if sizes is None:
            raise MetadataError(
                f"{self.path}: tensor {_q(t.name)} has unknown ggml type id {t.ggml_type}"
            )
        type_name, block_size, type_size = sizes
        n_elements = 1
        for dim in t.shape:
            n_elements *= dim
        row = t.shape[0] if t.shape else 1
        if row % block_size:
            raise MetadataError(
                f"{self.path}: tensor {_q(t.name)} of type {type_name} has {row:,} elements per "
                f"row, not a multiple of its block size {block_size}"
            )
        if n_elements >= 1 << 63:
            raise MetadataError(
                f"{self.path}: tensor {_q(t.name)} has an impossible shape {list(t.shape)}"
            )
        n_bytes = n_elements // block_size * type_size
        return TensorInfo(
            name=t.name,
            ggml_type=t.ggml_type,
            type_name=type_name,
            shape=t.shape,
            n_elements=n_elements,
            n_bytes=n_bytes,
            offset=data_offset + t.rel_offset,
        )


@dataclass(frozen=True)
class _RawTensor:
    name: str
    ggml_type: int
    shape: tuple[int, ...]
    rel_offset: int


def _type_sizes(ggml_type: int) -> tuple[str, int, int] | None:
    """(name, block size, bytes per block) of a ggml type id, or None when unknown."""
    try:
        qtype = GGMLQuantizationType(ggml_type)
    except ValueError:
        return None
    sizes = GGML_QUANT_SIZES.get(qtype)
    if sizes is None:
        return None
    return qtype.name, sizes[0], sizes[1]


def _align(n: int, alignment: int) -> int:
    return n + (-n % alignment)


def _content_hint(head: bytes) -> str:
    """A hint at what a non-GGUF file really is, from its first bytes."""
    if head.startswith(b"version https://git-lfs"):
        return " — it is a Git LFS pointer, not the model itself"
    stripped = head.lstrip().lower()
    if stripped.startswith((b"<!doctype html", b"<html", b"<?xml", b"<")):
        return " — it looks like a web page (a failed or redirected download?)"
    if stripped.startswith((b"{", b"[")):
        return " — it looks like a JSON file"
    if head.startswith(b"PK\x03\x04"):
        return " — it is a ZIP archive"
    if len(head) >= 9 and head[8:9] == b"{":
        return " — it looks like a safetensors file; Parley needs GGUF"
    if head[:4] in (b"lmgg", b"fmgg", b"tjgg"):
        return " — it is an old GGML-format model; convert it to GGUF"
    return ""


def _q(name: str) -> str:
    """A key or tensor name quoted for a message, with control characters made visible."""
    return f"'{name}'" if name.isprintable() and "'" not in name else repr(name)


def _show(value: Any) -> str:
    if isinstance(value, _Array):
        return value.summary()
    return repr(value)


# --------------------------------------------------------------------------------------------
# Interpretation


def _build_info(path: Path, size: int, header: _Header) -> GGUFInfo:
    kv = header.kv
    keys = _Keys(path, kv)
    arch = kv.get("general.architecture")
    if not isinstance(arch, str) or not arch.strip():
        raise MetadataError(
            f"{path}: the file has no general.architecture"
            + ("" if arch is None else f" string (it is {_show(arch)})")
        )
    tensors = header.tensors
    parameters = sum(t.n_elements for t in tensors)
    total_bytes = sum(t.n_bytes for t in tensors)
    tokens = kv.get("tokenizer.ggml.tokens")
    return GGUFInfo(
        path=path,
        version=header.version,
        file_size=size,
        architecture=arch,
        name=keys.string("general.name"),
        size_label=keys.string("general.size_label"),
        parameters=parameters,
        quant=_quant(keys, tensors),
        bits_per_weight=8 * total_bytes / parameters if parameters else 0.0,
        context_length=keys.count(f"{arch}.context_length"),
        layers=keys.count(f"{arch}.block_count"),
        embedding_length=keys.count(f"{arch}.embedding_length"),
        feed_forward_length=keys.count(f"{arch}.feed_forward_length"),
        heads=keys.count(f"{arch}.attention.head_count"),
        kv_heads=keys.count(f"{arch}.attention.head_count_kv"),
        key_length=keys.count(f"{arch}.attention.key_length"),
        value_length=keys.count(f"{arch}.attention.value_length"),
        sliding_window=keys.count(f"{arch}.attention.sliding_window"),
        expert_count=keys.count(f"{arch}.expert_count"),
        experts_used=keys.count(f"{arch}.expert_used_count"),
        vocab_size=tokens.count if isinstance(tokens, _Array) else None,
        chat_template=keys.string("tokenizer.chat_template"),
        add_bos=keys.flag("tokenizer.ggml.add_bos_token"),
        split_count=keys.count("split.count"),
        metadata=MappingProxyType(
            {k: v.summary() if isinstance(v, _Array) else v for k, v in kv.items()}
        ),
        tensors=tensors,
        tensor_data_offset=header.data_offset,
    )


_MAX_SANE_COUNT = 1 << 40  # no layer/head/context count comes near this


class _Keys:
    """Typed access to well-known metadata keys, with errors that name the key."""

    def __init__(self, path: Path, kv: dict[str, Any]) -> None:
        self.path = path
        self.kv = kv

    def _wrong(self, key: str, value: Any, expected: str) -> MetadataError:
        return MetadataError(
            f"{self.path}: metadata key {_q(key)} should be {expected} but is {_show(value)}"
        )

    def string(self, key: str) -> str | None:
        value = self.kv.get(key)
        if value is None or isinstance(value, str):
            return value
        raise self._wrong(key, value, "a string")

    def flag(self, key: str) -> bool | None:
        value = self.kv.get(key)
        if value is None or isinstance(value, bool):
            return value
        if type(value) is int:
            return value != 0
        raise self._wrong(key, value, "a boolean")

    def count(self, key: str) -> int | None:
        """A non-negative integer; for a per-layer array, its largest element."""
        value = self.kv.get(key)
        if value is None:
            return None
        if isinstance(value, _Array):
            if value.values is None or any(type(v) is not int for v in value.values):
                raise self._wrong(key, value, "an integer or a short array of integers")
            if not value.values:
                return None
            value = max(value.values)
        if type(value) is not int:
            raise self._wrong(key, value, "an integer")
        if not 0 <= value <= _MAX_SANE_COUNT:
            raise self._wrong(key, value, "a sane non-negative integer")
        return value


def _quant(keys: _Keys, tensors: tuple[TensorInfo, ...]) -> str:
    ftype = keys.count("general.file_type")
    if ftype is not None:
        return file_type_name(ftype)
    weights = [t for t in tensors if len(t.shape) >= 2] or list(tensors)
    if not weights:
        return "unknown"
    by_type: Counter[str] = Counter()
    for t in weights:
        by_type[t.type_name] += t.n_elements
    return f"{by_type.most_common(1)[0][0]} (guessed)"
