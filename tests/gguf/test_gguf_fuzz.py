"""Property tests of read_gguf: damaged files fail with a GGUFError, valid metadata round-trips."""

from __future__ import annotations

import struct
import tracemalloc
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from gguf import GGUFValueType, GGUFWriter
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from inference.common.errors import GGUFError
from inference.gguf.file import GGUFInfo, read_gguf
from tests.support.gguf_factory import GGUFLayout, write_tiny_model

FUZZ_SETTINGS = settings(
    max_examples=200,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
MAX_PEAK_BYTES = 16 << 20  # the reader holds at most a chunk or two of the header

# Values that stress counts, lengths, offsets and dimensions when written over a field
_INTERESTING = [
    0, 1, 2, 3, 4, 5, 7, 8, 9, 12, 13, 31, 32, 64, 255, 256, 1023, 1024, 65535, 65536,
    2**31 - 1, 2**31, 2**32 - 1, 2**32, 2**40, 2**62, 2**63 - 1, 2**63, 2**64 - 1,
]


@dataclass(frozen=True)
class _Base:
    data: bytes = field(repr=False)
    header_end: int = 0  # where the tensor data starts: most mutations aim before it


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> _Base:
    path = write_tiny_model(
        tmp_path_factory.mktemp("fuzz-base") / "base.gguf", chat_template="{{ messages }}"
    )
    return _Base(path.read_bytes(), GGUFLayout.of(path).data_offset)


@st.composite
def _damage(draw: st.DrawFn, size: int, header_end: int) -> list[tuple[str, int, int]]:
    """A short list of (operation, position, value) edits."""
    position = st.one_of(
        st.integers(0, header_end + 64),  # mostly the header, where the parser has work to do
        st.integers(0, size - 1),
    )
    edit = st.one_of(
        st.tuples(st.just("byte"), position, st.integers(0, 255)),
        st.tuples(st.just("u32"), position, st.sampled_from(_INTERESTING).map(lambda v: v % 2**32)),
        st.tuples(st.just("u64"), position, st.sampled_from(_INTERESTING)),
        st.tuples(st.just("cut"), st.integers(0, size), st.just(0)),
    )
    return draw(st.lists(edit, min_size=1, max_size=4))


_FORMATS = {"u32": "<I", "u64": "<Q"}


def _apply(data: bytes, edits: list[tuple[str, int, int]]) -> bytes:
    buf = bytearray(data)
    for op, pos, value in edits:
        if op == "cut":
            del buf[pos:]
            continue
        packed = bytes([value]) if op == "byte" else struct.pack(_FORMATS[op], value)
        if pos < len(buf):
            buf[pos:pos + len(packed)] = packed[: len(buf) - pos]
    return bytes(buf)


def _read_bounded(path: Path) -> GGUFInfo | GGUFError:
    """read_gguf, asserting it stays small in memory; GGUFErrors are returned, others propagate."""
    tracemalloc.start()
    try:
        result: GGUFInfo | GGUFError = read_gguf(path)
    except GGUFError as err:
        result = err
    finally:
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    assert peak < MAX_PEAK_BYTES, f"read_gguf allocated {peak:,} bytes"
    return result


@FUZZ_SETTINGS
@given(data=st.data())
def test_damaged_files_fail_cleanly(data: st.DataObject, base: _Base, tmp_path: Path) -> None:
    edits = data.draw(_damage(len(base.data), base.header_end))
    path = tmp_path / "damaged.gguf"
    path.write_bytes(_apply(base.data, edits))
    result = _read_bounded(path)
    if isinstance(result, GGUFError):
        assert str(path) in str(result) and str(result).strip()
    else:
        assert result.tensor_data_offset <= result.file_size
        assert all(t.offset + t.n_bytes <= result.file_size for t in result.tensors)


# --------------------------------------------------------------------------------------------
# Round trip: whatever the gguf package writes, read_gguf reads back

_SCALARS: dict[GGUFValueType, st.SearchStrategy[Any]] = {
    GGUFValueType.UINT8: st.integers(0, 2**8 - 1),
    GGUFValueType.INT8: st.integers(-(2**7), 2**7 - 1),
    GGUFValueType.UINT16: st.integers(0, 2**16 - 1),
    GGUFValueType.INT16: st.integers(-(2**15), 2**15 - 1),
    GGUFValueType.UINT32: st.integers(0, 2**32 - 1),
    GGUFValueType.INT32: st.integers(-(2**31), 2**31 - 1),
    GGUFValueType.UINT64: st.integers(0, 2**64 - 1),
    GGUFValueType.INT64: st.integers(-(2**63), 2**63 - 1),
    GGUFValueType.FLOAT32: st.floats(width=32, allow_nan=False),
    GGUFValueType.FLOAT64: st.floats(allow_nan=False),
    GGUFValueType.BOOL: st.booleans(),
    GGUFValueType.STRING: st.text(max_size=40),
}


@st.composite
def _kv(draw: st.DrawFn) -> tuple[GGUFValueType, GGUFValueType | None, Any]:
    vtype = draw(st.sampled_from(list(_SCALARS)))
    if draw(st.booleans()):
        return vtype, None, draw(_SCALARS[vtype])
    return GGUFValueType.ARRAY, vtype, draw(st.lists(_SCALARS[vtype], min_size=1, max_size=20))


def _expected(vtype: GGUFValueType, sub_type: GGUFValueType | None, value: Any) -> Any:
    if vtype == GGUFValueType.ARRAY:
        assert sub_type is not None
        if sub_type == GGUFValueType.STRING:
            return f"[array of {len(value)} string]"
        if sub_type == GGUFValueType.FLOAT32:     # small numeric arrays keep their values
            return tuple(float(np.float32(v)) for v in value)
        if sub_type == GGUFValueType.BOOL:
            return tuple(bool(v) for v in value)
        return tuple(value)
    if vtype == GGUFValueType.FLOAT32:
        return float(str(np.float32(value)))  # read_gguf shows float32s in their shortest form
    return value


_KEYS = st.from_regex(r"[a-z][a-z0-9_]{0,8}(\.[a-z][a-z0-9_]{0,8}){0,2}", fullmatch=True).filter(
    lambda k: not k.startswith(("general.", "split.", "tokenizer."))
)


@settings(max_examples=60, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(kvs=st.dictionaries(_KEYS, _kv(), max_size=12), arch=st.sampled_from(["llama", "qwen3"]))
def test_metadata_round_trips(
    kvs: dict[str, tuple[GGUFValueType, GGUFValueType | None, Any]], arch: str, tmp_path: Path
) -> None:
    path = tmp_path / "meta.gguf"
    writer = GGUFWriter(path, arch)
    for key, (vtype, sub_type, value) in kvs.items():
        writer.add_key_value(key, value, vtype, sub_type=sub_type)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()

    result = _read_bounded(path)
    if isinstance(result, GGUFError):
        # only a well-known key of the wrong type may be refused, and it must be named
        assert any(f"'{key}'" in str(result) for key in kvs), str(result)
        return
    assert result.architecture == arch
    assert result.tensors == () and result.parameters == 0
    for key, (vtype, sub_type, value) in kvs.items():
        got, want = result.metadata[key], _expected(vtype, sub_type, value)
        assert got == want and type(got) is type(want), key
