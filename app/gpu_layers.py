"""The memory estimate under the GPU-layers slider: what the settings would take, what fits."""

from __future__ import annotations

import logging
from pathlib import Path

from PySide6.QtWidgets import QLabel

from inference.fit import estimate, human_bytes, max_gpu_layers_that_fit, total_layers
from inference.gguf_file import GGUFInfo, read_gguf

from .slider_field import SliderField

log = logging.getLogger(__name__)

NO_OFFLOAD = ("This llama.cpp build has no GPU offload, so the model runs on the CPU. "
              "Rebuild llama-cpp-python with CUDA, Metal or Vulkan to use a GPU "
              "(make rebuild-llama, see README).")


def ctx_stops(n_ctx_train: int) -> tuple[int, ...]:
    """Slider positions for the context size: powers of two up to the trained context."""
    top = max(n_ctx_train, 512)
    stops = [1 << p for p in range(9, 21) if 1 << p <= top]
    if stops[-1] != top:
        stops.append(top)
    return tuple(stops)


class GpuLayersEstimator:
    """Keeps the GPU-layers field and its note in step with the model and memory."""

    def __init__(self, gpu: SliderField, note: QLabel, ctx: SliderField) -> None:
        self._gpu = gpu
        self._note = note
        self._ctx = ctx
        self._info: GGUFInfo | None = None
        self._offload = False
        self._free_vram: int | None = None
        self._cache: dict[Path, GGUFInfo] = {}
        self.refresh()

    def set_model(self, path: Path, gpu_offload: bool, n_ctx_train: int) -> None:
        self._offload = gpu_offload
        try:
            self._info = self._cache.get(path) or read_gguf(path)
            self._cache[path] = self._info
        except Exception:            # the engine loaded it; an estimate is only a nicety
            log.debug("could not read %s for the estimate", path, exc_info=True)
            self._info = None
        if self._info is not None:
            layers = total_layers(self._info)
            self._gpu.set_range(-1, layers + 1)
        self._ctx.set_range(256, max(n_ctx_train, 512), ctx_stops(n_ctx_train))
        self.refresh()

    def set_free_vram(self, free: int | None) -> None:
        if free != self._free_vram:
            self._free_vram = free
            self.refresh()

    def refresh(self) -> None:
        self._gpu.setEnabled(self._offload)
        self._note.setText(self.describe())

    def describe(self) -> str:
        info = self._info
        if info is None:
            return "Load a model to see how much memory each setting takes."
        n_ctx = int(self._ctx.value())
        if not self._offload:
            full = estimate(info, n_ctx, -1)
            cpu = estimate(info, n_ctx, 0)
            return (f"{NO_OFFLOAD} Needs ~{human_bytes(cpu.total_bytes)} of RAM; all layers on "
                    f"a GPU would take ~{human_bytes(full.gpu_bytes)} of VRAM.")
        ngl = int(self._gpu.value())
        est = estimate(info, n_ctx, ngl)
        text = (f"~{human_bytes(est.gpu_bytes)} VRAM + ~{human_bytes(est.cpu_bytes)} RAM with "
                f"{est.n_gpu_layers} of {est.n_layers + 1} layers on the GPU.")
        if self._free_vram is not None:
            fits = max_gpu_layers_that_fit(info, n_ctx, self._free_vram)
            what = "all layers" if fits < 0 else f"{fits} layers"
            text += f" {what.capitalize()} fit in the {human_bytes(self._free_vram)} free."
        return text
