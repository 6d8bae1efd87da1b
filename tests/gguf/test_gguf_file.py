"""inference.gguf.file: the starter model, the tiny model, and every file of the broken corpus."""

from __future__ import annotations

import json
import os
import struct
from collections.abc import Iterator
from pathlib import Path

import pytest
from gguf import GGUFReader

from inference.common.errors import (
    GGUFError,
    MetadataError,
    NotGGUFError,
    TruncatedFileError,
    UnsupportedVersionError,
)
from inference.gguf.file import (
    GGUFFileNotFoundError,
    GGUFInfo,
    TensorInfo,
    file_type_name,
    read_gguf,
)
from tests.support.gguf_factory import (
    ABSURD_KV_COUNT,
    ABSURD_STRING_LENGTH,
    ABSURD_TENSOR_COUNT,
    BROKEN_KINDS,
    EXPECTED_ERRORS,
    JINJA_ESCAPE_TEMPLATE,
    PATCHED_KEY,
    PATCHED_TENSOR,
    SIMPLE_CHAT_TEMPLATE,
    TINY,
    UNKNOWN_GGML_TYPE,
    GGUFLayout,
    truncated_copy,
    write_broken,
    write_tiny_model,
)

# ---------------------------------------------------------------------------------------------
# The starter model (gemma-3-270m Q4_K_M, fixed by its sha256; `starter_model_path` is in
# conftest.py)


@pytest.fixture(scope="session")
def starter_info(starter_model_path: Path) -> GGUFInfo:
    return read_gguf(starter_model_path)


def test_starter_model_summary(starter_info: GGUFInfo, starter_model_path: Path) -> None:
    info = starter_info
    assert info.path == starter_model_path
    assert info.version == 3
    assert info.file_size == starter_model_path.stat().st_size == 253_113_024
    assert info.architecture == "gemma3"
    assert info.name == "Gemma 3 270m"
    assert info.size_label == "270M"
    assert info.quant == "Q4_K_M"
    assert info.layers == 18
    assert info.context_length == 32768
    assert info.embedding_length == 640
    assert info.feed_forward_length == 2048
    assert info.heads == 4
    assert info.kv_heads == 1
    assert info.key_length == info.value_length == 256
    assert info.sliding_window == 512
    assert info.expert_count is None and not info.is_moe
    assert info.chat_template is None and not info.has_chat_template
    assert info.add_bos is True
    assert info.vocab_size == 262_144
    assert info.split_count is None
    assert info.parameters == 268_098_176
    assert len(info.tensors) == 236


# Ground truth for the sha256-pinned file, checked once against gguf.GGUFReader (too slow to
# run on every test run: it materialises all 262,144 tokens).
STARTER_TENSOR_BYTES = 246_587_904
STARTER_DATA_OFFSET = 6_525_120


def test_starter_bits_per_weight(starter_info: GGUFInfo) -> None:
    assert sum(t.n_bytes for t in starter_info.tensors) == STARTER_TENSOR_BYTES
    expected = 8 * STARTER_TENSOR_BYTES / 268_098_176
    assert starter_info.bits_per_weight == pytest.approx(expected, rel=1e-12)
    assert starter_info.bits_per_weight == pytest.approx(7.358, abs=0.001)


def test_starter_tensor_table(starter_info: GGUFInfo) -> None:
    tensors = starter_info.tensors
    assert starter_info.tensor_data_offset == STARTER_DATA_OFFSET
    assert tensors[0].offset == STARTER_DATA_OFFSET
    last = tensors[-1]
    assert last.offset + last.n_bytes == starter_info.file_size
    embd = next(t for t in tensors if t.name == "token_embd.weight")
    assert (embd.type_name, embd.shape, embd.n_bytes) == ("Q8_0", (640, 262_144), 178_257_920)
    assert {t.type_name for t in tensors} == {"F32", "Q5_0", "Q4_K", "Q8_0", "Q6_K"}
    assert len({t.name for t in tensors}) == len(tensors)


def _bytes_read() -> int:
    """Bytes this process has read through system calls so far (Linux's /proc/self/io)."""
    for line in Path("/proc/self/io").read_text().splitlines():
        if line.startswith("rchar:"):
            return int(line.split()[1])
    raise AssertionError("no rchar in /proc/self/io")


@pytest.mark.skipif(not Path("/proc/self/io").is_file(), reason="needs Linux's /proc/self/io")
def test_starter_model_inspection_reads_the_header_only(starter_model_path: Path) -> None:
    """Inspecting a 253 MB model reads its header (the 262k-token vocabulary, ~4 MB), not the
    weights: what makes `parley info` and the library instant (speed itself is `make bench`'s)."""
    before = _bytes_read()
    info = read_gguf(starter_model_path)
    read = _bytes_read() - before
    assert read < 16 << 20 < info.file_size, f"read {read:,} bytes of {info.file_size:,}"


def test_starter_metadata_keeps_tokens_out(starter_info: GGUFInfo) -> None:
    md = starter_info.metadata
    assert md["tokenizer.ggml.tokens"] == "[array of 262144 string]"
    assert md["tokenizer.ggml.scores"] == "[array of 262144 float32]"
    assert md["general.file_type"] == 15
    assert md["gemma3.attention.layer_norm_rms_epsilon"] == 1e-06
    assert md["tokenizer.ggml.add_bos_token"] is True
    with pytest.raises(TypeError):
        md["general.name"] = "changed"  # type: ignore[index]


def test_starter_to_dict_is_json(starter_info: GGUFInfo) -> None:
    d = json.loads(json.dumps(starter_info.to_dict()))
    expected = {
        "architecture": "gemma3", "quant": "Q4_K_M", "parameters": 268_098_176, "layers": 18,
        "context_length": 32768, "embedding_length": 640, "heads": 4, "kv_heads": 1,
        "experts": 0, "experts_used": None, "chat_template": False, "version": 3,
        "size_label": "270M", "vocab_size": 262_144, "name": "Gemma 3 270m",
        "file_size": 253_113_024,
    }
    assert {k: d[k] for k in expected} == expected
    assert d["path"] == str(starter_info.path)
    assert d["bits_per_weight"] == pytest.approx(7.358, abs=0.001)


def _reader_tensor(t: object) -> tuple[object, ...]:
    return (
        t.name,  # type: ignore[attr-defined]
        int(t.tensor_type),  # type: ignore[attr-defined]
        tuple(int(x) for x in t.shape),  # type: ignore[attr-defined]
        int(t.n_elements),  # type: ignore[attr-defined]
        int(t.n_bytes),  # type: ignore[attr-defined]
        int(t.data_offset),  # type: ignore[attr-defined]
    )


# ---------------------------------------------------------------------------------------------
# The tiny model


@pytest.fixture(scope="module")
def tiny_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("tiny")


@pytest.fixture(scope="module")
def tiny_path(tiny_dir: Path) -> Path:
    return write_tiny_model(tiny_dir / "tiny-f32.gguf")


def _tiny_parameters() -> int:
    d, ff, v, hd = TINY.n_embd, TINY.n_ff, TINY.n_vocab, TINY.head_dim
    per_layer = 2 * d + d * TINY.n_head * hd * 2 + d * TINY.n_head_kv * hd * 2 + 3 * d * ff
    return 2 * v * d + d + TINY.n_layer * per_layer


def test_tiny_model_inspects(tiny_path: Path) -> None:
    info = read_gguf(tiny_path)
    assert info.architecture == "llama"
    assert info.name == "Parley Tiny Test"
    assert info.size_label == "tiny"
    assert info.quant == "F32"
    assert (info.layers, info.heads, info.kv_heads) == (TINY.n_layer, TINY.n_head, TINY.n_head_kv)
    assert info.context_length == TINY.n_ctx
    assert info.embedding_length == TINY.n_embd
    assert info.feed_forward_length == TINY.n_ff
    assert info.vocab_size == TINY.n_vocab == 300
    assert info.key_length is None and info.sliding_window is None
    assert info.add_bos is True
    assert info.chat_template is None and not info.has_chat_template
    assert info.parameters == _tiny_parameters()
    assert info.bits_per_weight == 32.0
    assert info.tensor_data_offset % 32 == 0
    assert info.metadata["tokenizer.ggml.tokens"] == "[array of 300 string]"
    assert info.metadata["tokenizer.ggml.token_type"][:3] == (2, 3, 3)   # small: values kept
    assert info.metadata["llama.attention.layer_norm_rms_epsilon"] == 1e-05


def test_tiny_model_tensor_table_matches_gguf_reader(tiny_path: Path) -> None:
    info = read_gguf(tiny_path)
    reader = GGUFReader(tiny_path)
    assert info.tensor_data_offset == reader.data_offset
    assert [_reader_tensor(t) for t in reader.tensors] == [
        (t.name, t.ggml_type, t.shape, t.n_elements, t.n_bytes, t.offset) for t in info.tensors
    ]
    q = next(t for t in info.tensors if t.name == "blk.0.attn_k.weight")
    assert q == TensorInfo(
        name="blk.0.attn_k.weight", ggml_type=0, type_name="F32",
        shape=(TINY.n_embd, TINY.n_head_kv * TINY.head_dim),
        n_elements=TINY.n_embd * TINY.n_head_kv * TINY.head_dim,
        n_bytes=4 * TINY.n_embd * TINY.n_head_kv * TINY.head_dim, offset=q.offset,
    )


def test_tiny_f16_with_chat_template(tiny_dir: Path) -> None:
    info = read_gguf(
        write_tiny_model(tiny_dir / "tiny-f16.gguf", f16=True, chat_template=SIMPLE_CHAT_TEMPLATE)
    )
    assert info.quant == "F16"
    assert info.chat_template == SIMPLE_CHAT_TEMPLATE and info.has_chat_template
    assert info.to_dict()["chat_template"] is True
    norms = sum(t.n_elements for t in info.tensors if len(t.shape) == 1)
    expected = (16 * (info.parameters - norms) + 32 * norms) / info.parameters
    assert info.bits_per_weight == pytest.approx(expected)


@pytest.mark.parametrize("f16", [False, True])
def test_tiny_model_runs_in_llama_cpp(f16: bool, tiny_dir: Path) -> None:
    llama_cpp = pytest.importorskip("llama_cpp")
    path = write_tiny_model(tiny_dir / f"run-{f16}.gguf", f16=f16)
    llm = llama_cpp.Llama(model_path=str(path), n_ctx=128, verbose=False, seed=1)
    try:
        tokens = llm.tokenize(b"hello world", add_bos=True)
        assert tokens[0] == 1 and len(tokens) == 3  # <s> "▁hello" "▁world": SPM merges work
        out = llm("hello world", max_tokens=3, temperature=0.0)
        assert out["usage"]["completion_tokens"] >= 1
    finally:
        llm.close()


def test_unknown_architecture_is_refused_by_llama_cpp(tiny_dir: Path) -> None:
    llama_cpp = pytest.importorskip("llama_cpp")
    with pytest.raises(ValueError):
        llama_cpp.Llama(model_path=str(write_broken("unknown_architecture", tiny_dir)),
                        n_ctx=128, verbose=False)


def test_quant_is_guessed_without_file_type(tiny_dir: Path) -> None:
    path = write_tiny_model(tiny_dir / "no-ftype.gguf", f16=True, omit_keys=["general.file_type"])
    info = read_gguf(path)
    assert info.quant == "F16 (guessed)"
    assert "general.file_type" not in info.metadata


def test_per_layer_head_count_kv_takes_the_max(tiny_dir: Path) -> None:
    path = write_tiny_model(
        tiny_dir / "kv-array.gguf",
        omit_keys=["llama.attention.head_count_kv"],
        extra_kv={"llama.attention.head_count_kv": [2, 0], "llama.expert_count": 8,
                  "llama.expert_used_count": 2, "split.count": 3},
    )
    info = read_gguf(path)
    assert info.kv_heads == 2
    assert info.metadata["llama.attention.head_count_kv"] == (2, 0)
    assert (info.expert_count, info.experts_used, info.is_moe) == (8, 2, True)
    assert info.to_dict()["experts"] == 8
    assert info.split_count == 3


def test_custom_alignment(tiny_dir: Path) -> None:
    path = write_tiny_model(tiny_dir / "align64.gguf", alignment=64)
    info = read_gguf(path)
    assert info.tensor_data_offset % 64 == 0
    assert info.tensor_data_offset == GGUFReader(path).data_offset
    assert all(t.offset % 64 == 0 for t in info.tensors)


def test_version_2_is_read(tiny_dir: Path) -> None:
    path = _patched(write_tiny_model(tiny_dir / "v2.gguf"), 4, struct.pack("<I", 2))
    assert read_gguf(path).version == 2


def test_unknown_architecture_is_not_a_header_error(tiny_dir: Path) -> None:
    info = read_gguf(write_broken("unknown_architecture", tiny_dir))
    assert info.architecture == "parleytest"
    assert (info.layers, info.heads, info.context_length) == (2, 4, 256)


def test_jinja_escape_template_is_read_verbatim(tiny_dir: Path) -> None:
    info = read_gguf(write_broken("jinja_escape_template", tiny_dir))
    assert info.chat_template == JINJA_ESCAPE_TEMPLATE


# ---------------------------------------------------------------------------------------------
# The broken corpus: each kind, its own error class and the specific fact in the message


@pytest.fixture(scope="module")
def corpus_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("corpus")


def _facts(kind: str, layout: GGUFLayout) -> list[str]:
    """Strings the error message for `kind` must contain."""
    return {
        "bad_magic": ["is not a GGUF file", "'PK\\x03\\x04'", "expected 'GGUF'"],
        "version1": ["version 1 ", "2 and 3"],
        "version99": ["version 99 ", "2 and 3"],
        "truncated_header": ["truncated", "the file has 20 —", "incomplete"],
        "truncated_kv": ["truncated", "tokenizer.ggml.tokens",
                         f"the file has {layout.field_offset('tokenizer.ggml.tokens') + 1000:,}"],
        "truncated_tensor_data": [
            "truncated", f"needs {layout.data_end:,} bytes",
            f"the file has {(layout.data_offset + layout.data_end) // 2:,}",
        ],
        "absurd_tensor_count": [f"{ABSURD_TENSOR_COUNT:,} tensors", "absurd"],
        "absurd_kv_count": [f"{ABSURD_KV_COUNT:,} metadata entries", "absurd"],
        "string_past_end": [PATCHED_KEY, f"{ABSURD_STRING_LENGTH:,} bytes", "past the end"],
        "offset_past_end": [f"'{PATCHED_TENSOR}'", "past the end of the file",
                            f"({layout.file_size:,} bytes)"],
        "zero_dimension": [f"'{PATCHED_TENSOR}'", "zero dimension"],
        "too_many_dims": [f"'{PATCHED_TENSOR}'", "5 dimensions"],
        "unknown_ggml_type": [f"'{PATCHED_TENSOR}'", f"unknown ggml type id {UNKNOWN_GGML_TYPE}"],
        "bad_value_type": [f"'{PATCHED_KEY}'", "unknown value type 77"],
        "non_utf8_key": ["not valid UTF-8"],
    }[kind]


@pytest.mark.parametrize("kind", [k for k in BROKEN_KINDS if EXPECTED_ERRORS[k] is not None])
def test_broken_file_raises_its_specific_error(kind: str, corpus_dir: Path) -> None:
    layout = GGUFLayout.of(write_tiny_model(corpus_dir / "reference.gguf"))
    path = write_broken(kind, corpus_dir)
    expected = EXPECTED_ERRORS[kind]
    assert expected is not None
    with pytest.raises(expected) as err:
        read_gguf(path)
    assert type(err.value) is expected
    message = str(err.value)
    assert str(path) in message
    for fact in _facts(kind, layout):
        assert fact in message, f"{fact!r} not in {message!r}"


def test_every_kind_is_covered() -> None:
    assert set(BROKEN_KINDS) == set(EXPECTED_ERRORS)
    required = {
        "bad_magic", "version1", "version99", "truncated_header", "truncated_kv",
        "truncated_tensor_data", "absurd_tensor_count", "absurd_kv_count", "string_past_end",
        "offset_past_end", "zero_dimension", "unknown_architecture", "jinja_escape_template",
    }
    assert required <= set(BROKEN_KINDS)


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, GGUFLayout]:
    path = write_tiny_model(tmp_path_factory.mktemp("ref") / "reference.gguf")
    return path, GGUFLayout.of(path)


def _cut_points(layout: GGUFLayout) -> Iterator[int]:
    yield from range(0, layout.data_offset + 1, 7)  # all through the header
    yield from range(layout.data_offset, layout.data_end, 4099)  # and through the tensor data
    yield layout.data_end - 1


def test_every_cut_point_reports_truncation(
    reference: tuple[Path, GGUFLayout], tmp_path: Path
) -> None:
    src, layout = reference
    for cut in _cut_points(layout):
        path = truncated_copy(src, tmp_path / f"cut-{cut}.gguf", cut)
        with pytest.raises(TruncatedFileError) as err:
            read_gguf(path)
        assert f"the file has {cut:,} " in str(err.value)
        path.unlink()


def test_header_only_cut_names_both_sizes(
    reference: tuple[Path, GGUFLayout], tmp_path: Path
) -> None:
    src, layout = reference
    path = truncated_copy(src, tmp_path / "header-only.gguf", layout.data_offset)
    with pytest.raises(TruncatedFileError, match="download may be incomplete") as err:
        read_gguf(path)
    assert f"the tensor data needs {layout.data_end:,} bytes" in str(err.value)
    assert f"the file has {layout.data_offset:,}" in str(err.value)


def test_tensor_offset_out_of_order(reference: tuple[Path, GGUFLayout], tmp_path: Path) -> None:
    src, layout = reference
    path = tmp_path / "out-of-order.gguf"
    path.write_bytes(src.read_bytes())
    _patched(path, layout.tensor_field(PATCHED_TENSOR, "offset"), struct.pack("<Q", 32))
    with pytest.raises(MetadataError, match=f"tensor '{PATCHED_TENSOR}' has data offset 32"):
        read_gguf(path)


def test_missing_path_and_folder(tmp_path: Path) -> None:
    missing = tmp_path / "nope.gguf"
    with pytest.raises(GGUFFileNotFoundError, match="no such file") as err:
        read_gguf(missing)
    assert str(missing) in str(err.value)
    assert isinstance(err.value, GGUFError) and isinstance(err.value, FileNotFoundError)
    with pytest.raises(GGUFFileNotFoundError, match="is a folder"):
        read_gguf(tmp_path)


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs named pipes")
def test_named_pipe_is_refused_without_blocking(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe.gguf"
    os.mkfifo(fifo)
    with pytest.raises(GGUFFileNotFoundError, match="not a regular file"):
        read_gguf(fifo)


@pytest.mark.parametrize(
    ("content", "error", "fact"),
    [
        (b"", TruncatedFileError, "the file has 0 "),
        (b"GG", TruncatedFileError, "the file has 2 "),
        (b"GGUF", TruncatedFileError, "needs 8 bytes"),
        (b"hi", NotGGUFError, "not a GGUF file"),
        (b"<!DOCTYPE html><html>Not Found</html>", NotGGUFError, "web page"),
        (b"version https://git-lfs.github.com/spec/v1\noid sha256:", NotGGUFError, "LFS"),
        (struct.pack("<Q", 120) + b'{"__metadata__": {}}', NotGGUFError, "safetensors"),
        (b"GGUF" + struct.pack(">I", 3) + bytes(16), UnsupportedVersionError, "big-endian"),
    ],
)
def test_small_and_foreign_files(
    content: bytes, error: type[GGUFError], fact: str, tmp_path: Path
) -> None:
    path = tmp_path / "small.gguf"
    path.write_bytes(content)
    with pytest.raises(error, match=fact) as err:
        read_gguf(path)
    assert type(err.value) is error
    assert str(path) in str(err.value)


def test_missing_architecture(tmp_path: Path) -> None:
    path = write_tiny_model(tmp_path / "no-arch.gguf", omit_keys=["general.architecture"])
    with pytest.raises(MetadataError, match="no general.architecture"):
        read_gguf(path)


def test_wrongly_typed_known_key(tmp_path: Path) -> None:
    path = write_tiny_model(
        tmp_path / "ctx-str.gguf",
        omit_keys=["llama.context_length"],
        extra_kv={"llama.context_length": "lots"},
    )
    with pytest.raises(MetadataError, match="'llama.context_length' should be an integer"):
        read_gguf(path)


def test_bad_alignment(tmp_path: Path) -> None:
    path = write_tiny_model(tmp_path / "align.gguf", extra_kv={"general.alignment": 48})
    with pytest.raises(MetadataError, match="general.alignment is 48"):
        read_gguf(path)


@pytest.mark.parametrize(
    ("ftype", "name"),
    [
        (0, "F32"), (1, "F16"), (2, "Q4_0"), (3, "Q4_1"), (7, "Q8_0"), (8, "Q5_0"), (9, "Q5_1"),
        (10, "Q2_K"), (11, "Q3_K_S"), (12, "Q3_K_M"), (13, "Q3_K_L"), (14, "Q4_K_S"),
        (15, "Q4_K_M"), (16, "Q5_K_S"), (17, "Q5_K_M"), (18, "Q6_K"), (19, "IQ2_XXS"),
        (20, "IQ2_XS"), (21, "Q2_K_S"), (22, "IQ3_XS"), (23, "IQ3_XXS"), (24, "IQ1_S"),
        (25, "IQ4_NL"), (26, "IQ3_S"), (27, "IQ3_M"), (28, "IQ2_S"), (29, "IQ2_M"),
        (30, "IQ4_XS"), (31, "IQ1_M"), (32, "BF16"), (36, "TQ1_0"), (37, "TQ2_0"),
        (38, "MXFP4_MOE"), (1024 + 15, "Q4_K_M (guessed)"), (4, "unknown file type 4"),
        (9999, "unknown file type 9999"),
    ],
)
def test_file_type_name(ftype: int, name: str) -> None:
    assert file_type_name(ftype) == name


def _patched(path: Path, offset: int, data: bytes) -> Path:
    with path.open("r+b") as f:
        f.seek(offset)
        f.write(data)
    return path
