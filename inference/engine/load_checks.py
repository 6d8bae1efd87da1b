"""Checks before a load (will it fit?) and clear explanations after a failed one."""

from __future__ import annotations

from inference.common.errors import (
    ModelLoadError,
    NotEnoughMemoryError,
    ParleyError,
    UnsupportedArchitectureError,
)
from inference.engine.config import ModelConfig
from inference.gguf.file import GGUFInfo
from inference.library.entry import FitSettings
from inference.llama.native import bindings_version, gpu_offload_supported
from inference.memory.device_split import DeviceLike, DeviceShare, split_by_device
from inference.memory.fit import MemoryEstimate, estimate, human_bytes, max_gpu_layers_that_fit

WARN_FRACTION = 0.85


def check_memory(info: GGUFInfo, config: ModelConfig, available: int | None = None,
                 free_vram: int | None = None, gpu_offload: bool | None = None) -> list[str]:
    """Refuse a load that cannot fit (unless `insist`); return warnings for tight fits.

    The CPU share counts against available RAM, the GPU share (offloaded layers) against free
    VRAM when that is known (NVML); a build without GPU offload keeps every layer in RAM.
    `available`, `free_vram` and `gpu_offload` are measured when not given.
    """
    if gpu_offload is None:
        gpu_offload = gpu_offload_supported()
    n_gpu = config.n_gpu_layers if gpu_offload or config.rpc_servers else 0
    if available is None or (free_vram is None and n_gpu != 0):
        measured = FitSettings.detect(config.n_ctx, n_gpu)
        available = measured.available_ram if available is None else available
        free_vram = measured.free_vram if free_vram is None else free_vram
    if config.rpc_servers:          # the offloaded share is checked per device (check_devices)
        free_vram = None
    need = _estimate(info, config, config.n_ctx, n_gpu)
    warnings: list[str] = []
    if need.cpu_bytes > available * WARN_FRACTION:
        message = (f"n_ctx={config.n_ctx:,} needs ~{human_bytes(need.cpu_bytes)} of RAM "
                   f"but {human_bytes(available)} is available")
        if need.cpu_bytes > available and not config.insist:
            hint = largest_fitting_ctx(info, config, available, n_gpu)
            suggestion = (f" Try a context size of {hint:,} or less" if hint else
                          " The model's weights alone do not fit")
            raise NotEnoughMemoryError(
                f"Not enough memory: {message}.{suggestion}, or load anyway (--insist).")
        warnings.append(f"Memory is tight: {message}.")
    if free_vram is not None and need.gpu_bytes > free_vram * WARN_FRACTION:
        message = (f"{need.n_gpu_layers} GPU layers at n_ctx={config.n_ctx:,} need "
                   f"~{human_bytes(need.gpu_bytes)} of GPU memory but {human_bytes(free_vram)} "
                   f"is free")
        if need.gpu_bytes > free_vram and not config.insist:
            fits = max_gpu_layers_that_fit(
                info, config.n_ctx, free_vram, config.n_ubatch, config.cache_type_k,
                margin_bytes=0, kv_type_v=config.cache_type_v, flash_attn=config.flash_attn)
            hint = (f"Try {fits} GPU layers or fewer" if fits > 0
                    else "Run it on the CPU (0 GPU layers)")
            raise NotEnoughMemoryError(
                f"Not enough GPU memory: {message}. {hint}, or load anyway (--insist).")
        warnings.append(f"GPU memory is tight: {message}.")
    return warnings


def check_devices(info: GGUFInfo, config: ModelConfig, devices: list[DeviceLike],
                  available: int | None = None) -> list[DeviceShare]:
    """Where the layers go with RPC servers (this computer's CPU share first, then each device,
    as llama.cpp splits them); refuse a device whose share exceeds its free memory (unless
    `insist`). Local RAM is checked by `check_memory` against the CPU share."""
    if available is None:
        available = FitSettings.detect(config.n_ctx, 0).available_ram
    shares = split_by_device(info, devices, n_ctx=config.n_ctx, n_gpu_layers=config.n_gpu_layers,
                             host_free=available, n_ubatch=config.n_ubatch,
                             kv_type=config.cache_type_k, kv_type_v=config.cache_type_v,
                             flash_attn=config.flash_attn)
    for share in shares[1:]:
        if share.fits is False and not config.insist:
            raise NotEnoughMemoryError(
                f"Not enough memory on {share.name} ({share.where}): its {share.layers} layers "
                f"need ~{human_bytes(share.bytes)} but {human_bytes(share.free_bytes or 0)} is "
                f"free. Use fewer GPU layers or another server, or load anyway (--insist).")
    return shares


def largest_fitting_ctx(info: GGUFInfo, config: ModelConfig, available: int,
                        n_gpu_layers: int = 0) -> int:
    """The largest power-of-two context (≥ 512) whose RAM share fits in `available`, or 0."""
    best = 0
    n_ctx = 512
    while n_ctx <= min(config.n_ctx, info.context_length or config.n_ctx):
        if _estimate(info, config, n_ctx, n_gpu_layers).cpu_bytes > available:
            break
        best, n_ctx = n_ctx, n_ctx * 2
    return best


def _estimate(info: GGUFInfo, config: ModelConfig, n_ctx: int, n_gpu_layers: int
              ) -> MemoryEstimate:
    return estimate(info, n_ctx, n_gpu_layers, n_ubatch=config.n_ubatch,
                    kv_type=config.cache_type_k, kv_type_v=config.cache_type_v,
                    flash_attn=config.flash_attn)


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
            f"(llama.cpp in llama-cpp-python {bindings_version()}); a newer Parley may run it")
