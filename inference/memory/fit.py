"""How much memory a GGUF model will take, estimated from its header alone (nothing is loaded).

The rules follow the llama.cpp vendored in llama-cpp-python 0.3.36 (`vendor/llama.cpp/src`):

* **Layer placement** (`llama-model.cpp`, `load_tensors`): with `n_gpu_layers = k` the *output*
  layer (`output.weight`, `output_norm.weight`) goes to the GPU first, then the last `k - 1`
  repeating layers (`blk.N.*`); `k >= n_layer + 1` or `k < 0` offloads everything. The input layer
  (`token_embd.weight`) always stays on the CPU. When a model ties its output to the token embedding
  (no `output.weight`, e.g. Gemma), an offloaded output layer gets its own GPU copy of
  `token_embd.weight` (`TENSOR_DUPLICATED` in `llama-model-loader.cpp`).
* **Context**: `n_ctx` is rounded up to a multiple of 256 (`llama-context.cpp`).
* **KV cache** (`llama-kv-cache.cpp`): per layer, K is `n_ctx × n_head_kv × key_length` and V is
  `n_ctx × n_head_kv × value_length` elements of the cache type (f16 by default), on the device
  of its layer (`offload_kqv` on).
* **Sliding-window models** (`llama-kv-cache-iswa.cpp`): SWA layers (Gemma 3: every layer except
  each 6th, `is_swa(il) = il % 6 < 5`) get their own cache of
  `pad256(min(n_ctx, n_swa + n_ubatch))` cells, or `n_ctx` cells when `swa_full` is on — and it is
  on by default in llama.cpp's context parameters, which llama-cpp-python keeps unless it is
  given `swa_full=False`.
* **Compute buffer**: the graph allocator reuses memory between stages, so the buffer is about the
  largest stage plus the residual stream. This is an approximation (see `compute_bytes`) checked
  against the "compute buffer size" llama.cpp logs; for Gemma 3 270M it matches to the byte on CPU.
"""

from __future__ import annotations

import enum
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING

from inference.common.errors import InvalidSettingError
from inference.memory.model_shape import (
    GiB,
    KiB,
    MiB,
    compute_bytes,
    flash_attn_on,
    kv_cache_sizes,
    kv_type_blocks,
    padded_ctx,
    residual_bytes,
    swa_layers,
    total_layers,
    vocab_size,
    weight_bytes,
)

if TYPE_CHECKING:
    from inference.gguf.file import GGUFInfo

DEFAULT_VRAM_MARGIN = 1 * GiB     # llama.cpp's own `--fit-target` default margin per device
DEFAULT_RAM_MARGIN = 512 * MiB    # left for the OS, the GUI and the Python heap


class Fit(str, enum.Enum):
    GPU = "gpu"              # every layer on the GPU
    PARTIAL = "partial"      # some layers on the GPU, the rest in RAM
    RAM = "ram"              # runs on the CPU from RAM
    TOO_LARGE = "too_large"  # does not fit in free VRAM + available RAM

    def __str__(self) -> str:
        return self.value


@dataclass(frozen=True)
class MemoryEstimate:
    n_ctx: int                  # as llama.cpp will use it (padded to 256)
    n_layers: int
    n_gpu_layers: int           # effective, 0 … n_layers + 1 (the output layer counts as one)
    weights_bytes: int          # gpu + cpu (a tied output offloaded to the GPU counts twice)
    weights_gpu_bytes: int
    weights_cpu_bytes: int
    kv_cache_bytes: int
    kv_full_bytes: int          # the part for full-attention layers
    kv_swa_bytes: int           # the part for sliding-window layers (0 without SWA)
    kv_swa_cells: int           # cells in the SWA cache (0 without SWA)
    kv_gpu_bytes: int
    compute_buffer_bytes: int   # graph compute buffers, all devices (what llama.cpp logs)
    compute_gpu_bytes: int
    output_buffer_bytes: int    # host buffer for one row of logits ("CPU output buffer")

    @property
    def kv_cpu_bytes(self) -> int:
        return self.kv_cache_bytes - self.kv_gpu_bytes

    @property
    def compute_cpu_bytes(self) -> int:
        return self.compute_buffer_bytes - self.compute_gpu_bytes

    @property
    def gpu_bytes(self) -> int:
        return self.weights_gpu_bytes + self.kv_gpu_bytes + self.compute_gpu_bytes

    @property
    def cpu_bytes(self) -> int:
        return (self.weights_cpu_bytes + self.kv_cpu_bytes + self.compute_cpu_bytes
                + self.output_buffer_bytes)

    @property
    def total_bytes(self) -> int:
        return self.gpu_bytes + self.cpu_bytes

    def to_dict(self) -> dict[str, int]:
        data = asdict(self)
        for name in ("kv_cpu_bytes", "compute_cpu_bytes", "gpu_bytes", "cpu_bytes", "total_bytes"):
            data[name] = getattr(self, name)
        return data


@dataclass(frozen=True)
class FitVerdict:
    fit: Fit
    message: str                # one sentence for people
    n_gpu_layers: int           # the layer count the verdict assumes (may be fewer than asked)
    estimate: MemoryEstimate
    free_vram: int | None
    available_ram: int


def human_bytes(n: float) -> str:
    """Binary units, one decimal: "512 B", "253.1 MiB", "1.2 GiB"."""
    if n < 0:
        return "-" + human_bytes(-n)
    if n < KiB:
        return f"{int(n)} B"
    value = float(n)
    for unit in ("KiB", "MiB", "GiB", "TiB"):
        value /= 1024
        if value < 1024 or unit == "TiB":
            return f"{value:.1f} {unit}"
    raise AssertionError("unreachable")


def estimate(
    info: GGUFInfo,
    n_ctx: int,
    n_gpu_layers: int = 0,
    n_ubatch: int = 512,
    kv_type: str = "f16",
    *,
    kv_type_v: str | None = None,
    swa_full: bool = True,
    flash_attn: bool | str = "auto",
) -> MemoryEstimate:
    """Memory llama.cpp will allocate for `info` with these settings.

    `n_ctx <= 0` means the model's training context (as llama.cpp does). `swa_full` defaults to
    llama.cpp's context default (on); `flash_attn` takes ModelConfig's "auto" / "on" / "off" or a
    bool, and "auto" counts as on (llama.cpp turns it on wherever the backend supports the head
    size; note llama-cpp-python's `Llama()` passes "off" unless given `flash_attn=True`).
    `kv_type` is the K cache type, and the V cache's too unless `kv_type_v` is given.
    """
    kv_blocks = (kv_type_blocks(kv_type), kv_type_blocks(kv_type_v or kv_type))
    fa = flash_attn_on(flash_attn)
    if n_ubatch < 1:
        raise InvalidSettingError(f"micro-batch size must be at least 1, got {n_ubatch}")
    n_layer = total_layers(info)
    ctx = padded_ctx(n_ctx if n_ctx > 0 else (info.context_length or 4096))
    ngl = n_layer + 1 if n_gpu_layers < 0 else min(n_gpu_layers, n_layer + 1)
    gpu_start = n_layer + 1 - ngl                 # layers il >= gpu_start are on the GPU
    output_on_gpu = ngl >= 1

    w_gpu, w_cpu = weight_bytes(info, n_layer, gpu_start)
    kv = kv_cache_sizes(info, n_layer, gpu_start, ctx, n_ubatch, kv_blocks, swa_full)

    swa = swa_layers(info)
    kv_cells_max = max(0 if all(swa) else ctx, kv.swa_cells)
    mask_cells = (0 if all(swa) else ctx) + kv.swa_cells
    compute_all, compute_layers = compute_bytes(info, n_ubatch, kv_cells_max, mask_cells, fa)
    if not output_on_gpu:
        compute_gpu, compute_cpu = 0, compute_all
    else:       # the GPU computes its layers and the logits; the CPU its own layers, if any
        compute_gpu = compute_all
        compute_cpu = compute_layers if gpu_start > 0 else residual_bytes(info, n_ubatch)

    return MemoryEstimate(
        n_ctx=ctx,
        n_layers=n_layer,
        n_gpu_layers=ngl,
        weights_bytes=w_gpu + w_cpu,
        weights_gpu_bytes=w_gpu,
        weights_cpu_bytes=w_cpu,
        kv_cache_bytes=kv.full + kv.swa,
        kv_full_bytes=kv.full,
        kv_swa_bytes=kv.swa,
        kv_swa_cells=kv.swa_cells,
        kv_gpu_bytes=kv.gpu,
        compute_buffer_bytes=compute_gpu + compute_cpu,
        compute_gpu_bytes=compute_gpu,
        output_buffer_bytes=vocab_size(info) * 4,
    )


def max_gpu_layers_that_fit(
    info: GGUFInfo,
    n_ctx: int,
    free_vram_bytes: int,
    n_ubatch: int = 512,
    kv_type: str = "f16",
    *,
    margin_bytes: int = DEFAULT_VRAM_MARGIN,
    kv_type_v: str | None = None,
    swa_full: bool = True,
    flash_attn: bool | str = "auto",
) -> int:
    """The largest `n_gpu_layers` whose GPU share fits in free VRAM less the margin.

    Returns -1 when every layer fits (llama.cpp's "all"), 0 when none does.
    """
    budget = free_vram_bytes - margin_bytes
    n_layer = total_layers(info)
    for ngl in range(n_layer + 1, 0, -1):
        est = estimate(info, n_ctx, ngl, n_ubatch, kv_type, kv_type_v=kv_type_v,
                       swa_full=swa_full, flash_attn=flash_attn)
        if est.gpu_bytes <= budget:
            return -1 if ngl == n_layer + 1 else ngl
    return 0


def assess_fit(
    info: GGUFInfo,
    n_ctx: int,
    n_gpu_layers: int,
    free_vram: int | None,
    available_ram: int,
    n_ubatch: int = 512,
    kv_type: str = "f16",
    *,
    vram_margin: int = DEFAULT_VRAM_MARGIN,
    ram_margin: int = DEFAULT_RAM_MARGIN,
    swa_full: bool = True,
    flash_attn: bool | str = "auto",
) -> FitVerdict:
    """Where the model would run with these settings, and one sentence saying so.

    `free_vram=None` means no GPU offload is possible (CPU-only build or no GPU): the layers asked
    for are then ignored. When the asked-for GPU layers do not fit in free VRAM, the verdict
    assumes the most that do and says so.
    """
    def est_for(ngl: int) -> MemoryEstimate:
        return estimate(info, n_ctx, ngl, n_ubatch, kv_type, swa_full=swa_full,
                        flash_attn=flash_attn)

    n_layer = total_layers(info)
    asked = est_for(n_gpu_layers if free_vram is not None else 0).n_gpu_layers
    ngl, note = asked, ""
    if asked > 0 and free_vram is not None and est_for(asked).gpu_bytes > free_vram - vram_margin:
        fits = max_gpu_layers_that_fit(info, n_ctx, free_vram, n_ubatch, kv_type,
                                       margin_bytes=vram_margin, swa_full=swa_full,
                                       flash_attn=flash_attn)
        ngl = est_for(fits).n_gpu_layers
        few = f"only {ngl}" if ngl else "none"
        note = f" (asked for {asked} GPU layers; {few} fit in free VRAM)"
    est = est_for(ngl)
    ram_needed = est.cpu_bytes
    ram_ok = ram_needed + ram_margin <= available_ram
    ram_part = f"~{human_bytes(ram_needed)} of {human_bytes(available_ram)} available"

    if not ram_ok:
        where = "RAM" if ngl == 0 else "RAM besides the GPU share"
        fit = Fit.TOO_LARGE
        message = f"too large: needs ~{human_bytes(ram_needed)} of {where}, " \
                  f"{human_bytes(available_ram)} available{note}"
    elif ngl == 0:
        fit = Fit.RAM
        message = f"fits in RAM: needs {ram_part}{note}"
    else:
        assert free_vram is not None
        vram_part = f"~{human_bytes(est.gpu_bytes)} of {human_bytes(free_vram)} free VRAM"
        if ngl == n_layer + 1:
            fit = Fit.GPU
            message = f"fits on the GPU: needs {vram_part} (+ {ram_part} RAM)"
        else:
            fit = Fit.PARTIAL
            message = (f"partly on the GPU ({_layers_phrase(ngl, n_layer)}): needs {vram_part} "
                       f"and {ram_part} RAM{note}")
    return FitVerdict(fit=fit, message=message, n_gpu_layers=ngl, estimate=est,
                      free_vram=free_vram, available_ram=available_ram)


def _layers_phrase(ngl: int, n_layer: int) -> str:
    if ngl == 0:
        return "no layers"
    if ngl >= n_layer + 1:
        return f"all {n_layer} layers"
    return f"{ngl} of {n_layer + 1} layers"
