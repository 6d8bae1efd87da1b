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
  largest stage plus the residual stream. This is an approximation (see `_compute_bytes`) checked
  against the "compute buffer size" llama.cpp logs; for Gemma 3 270M it matches to the byte on CPU.
"""

from __future__ import annotations

import enum
import math
import re
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from inference.common.errors import InvalidSettingError

if TYPE_CHECKING:
    from inference.gguf.file import GGUFInfo

KiB = 1024
MiB = 1024 * KiB
GiB = 1024 * MiB

CTX_PAD = 256                     # llama.cpp pads n_ctx (and the SWA cache) to a multiple of 256
DEFAULT_VRAM_MARGIN = 1 * GiB     # llama.cpp's own `--fit-target` default margin per device
DEFAULT_RAM_MARGIN = 512 * MiB    # left for the OS, the GUI and the Python heap

# KV cache types llama.cpp accepts for --cache-type-k/-v: name -> (block size, bytes per block).
KV_TYPES: dict[str, tuple[int, int]] = {
    "f32": (1, 4),
    "f16": (1, 2),
    "bf16": (1, 2),
    "q8_0": (32, 34),
    "q4_0": (32, 18),
    "q4_1": (32, 20),
    "iq4_nl": (32, 18),
    "q5_0": (32, 22),
    "q5_1": (32, 24),
}

# Architectures llama.cpp gives an interleaved sliding-window cache, as in src/models/<arch>.cpp:
# arch -> (pattern, dense_first, default n_swa when the GGUF names none; None = no SWA then).
# A GGUF's own `<arch>.attention.sliding_window_pattern` (int or per-layer bools) wins.
SWA_ARCHS: dict[str, tuple[int, bool, int | None]] = {
    "gemma2": (2, False, 4096),
    "gemma3": (6, False, None),
    "gemma3n": (5, False, None),
    "cohere2": (4, False, None),
    "cohere2moe": (4, True, None),
    "llama4": (4, False, 8192),
    "olmo2": (4, False, None),
    "exaone4": (4, False, None),
    "exaone-moe": (4, False, 128),
    "gpt-oss": (2, False, None),
    "afmoe": (4, False, None),
    "mellum": (4, False, None),
    "smallthinker": (4, True, None),
    "plamo3": (8, False, None),
    "laguna": (4, True, None),
    "muse-glimmer": (4, False, None),
}

# Tensors of the input layer: always on the CPU (llama-arch.cpp, LLM_TENSOR_LAYER_INPUT).
_INPUT_TENSORS = frozenset({
    "token_embd.weight", "position_embd.weight", "token_types.weight",
    "per_layer_token_embd.weight",
})
_BLOCK = re.compile(r"^blk\.(\d+)\.")


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


def padded_ctx(n_ctx: int) -> int:
    return _pad(n_ctx, CTX_PAD)


def total_layers(info: GGUFInfo) -> int:
    """Repeating layers, from the header or, failing that, the highest `blk.N` tensor."""
    counted = 1 + max((int(m.group(1)) for t in info.tensors if (m := _BLOCK.match(t.name))),
                      default=-1)
    return max(info.layers or 0, counted)


def swa_layers(info: GGUFInfo) -> tuple[bool, ...]:
    """Which layers use the sliding-window cache (all False for a model without one)."""
    n_layer = total_layers(info)
    if not _sliding_window(info):
        return (False,) * n_layer
    pattern, dense_first, _ = SWA_ARCHS[info.architecture]
    key = "attention.sliding_window_pattern"
    flags = _int_list(info.metadata.get(f"{info.architecture}.{key}"))
    if flags is not None:
        return tuple(bool(flags[il]) if il < len(flags) else False for il in range(n_layer))
    own = _meta_int(info, key)
    if own is not None:
        pattern = own
    if pattern == 0:
        return (True,) * n_layer
    if dense_first:
        return tuple(il % pattern != 0 for il in range(n_layer))
    return tuple(il % pattern < pattern - 1 for il in range(n_layer))


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
    kv_blocks = (_kv_type(kv_type), _kv_type(kv_type_v or kv_type))
    fa = _flash_attn_on(flash_attn)
    if n_ubatch < 1:
        raise InvalidSettingError(f"micro-batch size must be at least 1, got {n_ubatch}")
    n_layer = total_layers(info)
    ctx = padded_ctx(n_ctx if n_ctx > 0 else (info.context_length or 4096))
    ngl = n_layer + 1 if n_gpu_layers < 0 else min(n_gpu_layers, n_layer + 1)
    gpu_start = n_layer + 1 - ngl                 # layers il >= gpu_start are on the GPU
    output_on_gpu = ngl >= 1

    w_gpu, w_cpu = _weights(info, n_layer, gpu_start)
    kv = _kv_cache(info, n_layer, gpu_start, ctx, n_ubatch, kv_blocks, swa_full)

    swa = swa_layers(info)
    kv_cells_max = max(0 if all(swa) else ctx, kv.swa_cells)
    mask_cells = (0 if all(swa) else ctx) + kv.swa_cells
    compute_all, compute_layers = _compute_bytes(info, n_ubatch, kv_cells_max, mask_cells, fa)
    if not output_on_gpu:
        compute_gpu, compute_cpu = 0, compute_all
    else:       # the GPU computes its layers and the logits; the CPU its own layers, if any
        compute_gpu = compute_all
        compute_cpu = compute_layers if gpu_start > 0 else _residual_bytes(info, n_ubatch)

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
        output_buffer_bytes=_vocab(info) * 4,
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


# --- internals ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class _KV:
    full: int
    swa: int
    swa_cells: int
    gpu: int


def _weights(info: GGUFInfo, n_layer: int, gpu_start: int) -> tuple[int, int]:
    """(GPU, CPU) weight bytes when layers il >= gpu_start (and the output layer) are offloaded."""
    output_on_gpu = gpu_start <= n_layer
    input_bytes = output_bytes = embd_bytes = 0
    has_output = False
    layer_bytes = [0] * n_layer
    for t in info.tensors:
        if (m := _BLOCK.match(t.name)) is not None:
            layer_bytes[int(m.group(1))] += t.n_bytes
        elif t.name in _INPUT_TENSORS:
            input_bytes += t.n_bytes
            if t.name == "token_embd.weight":
                embd_bytes = t.n_bytes
        elif t.name == "token_embd_norm.weight" and n_layer:   # llama.cpp: "on the first layer"
            layer_bytes[0] += t.n_bytes
        else:
            output_bytes += t.n_bytes
            has_output = has_output or t.name == "output.weight"
    if not has_output and output_on_gpu:           # tied output: a GPU copy of the embedding
        output_bytes += embd_bytes
    gpu = sum(layer_bytes[gpu_start:]) + (output_bytes if output_on_gpu else 0)
    cpu = input_bytes + sum(layer_bytes[:gpu_start]) + (0 if output_on_gpu else output_bytes)
    return gpu, cpu


def _kv_cache(info: GGUFInfo, n_layer: int, gpu_start: int, ctx: int, n_ubatch: int,
              kv_blocks: tuple[tuple[int, int], tuple[int, int]], swa_full: bool) -> _KV:
    swa = swa_layers(info)
    swa_cells = 0
    if any(swa):
        n_swa = _sliding_window(info) or 0
        swa_cells = ctx if swa_full else _pad(min(ctx, n_swa + n_ubatch), CTX_PAD)
    kv_heads = _per_layer(info, "attention.head_count_kv", info.kv_heads or info.heads, n_layer)
    head_k, head_v = _head_dims(info)
    head_k_swa = _meta_int(info, "attention.key_length_swa") or head_k
    head_v_swa = _meta_int(info, "attention.value_length_swa") or head_v
    full = in_swa = gpu = 0
    for il in range(n_layer):
        hk, hv = (head_k_swa, head_v_swa) if swa[il] else (head_k, head_v)
        row = (_row_bytes(hk * kv_heads[il], *kv_blocks[0])
               + _row_bytes(hv * kv_heads[il], *kv_blocks[1]))
        size = row * (swa_cells if swa[il] else ctx)
        if swa[il]:
            in_swa += size
        else:
            full += size
        if il >= gpu_start:
            gpu += size
    return _KV(full=full, swa=in_swa, swa_cells=swa_cells, gpu=gpu)


def _residual_bytes(info: GGUFInfo, n_ubatch: int) -> int:
    return n_ubatch * (info.embedding_length or 0) * 4 * 2


def _compute_bytes(info: GGUFInfo, n_ubatch: int, kv_cells: int, mask_cells: int,
                   flash_attn: bool) -> tuple[int, int]:
    """(whole graph, repeating layers only) compute-buffer estimate, in bytes.

    ggml's allocator frees each intermediate after its last use, so the buffer is about the
    residual stream (2 × n_ubatch × n_embd f32) plus the largest of these stages, all f32 and
    sized for the worst case llama.cpp reserves (n_ubatch tokens, every one an output, the full
    KV cache in view):
      * output:    logits, n_ubatch × n_vocab
      * attention: KQ, n_ubatch × n_head × n_kv (not with flash attention), the KQ masks,
                   n_ubatch × cells of each cache (f16 with flash attention), and Q / KQV,
                   3 × n_ubatch × n_head × head_dim
      * FFN:       3 × n_ubatch × n_ff (× experts used for MoE)
    Checked for Gemma 3 270M on CPU (llama.cpp "CPU compute buffer size"): 514.50 MiB at
    n_ubatch 512 (logits-bound) and 1291.76 MiB at n_ctx 131072 without flash attention
    (attention-bound; estimate 1290.5 MiB).
    """
    n_head = _max_param(info, "attention.head_count", info.heads)
    head_k, _ = _head_dims(info)
    residual = _residual_bytes(info, n_ubatch)
    output = n_ubatch * _vocab(info) * 4
    kq = 0 if flash_attn else n_ubatch * n_head * kv_cells * 4
    mask = n_ubatch * mask_cells * (2 if flash_attn else 4)
    attention = kq + mask + 3 * n_ubatch * n_head * head_k * 4
    n_ff = _max_param(info, "feed_forward_length", info.feed_forward_length)
    if info.expert_count:
        n_ff_exp = _meta_int(info, "expert_feed_forward_length") or n_ff
        n_ff = n_ff_exp * max(1, info.experts_used or 1)
    ffn = 3 * n_ubatch * n_ff * 4
    layers = residual + max(attention, ffn)
    return residual + max(output, attention, ffn), layers


def _head_dims(info: GGUFInfo) -> tuple[int, int]:
    n_head = _max_param(info, "attention.head_count", info.heads) or 1
    default = (info.embedding_length or 0) // n_head
    return info.key_length or default, info.value_length or default


def _sliding_window(info: GGUFInfo) -> int | None:
    arch = SWA_ARCHS.get(info.architecture)
    if arch is None:
        return None
    window = info.sliding_window if info.sliding_window is not None else arch[2]
    return window if window and window > 0 else None


def _per_layer(info: GGUFInfo, key: str, fallback: int | None, n_layer: int) -> list[int]:
    """A hyperparameter GGUF may store per layer (array) or once (scalar), as n_layer values."""
    values = _int_list(info.metadata.get(f"{info.architecture}.{key}"))
    if values is not None:
        return [values[il] if il < len(values) else 0 for il in range(n_layer)]
    scalar = _meta_int(info, key)
    return [scalar if scalar is not None else (fallback or 0)] * n_layer


def _max_param(info: GGUFInfo, key: str, fallback: int | None) -> int:
    values = _int_list(info.metadata.get(f"{info.architecture}.{key}"))
    if values:
        return max(values)
    scalar = _meta_int(info, key)
    return scalar if scalar is not None else (fallback or 0)


def _meta_int(info: GGUFInfo, key: str) -> int | None:
    value = info.metadata.get(f"{info.architecture}.{key}")
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    return None


def _vocab(info: GGUFInfo) -> int:
    if info.vocab_size:
        return info.vocab_size
    for t in info.tensors:
        if t.name in ("output.weight", "token_embd.weight") and len(t.shape) >= 2:
            return t.shape[1]
    return 0


def _flash_attn_on(value: bool | str) -> bool:
    if isinstance(value, bool):
        return value
    if value in ("auto", "on"):
        return True
    if value == "off":
        return False
    raise InvalidSettingError(f"flash attention must be auto, on or off, got {value!r}")


def _kv_type(name: str) -> tuple[int, int]:
    try:
        return KV_TYPES[name.lower()]
    except KeyError:
        raise InvalidSettingError(
            f"KV cache type must be one of {', '.join(KV_TYPES)}, got {name!r}") from None


def _row_bytes(n_elements: int, block: int, block_bytes: int) -> int:
    return math.ceil(n_elements / block) * block_bytes


def _pad(n: int, multiple: int) -> int:
    return (n + multiple - 1) // multiple * multiple


def _int_list(value: Any) -> list[int] | None:
    """A per-layer array from metadata (list, tuple or numpy array) as ints; None otherwise."""
    if hasattr(value, "tolist") and not isinstance(value, (int, float)):
        value = value.tolist()
    if isinstance(value, (list, tuple)):
        return [int(v) for v in value]
    return None


def _layers_phrase(ngl: int, n_layer: int) -> str:
    if ngl == 0:
        return "no layers"
    if ngl >= n_layer + 1:
        return f"all {n_layer} layers"
    return f"{ngl} of {n_layer + 1} layers"
