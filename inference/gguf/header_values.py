"""The GGUF format's constants and limits, and the values a parsed header is made of."""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Any

GGUF_MAGIC = b"GGUF"
SUPPORTED_VERSIONS = (2, 3)
DEFAULT_ALIGNMENT = 32
MAX_DIMS = 4                       # GGML_MAX_DIMS
MAX_TENSOR_NAME = 63               # GGML_MAX_NAME - 1
MAX_ARRAY_ITEMS = 1 << 30          # llama.cpp's GGUF_MAX_ARRAY_ELEMENTS
MAX_KV_COUNT = 1_000_000           # real models have tens; anything near this is corrupt
MAX_TENSOR_COUNT = 1_000_000       # the largest real files hold a few thousand
KEPT_STRING_BYTES = 16 << 20       # longer metadata strings are summarised, not kept
KEPT_ARRAY_ITEMS = 65_536          # numeric arrays up to this length keep their values

# GGUF value type id -> (name, struct format or None for strings/arrays, minimum encoded size)
VALUE_TYPES: dict[int, tuple[str, str | None, int]] = {
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
SCALAR_STRUCTS = {t: struct.Struct("<" + fmt) for t, (_, fmt, _) in VALUE_TYPES.items() if fmt}
TYPE_BOOL, TYPE_STRING, TYPE_ARRAY, TYPE_FLOAT32 = 7, 8, 9, 6
MIN_KV_BYTES = 8 + 1 + 4 + 1          # key length, 1-byte key, type, 1-byte value
MIN_TENSOR_INFO_BYTES = 8 + 4 + 4 + 8  # name length, n_dims, type, offset


@dataclass(frozen=True)
class ArrayValue:
    """An array value: element type, length, and the values when small and numeric."""

    item_type: int
    count: int
    values: tuple[Any, ...] | None

    def summary(self) -> str:
        return f"[array of {self.count} {VALUE_TYPES[self.item_type][0]}]"


@dataclass(frozen=True)
class TensorInfo:
    """One tensor's validated header entry (re-exported by `gguf.file`, in `GGUFInfo.tensors`);
    `offset` is the absolute file offset of its data."""

    name: str
    ggml_type: int
    type_name: str
    shape: tuple[int, ...]
    n_elements: int
    n_bytes: int
    offset: int


@dataclass(frozen=True)
class RawHeader:
    """A header as read: metadata values are raw (arrays as `ArrayValue`), tensors placed."""

    version: int
    kv: dict[str, Any]
    tensors: tuple[TensorInfo, ...]
    data_offset: int
    alignment: int


def show_value(value: Any) -> str:
    if isinstance(value, ArrayValue):
        return value.summary()
    return repr(value)
