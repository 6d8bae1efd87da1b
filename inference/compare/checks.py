"""Are these GGUF files the same model? Same architecture and the very same vocabulary.

The vocabulary is compared by size and by a SHA-256 of the raw `tokenizer.ggml.tokens` array
(every token's bytes, in order), read straight from the header: no weights are touched and no
model is loaded. KL divergence is only meaningful between files whose token ids mean the same.
"""

from __future__ import annotations

import hashlib
import struct
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from inference.common.errors import GGUFError, ParleyError
from inference.gguf.file import GGUFInfo

TOKENS_KEY = "tokenizer.ggml.tokens"
# GGUF value types → fixed byte size (8 = string and 9 = array are variable)
_FIXED = {0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 10: 8, 11: 8, 12: 8}
_STRING, _ARRAY = 8, 9
_U32 = struct.Struct("<I")
_U64 = struct.Struct("<Q")


class ModelMismatchError(ParleyError):
    """Files of different models were given to one comparison."""


@dataclass(frozen=True)
class VocabFingerprint:
    size: int
    sha256: str               # of the tokens array's bytes; "" when the file has no token list
    tokenizer: str            # tokenizer.ggml.model / .pre, e.g. "llama/default"


def vocab_fingerprint(info: GGUFInfo) -> VocabFingerprint:
    tokenizer = "/".join(str(info.metadata.get(k, "?"))
                         for k in ("tokenizer.ggml.model", "tokenizer.ggml.pre"))
    with Path(info.path).open("rb") as f:
        digest, size = _hash_tokens(f, info.path)
    return VocabFingerprint(size, digest, tokenizer)


def check_same_model(infos: Sequence[GGUFInfo]) -> tuple[VocabFingerprint, ...]:
    """Raise ModelMismatchError naming the first file that differs from the first one."""
    prints = tuple(vocab_fingerprint(i) for i in infos)
    first, fp0 = infos[0], prints[0]
    for info, fp in zip(infos[1:], prints[1:], strict=True):
        a, b = first.path.name, info.path.name
        if info.architecture != first.architecture:
            raise ModelMismatchError(
                f"{b} is not the same model as {a}: architecture {info.architecture} vs "
                f"{first.architecture}. Compare quantizations of one model only.")
        if fp.size != fp0.size:
            raise ModelMismatchError(
                f"{b} is not the same model as {a}: its vocabulary has {fp.size:,} tokens, "
                f"{a}'s has {fp0.size:,}. Compare quantizations of one model only.")
        if fp.sha256 != fp0.sha256:
            raise ModelMismatchError(
                f"{b} is not the same model as {a}: same vocabulary size ({fp.size:,}) but "
                f"different token lists (hash {fp.sha256[:12]} vs {fp0.sha256[:12]}).")
        if fp.tokenizer != fp0.tokenizer:
            raise ModelMismatchError(
                f"{b} is not the same model as {a}: tokenizer {fp.tokenizer} vs "
                f"{fp0.tokenizer}.")
    return prints


def _hash_tokens(f: BinaryIO, path: Path) -> tuple[str, int]:
    def read(n: int) -> bytes:
        data = f.read(n)
        if len(data) != n:
            raise GGUFError(f"{path}: the file ends inside its metadata")
        return data

    def u32() -> int:
        return _U32.unpack(read(4))[0]

    def u64() -> int:
        return _U64.unpack(read(8))[0]

    def skip(value_type: int) -> None:
        if value_type in _FIXED:
            f.seek(_FIXED[value_type], 1)
        elif value_type == _STRING:
            f.seek(u64(), 1)
        elif value_type == _ARRAY:
            item_type, count = u32(), u64()
            if item_type in _FIXED:
                f.seek(_FIXED[item_type] * count, 1)
            else:
                for _ in range(count):
                    skip(item_type)
        else:
            raise GGUFError(f"{path}: unknown metadata value type {value_type}")

    if read(4) != b"GGUF":
        raise GGUFError(f"{path} is not a GGUF file")
    read(4 + 8)                                   # version, tensor count
    for _ in range(u64()):
        key = read(u64()).decode("utf-8", "replace")
        value_type = u32()
        if key == TOKENS_KEY and value_type == _ARRAY:
            item_type, count = u32(), u64()
            if item_type != _STRING:
                raise GGUFError(f"{path}: {TOKENS_KEY} is not a list of strings")
            digest = hashlib.sha256()
            for _ in range(count):
                raw = read(8)
                digest.update(raw)
                digest.update(read(_U64.unpack(raw)[0]))
            return digest.hexdigest(), count
        skip(value_type)
    return "", 0
