"""Read and validate a GGUF file's header without loading its weights.

The parser (`inference.gguf.header`, reading through `inference.gguf.byte_reader`) streams the
header in
bounded chunks and checks every length and count against the bytes really left in the file before
it trusts them, so a corrupt or hostile file fails fast with one specific `GGUFError` instead of a
`MemoryError`, a hang or a native crash in llama.cpp. This module is the public face: it opens the
file, and interprets the raw metadata into a `GGUFInfo`.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

from gguf.constants import LlamaFileType

from inference.common.errors import GGUFError, GGUFFileNotFoundError, MetadataError
from inference.gguf.header import (
    ArrayValue,
    RawHeader,
    TensorInfo,
    parse_header,
    quote_name,
    show_value,
)

__all__ = [
    "GGUFFileNotFoundError",
    "GGUFInfo",
    "TensorInfo",
    "file_type_name",
    "read_gguf",
]

_LLAMA_FTYPE_GUESSED = 1024


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
            header = parse_header(f, p, size)
    except GGUFError:
        raise
    except PermissionError as exc:
        raise GGUFError(f"cannot read {p}: permission denied") from exc
    except OSError as exc:
        raise GGUFError(f"cannot read {p}: {exc.strerror or exc}") from exc
    return _build_info(p, size, header)


# --------------------------------------------------------------------------------------------
# Interpretation


def _build_info(path: Path, size: int, header: RawHeader) -> GGUFInfo:
    kv = header.kv
    keys = _Keys(path, kv)
    arch = kv.get("general.architecture")
    if not isinstance(arch, str) or not arch.strip():
        raise MetadataError(
            f"{path}: the file has no general.architecture"
            + ("" if arch is None else f" string (it is {show_value(arch)})")
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
        vocab_size=tokens.count if isinstance(tokens, ArrayValue) else None,
        chat_template=keys.string("tokenizer.chat_template"),
        add_bos=keys.flag("tokenizer.ggml.add_bos_token"),
        split_count=keys.count("split.count"),
        metadata=MappingProxyType(
            {k: _public_value(v) for k, v in kv.items()}
        ),
        tensors=tensors,
        tensor_data_offset=header.data_offset,
    )


KEPT_PUBLIC_ARRAY = 4096   # per-layer arrays (KV heads, SWA pattern …) keep their values


def _public_value(value: Any) -> Any:
    """Small numeric arrays as tuples (fit.py reads per-layer values); others summarised."""
    if not isinstance(value, ArrayValue):
        return value
    if value.values is not None and value.count <= KEPT_PUBLIC_ARRAY:
        return tuple(value.values)
    return value.summary()


_MAX_SANE_COUNT = 1 << 40  # no layer/head/context count comes near this


class _Keys:
    """Typed access to well-known metadata keys, with errors that name the key."""

    def __init__(self, path: Path, kv: dict[str, Any]) -> None:
        self.path = path
        self.kv = kv

    def _wrong(self, key: str, value: Any, expected: str) -> MetadataError:
        return MetadataError(
            f"{self.path}: metadata key {quote_name(key)} should be {expected} "
            f"but is {show_value(value)}"
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
        if isinstance(value, ArrayValue):
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
