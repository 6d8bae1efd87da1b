"""Checks before a load (will it fit?) and clear explanations after a failed one."""

from __future__ import annotations

import llama_cpp
import psutil

from .config import ModelConfig
from .errors import (
    ModelLoadError,
    NotEnoughMemoryError,
    ParleyError,
    UnsupportedArchitectureError,
)
from .fit import estimate, human_bytes
from .gguf_file import GGUFInfo

WARN_FRACTION = 0.85


def check_memory(info: GGUFInfo, config: ModelConfig,
                 available: int | None = None) -> list[str]:
    """Refuse a load that cannot fit in RAM (unless `insist`); return warnings for tight fits."""
    available = psutil.virtual_memory().available if available is None else available
    need = estimate(info, config.n_ctx, config.n_gpu_layers, n_ubatch=config.n_ubatch)
    if need.cpu_bytes <= available * WARN_FRACTION:
        return []
    message = (f"n_ctx={config.n_ctx:,} needs ~{human_bytes(need.cpu_bytes)} of RAM "
               f"but {human_bytes(available)} is available")
    if need.cpu_bytes > available and not config.insist:
        hint = largest_fitting_ctx(info, config, available)
        suggestion = (f" Try a context size of {hint:,} or less" if hint else
                      " The model's weights alone do not fit")
        raise NotEnoughMemoryError(
            f"Not enough memory: {message}.{suggestion}, or load anyway (--insist).")
    return [f"Memory is tight: {message}."]


def largest_fitting_ctx(info: GGUFInfo, config: ModelConfig, available: int) -> int:
    """The largest power-of-two context (≥ 512) whose estimate fits in `available`, or 0."""
    best = 0
    n_ctx = 512
    while n_ctx <= min(config.n_ctx, info.context_length or config.n_ctx):
        need = estimate(info, n_ctx, config.n_gpu_layers, n_ubatch=config.n_ubatch)
        if need.cpu_bytes > available:
            break
        best, n_ctx = n_ctx, n_ctx * 2
    return best


def explain_load_failure(info: GGUFInfo, error: ModelLoadError, log: list[str]) -> ParleyError:
    """Turn llama.cpp's "failed to load model" into what actually went wrong."""
    text = "\n".join(log)
    if "unknown model architecture" in text:
        return UnsupportedArchitectureError(unsupported_message(info.architecture))
    if "failed to allocate" in text or "unable to allocate" in text or "out of memory" in text:
        return NotEnoughMemoryError(
            f"Not enough memory to load {info.path.name}: {error}. Lower the context size or "
            f"GPU layers, or close other programs.")
    return ModelLoadError(f"Could not load {info.path.name}: {error}")


def unsupported_message(architecture: str) -> str:
    return (f"architecture '{architecture}' is not supported by this build "
            f"(llama.cpp in llama-cpp-python {llama_cpp.__version__}); a newer Parley may run it")
