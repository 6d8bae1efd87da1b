"""The small native wrappers other rooms use instead of ctypes: the batch decode, the zero-copy
logits rows, synchronize, the build facts and the quantize file-type ids."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import llama_cpp
import numpy as np
import pytest

from inference.llama.native import (
    NativeContext,
    NativeModel,
    bindings_version,
    build_info,
    gpu_offload_supported,
)
from inference.llama.quantize import ftype_id


def test_build_facts() -> None:
    assert bindings_version() == llama_cpp.__version__
    assert gpu_offload_supported() is build_info().gpu_offload


def test_ftype_ids_are_llama_cpps() -> None:
    assert ftype_id("Q4_K_M") == llama_cpp.LLAMA_FTYPE_MOSTLY_Q4_K_M
    assert ftype_id("F32") == llama_cpp.LLAMA_FTYPE_ALL_F32
    with pytest.raises(AttributeError):
        ftype_id("Q9_Z")


@pytest.fixture(scope="module")
def ctx(starter_model_path: Path) -> Iterator[NativeContext]:
    model = NativeModel(starter_model_path)
    context = NativeContext(model, n_ctx=64, n_batch=16, n_ubatch=16, n_threads=2)
    yield context
    context.close()
    model.close()


@pytest.mark.model
def test_logits_rows_view_llama_cpps_buffer(ctx: NativeContext) -> None:
    tokens = ctx.model.tokenize("The lighthouse keeper said")
    n, n_vocab = len(tokens), ctx.model.n_vocab
    ctx.clear()
    assert ctx.decode(tokens, 0, logits="all") == 0
    ctx.synchronize()
    whole = np.ctypeslib.as_array(ctx.logits_ptr(0), shape=(n, n_vocab))
    rows = ctx.logits_rows(0, n)
    assert rows is not None and rows.dtype == np.float32 and rows.shape == (n, n_vocab)
    assert np.shares_memory(rows, whole) and np.array_equal(rows, whole)
    tail = ctx.logits_rows(2, n - 2)
    assert tail is not None and np.array_equal(tail, whole[2:])


@pytest.mark.model
def test_decode_batch_evaluates_the_batch_as_filled(ctx: NativeContext) -> None:
    tokens = ctx.model.tokenize("The lighthouse keeper said")
    ctx.clear()
    assert ctx.decode(tokens, 0) == 0
    expected = np.array(ctx.logits_rows(len(tokens) - 1, 1))
    ctx.clear()
    batch = ctx.batch()
    for i, token in enumerate(tokens):
        batch.token[i], batch.pos[i], batch.n_seq_id[i] = token, i, 1
        batch.seq_id[i][0] = 0
        batch.logits[i] = i == len(tokens) - 1
    batch.n_tokens = len(tokens)
    assert ctx.decode_batch() == 0
    got = ctx.logits_rows(len(tokens) - 1, 1)
    assert got is not None and np.allclose(got, expected, atol=1e-4)
