"""Refusing loads that cannot fit, and explaining failed ones."""

from __future__ import annotations

import pytest

from inference.common.errors import (
    ModelLoadError,
    NotEnoughMemoryError,
    UnsupportedArchitectureError,
)
from inference.engine.config import ModelConfig
from inference.engine.load_checks import check_memory, explain_load_failure
from inference.gguf.file import read_gguf
from inference.memory.fit import estimate, max_gpu_layers_that_fit

GIB = 1 << 30


@pytest.fixture(scope="module")
def starter_info(starter_model_path):
    return read_gguf(starter_model_path)


def test_a_context_too_large_for_ram_is_refused_with_a_suggestion(starter_info):
    config = ModelConfig(starter_info.path, n_ctx=131072)
    with pytest.raises(NotEnoughMemoryError) as err:
        check_memory(starter_info, config, available=2 * GIB)
    message = str(err.value)
    assert "n_ctx=131,072 needs ~" in message and "2.0 GiB is available" in message
    assert "Try a context size of 32,768 or less" in message and "--insist" in message


def test_insisting_loads_anyway_with_a_warning(starter_info):
    config = ModelConfig(starter_info.path, n_ctx=131072, insist=True)
    warnings = check_memory(starter_info, config, available=2 * GIB)
    assert warnings and "Memory is tight" in warnings[0]


def test_a_comfortable_fit_says_nothing(starter_info):
    assert check_memory(starter_info, ModelConfig(starter_info.path, n_ctx=2048),
                        available=16 * GIB) == []


def test_weights_that_never_fit_say_so(starter_info):
    with pytest.raises(NotEnoughMemoryError, match="weights alone do not fit"):
        check_memory(starter_info, ModelConfig(starter_info.path, n_ctx=2048),
                     available=100 << 20)


def test_llama_cpp_failures_become_specific_messages(starter_info):
    unknown = explain_load_failure(starter_info, ModelLoadError("x"),
                                   ["llama_model_load: error loading model: unknown model "
                                    "architecture: 'gemma3'"])
    assert isinstance(unknown, UnsupportedArchitectureError)
    assert "architecture 'gemma3' is not supported by this build" in str(unknown)
    oom = explain_load_failure(starter_info, ModelLoadError("y"),
                               ["ggml_backend_cpu_buffer_type_alloc_buffer: failed to allocate"])
    assert isinstance(oom, NotEnoughMemoryError)


# -- the GPU share against free VRAM (no GPU here: a made-up free-VRAM figure, at the boundary) --
def test_offloaded_layers_count_against_free_vram(starter_info):
    config = ModelConfig(starter_info.path, n_ctx=2048, n_gpu_layers=-1)
    need = estimate(starter_info, 2048, -1)
    assert need.gpu_bytes > 0 and need.cpu_bytes < need.gpu_bytes
    ram = 64 * GIB
    assert check_memory(starter_info, config, ram, free_vram=2 * need.gpu_bytes,
                        gpu_offload=True) == []
    tight = check_memory(starter_info, config, ram, free_vram=need.gpu_bytes, gpu_offload=True)
    assert len(tight) == 1 and tight[0].startswith("GPU memory is tight: 19 GPU layers")
    with pytest.raises(NotEnoughMemoryError) as err:
        check_memory(starter_info, config, ram, free_vram=need.gpu_bytes - 1, gpu_offload=True)
    message = str(err.value)
    assert message.startswith("Not enough GPU memory: 19 GPU layers at n_ctx=2,048 need ~")
    fits = max_gpu_layers_that_fit(starter_info, 2048, need.gpu_bytes - 1, margin_bytes=0)
    assert 0 < fits < 19 and f"Try {fits} GPU layers or fewer" in message
    insisted = check_memory(starter_info, config.with_changes(insist=True), ram,
                            free_vram=need.gpu_bytes - 1, gpu_offload=True)
    assert insisted[0].startswith("GPU memory is tight")


def test_without_gpu_offload_every_layer_counts_against_ram(starter_info):
    config = ModelConfig(starter_info.path, n_ctx=2048, n_gpu_layers=-1)
    all_in_ram = estimate(starter_info, 2048, 0).cpu_bytes
    assert estimate(starter_info, 2048, -1).cpu_bytes < all_in_ram - 1
    with pytest.raises(NotEnoughMemoryError, match="of RAM"):
        check_memory(starter_info, config, all_in_ram - 1, gpu_offload=False)
    assert check_memory(starter_info, config, 64 * GIB, gpu_offload=False) == []


def test_kv_cache_types_shrink_the_estimate_checked(starter_info):
    f16 = ModelConfig(starter_info.path, n_ctx=32768)
    q8 = f16.with_changes(cache_type_k="q8_0", cache_type_v="q8_0")
    between = (estimate(starter_info, 32768, 0, kv_type="q8_0").cpu_bytes
               + estimate(starter_info, 32768, 0).cpu_bytes) // 2
    with pytest.raises(NotEnoughMemoryError):
        check_memory(starter_info, f16, between, gpu_offload=False)
    check_memory(starter_info, q8, between, gpu_offload=False)   # fits (perhaps tightly)
