"""Synthetic GGUF files for tests: a tiny valid llama model and a corpus of broken files.

`write_tiny_model` writes a real (random-weight) llama-architecture model that llama.cpp loads
and runs. `write_broken(kind, folder)` writes one bad file per kind in `BROKEN_KINDS`; bad files
are made by writing a valid tiny model and then patching bytes or cutting it short. Field offsets
for the patches come from `gguf.GGUFReader`, independent of Parley's own parser.
"""

from __future__ import annotations

import struct
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from gguf import GGUFReader, GGUFWriter, LlamaFileType, TokenType

from inference.common.errors import (
    GGUFError,
    MetadataError,
    NotGGUFError,
    TensorOutOfBoundsError,
    TruncatedFileError,
    UnsupportedVersionError,
)

KVValue = str | int | float | bool | Sequence[int] | Sequence[str]

JINJA_ESCAPE_TEMPLATE = (
    "{{ ''.__class__.__mro__[1].__subclasses__() }}"
    "{% for m in messages %}{{ m['content'] }}{% endfor %}"
)

SIMPLE_CHAT_TEMPLATE = (
    "{% for m in messages %}<|{{ m['role'] }}|>{{ m['content'] }}</s>{% endfor %}"
    "{% if add_generation_prompt %}<|assistant|>{% endif %}"
)

_WORDS = ("hello", "world", "the", "and", "model", "is", "it")
_LETTERS = tuple("etaoinsrhldw.,!?")
_N_VOCAB = 300


def _word_pieces(count: int) -> tuple[str, ...]:
    """Letters, then every prefix of each "▁word" (SPM merges pairs only into known pieces)."""
    pieces: list[str] = ["▁", *_LETTERS]
    for word in _WORDS:
        for end in range(1, len(word) + 1):
            piece = "▁" + word[:end]
            if piece not in pieces:
                pieces.append(piece)
    filler = (f"▁x{i}" for i in range(count))
    while len(pieces) < count:
        pieces.append(next(filler))
    return tuple(pieces[:count])


@dataclass(frozen=True)
class TinyModelSpec:
    """The hyper-parameters `write_tiny_model` uses (tests may assert against them)."""

    n_vocab: int = _N_VOCAB   # <unk> <s> </s>, 256 byte tokens <0x00>..<0xFF>, word pieces
    n_embd: int = 32
    n_layer: int = 2
    n_head: int = 4
    n_head_kv: int = 2
    n_ff: int = 64
    n_ctx: int = 256

    @property
    def head_dim(self) -> int:
        return self.n_embd // self.n_head


TINY = TinyModelSpec()


def tiny_vocab(n_vocab: int = _N_VOCAB) -> tuple[list[str], list[float], list[int]]:
    """An SPM ("llama") vocabulary: specials, byte-fallback tokens, then word pieces."""
    if n_vocab < 259 + 1:
        raise ValueError(f"n_vocab must be at least 260 (3 specials, 256 bytes), not {n_vocab}")
    pieces = _word_pieces(n_vocab - 259)
    tokens = ["<unk>", "<s>", "</s>"] + [f"<0x{b:02X}>" for b in range(256)] + list(pieces)
    types = [TokenType.UNKNOWN, TokenType.CONTROL, TokenType.CONTROL]
    types += [TokenType.BYTE] * 256 + [TokenType.NORMAL] * len(pieces)
    scores = [0.0] * 259 + [-float(i) for i in range(len(pieces))]
    return tokens, scores, [int(t) for t in types]


def write_tiny_model(
    path: str | Path,
    arch: str = "llama",
    *,
    architecture: str | None = None,
    f16: bool = False,
    chat_template: str | None = None,
    name: str = "Parley Tiny Test",
    seed: int = 0,
    spec: TinyModelSpec = TINY,
    extra_kv: Mapping[str, KVValue] | None = None,
    omit_keys: Collection[str] = (),
    alignment: int | None = None,
) -> Path:
    """Write a tiny but valid llama-architecture GGUF (random weights) and return its path.

    `architecture` (alias of `arch`) names the architecture and prefixes its keys; `extra_kv`
    adds keys (after `omit_keys` drops keys the writer would otherwise add, so a key can be
    replaced by one of another type); `alignment` sets general.alignment and pads to it.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    arch = architecture or arch
    rng = np.random.default_rng(seed)
    w = GGUFWriter(path, arch)
    w.add_name(name)
    w.add_size_label("tiny")
    w.add_context_length(spec.n_ctx)
    w.add_embedding_length(spec.n_embd)
    w.add_block_count(spec.n_layer)
    w.add_feed_forward_length(spec.n_ff)
    w.add_head_count(spec.n_head)
    w.add_head_count_kv(spec.n_head_kv)
    w.add_rope_dimension_count(spec.head_dim)
    w.add_rope_freq_base(10000.0)
    w.add_layer_norm_rms_eps(1e-5)
    w.add_file_type(LlamaFileType.MOSTLY_F16 if f16 else LlamaFileType.ALL_F32)
    tokens, scores, types = tiny_vocab(spec.n_vocab)
    w.add_tokenizer_model("llama")
    w.add_token_list(tokens)
    w.add_token_scores(scores)
    w.add_token_types(types)
    w.add_unk_token_id(0)
    w.add_bos_token_id(1)
    w.add_eos_token_id(2)
    w.add_add_bos_token(True)
    w.add_add_eos_token(False)
    if chat_template is not None:
        w.add_chat_template(chat_template)
    if alignment is not None:
        w.add_custom_alignment(alignment)
    for key in omit_keys:
        w.kv_data[0].pop(key)
    for key, value in (extra_kv or {}).items():
        _add_value(w, key, value)
    for tensor_name, array in _tiny_tensors(spec, rng, f16):
        w.add_tensor(tensor_name, array)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    return path


def _add_value(w: GGUFWriter, key: str, value: KVValue) -> None:
    """bool -> BOOL, int -> UINT32 (INT32 if negative), float -> FLOAT32, str, list -> ARRAY."""
    if isinstance(value, bool):
        w.add_bool(key, value)
    elif isinstance(value, int) and value < 0:
        w.add_int32(key, value)
    elif isinstance(value, int):
        w.add_uint32(key, value)
    elif isinstance(value, float):
        w.add_float32(key, value)
    elif isinstance(value, str):
        w.add_string(key, value)
    else:
        w.add_array(key, list(value))


def _tiny_tensors(
    spec: TinyModelSpec, rng: np.random.Generator, f16: bool
) -> list[tuple[str, np.ndarray]]:
    """Tensors in llama.cpp's llama layout; numpy shapes are (rows, cols) = GGUF (ne1, ne0)."""
    wtype = np.float16 if f16 else np.float32

    def weight(rows: int, cols: int) -> np.ndarray:
        return (rng.standard_normal((rows, cols)) * 0.02).astype(wtype)

    def norm() -> np.ndarray:
        return np.ones(spec.n_embd, dtype=np.float32)  # norms stay F32, as llama.cpp expects

    q_dim = spec.n_head * spec.head_dim
    kv_dim = spec.n_head_kv * spec.head_dim
    tensors = [("token_embd.weight", weight(spec.n_vocab, spec.n_embd))]
    for i in range(spec.n_layer):
        tensors += [
            (f"blk.{i}.attn_norm.weight", norm()),
            (f"blk.{i}.attn_q.weight", weight(q_dim, spec.n_embd)),
            (f"blk.{i}.attn_k.weight", weight(kv_dim, spec.n_embd)),
            (f"blk.{i}.attn_v.weight", weight(kv_dim, spec.n_embd)),
            (f"blk.{i}.attn_output.weight", weight(spec.n_embd, q_dim)),
            (f"blk.{i}.ffn_norm.weight", norm()),
            (f"blk.{i}.ffn_gate.weight", weight(spec.n_ff, spec.n_embd)),
            (f"blk.{i}.ffn_down.weight", weight(spec.n_embd, spec.n_ff)),
            (f"blk.{i}.ffn_up.weight", weight(spec.n_ff, spec.n_embd)),
        ]
    tensors.append(("output_norm.weight", norm()))
    tensors.append(("output.weight", weight(spec.n_vocab, spec.n_embd)))
    return tensors


# --------------------------------------------------------------------------------------------
# The broken corpus

# kind -> the error `read_gguf` must raise (None: the file is well-formed and inspects fine)
EXPECTED_ERRORS: dict[str, type[GGUFError] | None] = {
    "bad_magic": NotGGUFError,
    "version1": UnsupportedVersionError,
    "version99": UnsupportedVersionError,
    "truncated_header": TruncatedFileError,
    "truncated_kv": TruncatedFileError,
    "truncated_tensor_data": TruncatedFileError,
    "absurd_tensor_count": MetadataError,
    "absurd_kv_count": MetadataError,
    "string_past_end": MetadataError,
    "offset_past_end": TensorOutOfBoundsError,
    "zero_dimension": MetadataError,
    "too_many_dims": MetadataError,
    "unknown_ggml_type": MetadataError,
    "bad_value_type": MetadataError,
    "non_utf8_key": MetadataError,
    "unknown_architecture": None,
    "jinja_escape_template": None,
}
BROKEN_KINDS: tuple[str, ...] = tuple(EXPECTED_ERRORS)

ABSURD_TENSOR_COUNT = 10**9
ABSURD_KV_COUNT = 10**12
ABSURD_STRING_LENGTH = 2**60
PAST_END_OFFSET = 10**12
UNKNOWN_GGML_TYPE = 99
BAD_VALUE_TYPE = 77
PATCHED_KEY = "general.name"
PATCHED_TENSOR = "blk.1.ffn_up.weight"


def write_broken(kind: str, folder: str | Path) -> Path:
    """Write the corpus file `kind` (one of `BROKEN_KINDS`) into `folder` and return its path."""
    if kind not in EXPECTED_ERRORS:
        raise ValueError(f"unknown broken kind {kind!r}; choose from {', '.join(BROKEN_KINDS)}")
    folder = Path(folder)
    path = folder / f"{kind}.gguf"
    if kind == "unknown_architecture":
        return write_tiny_model(path, architecture="parleytest")
    if kind == "jinja_escape_template":
        return write_tiny_model(path, chat_template=JINJA_ESCAPE_TEMPLATE)
    write_tiny_model(path)
    layout = GGUFLayout.of(path)
    cuts = {
        "truncated_header": 20,  # inside the metadata count
        "truncated_kv": layout.field_offset("tokenizer.ggml.tokens") + 1000,
        "truncated_tensor_data": (layout.data_offset + layout.data_end) // 2,
    }
    if kind in cuts:
        truncate(path, cuts[kind])
    else:
        offset, data = _patch_for(kind, layout)
        _patch(path, offset, data)
    return path


def _patch_for(kind: str, layout: GGUFLayout) -> tuple[int, bytes]:
    """Where to write what, to turn a valid tiny model into corpus file `kind`."""
    u32, u64 = struct.Struct("<I").pack, struct.Struct("<Q").pack
    tensor = layout.tensor_field
    patches = {
        "bad_magic": (0, b"PK\x03\x04"),
        "version1": (4, u32(1)),
        "version99": (4, u32(99)),
        "absurd_tensor_count": (8, u64(ABSURD_TENSOR_COUNT)),
        "absurd_kv_count": (16, u64(ABSURD_KV_COUNT)),
        "string_past_end": (layout.value_offset(PATCHED_KEY), u64(ABSURD_STRING_LENGTH)),
        "offset_past_end": (tensor(PATCHED_TENSOR, "offset"), u64(PAST_END_OFFSET)),
        "zero_dimension": (tensor(PATCHED_TENSOR, "dims"), u64(0)),
        "too_many_dims": (tensor(PATCHED_TENSOR, "n_dims"), u32(5)),
        "unknown_ggml_type": (tensor(PATCHED_TENSOR, "type"), u32(UNKNOWN_GGML_TYPE)),
        "bad_value_type": (layout.value_offset(PATCHED_KEY) - 4, u32(BAD_VALUE_TYPE)),
        "non_utf8_key": (layout.field_offset(PATCHED_KEY) + 8, b"\xff\xfe"),
    }
    return patches[kind]


def write_corpus(folder: str | Path, kinds: Sequence[str] = BROKEN_KINDS) -> dict[str, Path]:
    """Write every corpus file into `folder`; kind -> path."""
    return {kind: write_broken(kind, folder) for kind in kinds}


def truncate(path: str | Path, size: int) -> Path:
    """Cut the file at `size` bytes."""
    with Path(path).open("r+b") as f:
        f.truncate(size)
    return Path(path)


def truncated_copy(src: str | Path, dst: str | Path, size: int) -> Path:
    """Write the first `size` bytes of `src` to `dst`."""
    with Path(src).open("rb") as f:
        Path(dst).write_bytes(f.read(size))
    return Path(dst)


def _patch(path: Path, offset: int, data: bytes) -> None:
    with path.open("r+b") as f:
        f.seek(offset)
        f.write(data)


@dataclass(frozen=True)
class GGUFLayout:
    """Byte offsets of a valid GGUF's fields, found with gguf.GGUFReader (not Parley's parser)."""

    fields: dict[str, int]                    # key -> offset of its entry (the key length)
    tensors: dict[str, tuple[int, int, int]]  # name -> (entry offset, name length, n_dims)
    data_offset: int
    data_end: int                             # end of the last tensor's data (no padding)
    file_size: int

    @classmethod
    def of(cls, path: str | Path) -> GGUFLayout:
        reader = GGUFReader(path)
        fields = {name: int(f.offset) for name, f in reader.fields.items()}
        tensors = {}
        data_end = int(reader.data_offset)
        for t in reader.tensors:
            tensors[t.name] = (int(t.field.offset), len(t.name.encode()), len(t.shape))
            data_end = max(data_end, int(t.data_offset) + int(t.n_bytes))
        return cls(fields, tensors, int(reader.data_offset), data_end, Path(path).stat().st_size)

    def field_offset(self, key: str) -> int:
        return self.fields[key]

    def value_offset(self, key: str) -> int:
        """Offset of a scalar entry's value (a string's length field), after key and type."""
        return self.fields[key] + 8 + len(key.encode()) + 4

    def tensor_field(self, name: str, part: str) -> int:
        """Offset of a tensor entry's "n_dims", first of its "dims", "type" or "offset"."""
        start, name_len, n_dims = self.tensors[name]
        at = {"n_dims": 8 + name_len}
        at["dims"] = at["n_dims"] + 4
        at["type"] = at["dims"] + 8 * n_dims
        at["offset"] = at["type"] + 4
        return start + at[part]
