"""Parse a GGUF file's raw header: magic, version, metadata and the tensor table.

Every count and length is checked against the bytes really left in the file before it is trusted,
and every error names the file and the offending field. `parse_header` returns the raw values;
`inference.gguf.file` interprets them.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np
from gguf.constants import GGML_QUANT_SIZES, GGMLQuantizationType

from inference.common.errors import (
    MetadataError,
    NotGGUFError,
    TensorOutOfBoundsError,
    TruncatedFileError,
    UnsupportedVersionError,
)
from inference.gguf.byte_reader import BoundedReader
from inference.gguf.describe import content_hint, quote_name
from inference.gguf.header_values import (
    DEFAULT_ALIGNMENT,
    GGUF_MAGIC,
    KEPT_ARRAY_ITEMS,
    KEPT_STRING_BYTES,
    MAX_ARRAY_ITEMS,
    MAX_DIMS,
    MAX_KV_COUNT,
    MAX_TENSOR_COUNT,
    MAX_TENSOR_NAME,
    MIN_KV_BYTES,
    MIN_TENSOR_INFO_BYTES,
    SCALAR_STRUCTS,
    SUPPORTED_VERSIONS,
    TYPE_ARRAY,
    TYPE_BOOL,
    TYPE_FLOAT32,
    TYPE_STRING,
    VALUE_TYPES,
    ArrayValue,
    RawHeader,
    TensorInfo,
    show_value,
)

__all__ = [
    "ArrayValue",
    "RawHeader",
    "TensorInfo",
    "parse_header",
    "quote_name",
    "show_value",
]


@dataclass(frozen=True)
class _RawTensor:
    name: str
    ggml_type: int
    shape: tuple[int, ...]
    rel_offset: int


def parse_header(file: BinaryIO, path: Path, size: int) -> RawHeader:
    """Parse the header of `file` (`size` bytes long, opened from `path`), positioned at 0."""
    return _HeaderParser(file, path, size).parse()


class _HeaderParser:
    """Parses one file's header; every error names the file and the offending field."""

    def __init__(self, file: BinaryIO, path: Path, size: int) -> None:
        self.path = path
        self.r = BoundedReader(file, path, size)

    def parse(self) -> RawHeader:
        version = self._magic_and_version()
        r = self.r
        n_tensors = r.u64("the header")
        n_kv = r.u64("the header")
        self._check_limit(n_tensors, MAX_TENSOR_COUNT, "tensors")
        self._check_limit(n_kv, MAX_KV_COUNT, "metadata entries")
        self._check_fits(n_kv, MIN_KV_BYTES, "metadata entries")
        kv = self._read_kv(n_kv)
        alignment = self._alignment(kv)
        self._check_fits(n_tensors, MIN_TENSOR_INFO_BYTES, "tensors")
        infos = [self._read_tensor_info(i) for i in range(n_tensors)]
        header_end = r.offset
        data_offset = _align(header_end, alignment) if n_tensors else header_end
        tensors = self._place_tensors(infos, data_offset, alignment)
        return RawHeader(version, kv, tensors, data_offset, alignment)

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
            hint = content_hint(magic + r.read(min(r.remaining, 28), "the header"))
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
                raise MetadataError(f"{self.path}: metadata key {quote_name(key)} appears twice")
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
        if value_type not in VALUE_TYPES:
            raise MetadataError(
                f"{self.path}: metadata key {quote_name(key)} has unknown value type {value_type}"
            )
        return value_type

    def _value(self, key: str) -> Any:
        what = f"metadata key {quote_name(key)}"
        value_type = self._value_type(key, what)
        if value_type == TYPE_ARRAY:
            return self._array(key, what)
        if value_type == TYPE_STRING:
            return self._string(what)
        value = self.r.unpack(SCALAR_STRUCTS[value_type], what)[0]
        if value_type == TYPE_BOOL:
            return value != 0
        if value_type == TYPE_FLOAT32:
            return float(str(np.float32(value)))  # shortest form: 1e-06, not 9.99999997e-07
        return value

    def _string(self, what: str) -> str:
        n = self.r.string_length(what)
        if n > KEPT_STRING_BYTES:
            self.r.skip(n, what)
            return f"[string of {n:,} bytes]"
        return self.r.read(n, what).decode("utf-8", errors="replace")

    def _array(self, key: str, what: str) -> ArrayValue:
        item_type = self._value_type(key, what)
        if item_type == TYPE_ARRAY:
            raise MetadataError(
                f"{self.path}: metadata key {quote_name(key)} is an array of arrays, which GGUF "
                "does not allow"
            )
        count = self.r.u64(what)
        name, fmt, item_size = VALUE_TYPES[item_type]
        if count > MAX_ARRAY_ITEMS:
            raise MetadataError(
                f"{self.path}: metadata key {quote_name(key)} claims an array of {count:,} {name} "
                f"values, which is absurd — the file is corrupt"
            )
        if count * item_size > self.r.remaining:
            raise self.r.truncated(count * item_size, what)
        if fmt is None:
            self.r.skip_strings(count, what)
            return ArrayValue(item_type, count, None)
        if count > KEPT_ARRAY_ITEMS:
            self.r.skip(count * item_size, what)
            return ArrayValue(item_type, count, None)
        values = struct.unpack(f"<{count}{fmt}", self.r.read(count * item_size, what))
        if item_type == TYPE_BOOL:
            values = tuple(v != 0 for v in values)
        return ArrayValue(item_type, count, values)

    def _alignment(self, kv: dict[str, Any]) -> int:
        value = kv.get("general.alignment", DEFAULT_ALIGNMENT)
        if type(value) is not int or value <= 0 or value & (value - 1):
            raise MetadataError(
                f"{self.path}: general.alignment is {show_value(value)}; it must be a power of 2"
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
                f"(at most {MAX_TENSOR_NAME} are allowed): {quote_name(name[:80])}"
            )
        what = f"tensor {quote_name(name)}"
        n_dims = r.u32(what)
        if n_dims > MAX_DIMS:
            raise MetadataError(
                f"{self.path}: tensor {quote_name(name)} has {n_dims:,} dimensions "
                f"(at most {MAX_DIMS} are allowed)"
            )
        shape = tuple(r.i64(what) for _ in range(n_dims))
        for axis, dim in enumerate(shape):
            if dim <= 0:
                raise MetadataError(
                    f"{self.path}: tensor {quote_name(name)} has a "
                    f"{'zero' if dim == 0 else 'negative'} "
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
                raise MetadataError(f"{self.path}: tensor {quote_name(t.name)} appears twice")
            seen.add(t.name)
            info = self._tensor_info(t, data_offset)
            end = info.offset + info.n_bytes
            if t.rel_offset != expected:
                if end > self.r.size:
                    raise TensorOutOfBoundsError(
                        f"{self.path}: tensor {quote_name(t.name)} has its data at bytes "
                        f"{info.offset:,}–{end:,}, past the end of the file "
                        f"({self.r.size:,} bytes)"
                    )
                raise MetadataError(
                    f"{self.path}: tensor {quote_name(t.name)} has data offset {t.rel_offset:,}, "
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
                f"{self.path}: tensor {quote_name(t.name)} has unknown ggml type id {t.ggml_type}"
            )
        type_name, block_size, type_size = sizes
        n_elements = 1
        for dim in t.shape:
            n_elements *= dim
        row = t.shape[0] if t.shape else 1
        if row % block_size:
            raise MetadataError(
                f"{self.path}: tensor {quote_name(t.name)} of type {type_name} has {row:,} "
                f"elements per row, not a multiple of its block size {block_size}"
            )
        if n_elements >= 1 << 63:
            raise MetadataError(
                f"{self.path}: tensor {quote_name(t.name)} has an impossible shape {list(t.shape)}"
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


