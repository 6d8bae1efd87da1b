"""Refusing loads that cannot fit, and explaining failed ones."""

from __future__ import annotations

import pytest

from inference.config import ModelConfig
from inference.errors import ModelLoadError, NotEnoughMemoryError, UnsupportedArchitectureError
from inference.gguf_file import read_gguf
from inference.load_checks import check_memory, explain_load_failure

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
