"""The shape of a model's memory, as llama.cpp allocates it: weights per device, KV cache cells
and bytes (sliding-window layers included), the compute buffer. Read from the GGUF header only;
`inference.memory.fit` turns these sizes into an estimate and a verdict (its docstring has the
llama.cpp rules they follow).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from inference.common.errors import InvalidSettingError

if TYPE_CHECKING:
    from inference.gguf.file import GGUFInfo

KiB = 1024
MiB = 1024 * KiB
GiB = 1024 * MiB


CTX_PAD = 256                     # llama.cpp pads n_ctx (and the SWA cache) to a multiple of 256


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


@dataclass(frozen=True)
class _KV:
    full: int
    swa: int
    swa_cells: int
    gpu: int


def weight_bytes(info: GGUFInfo, n_layer: int, gpu_start: int) -> tuple[int, int]:
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


def kv_cache_sizes(info: GGUFInfo, n_layer: int, gpu_start: int, ctx: int, n_ubatch: int,
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


def residual_bytes(info: GGUFInfo, n_ubatch: int) -> int:
    return n_ubatch * (info.embedding_length or 0) * 4 * 2


def compute_bytes(info: GGUFInfo, n_ubatch: int, kv_cells: int, mask_cells: int,
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
    residual = residual_bytes(info, n_ubatch)
    output = n_ubatch * vocab_size(info) * 4
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


def vocab_size(info: GGUFInfo) -> int:
    if info.vocab_size:
        return info.vocab_size
    for t in info.tensors:
        if t.name in ("output.weight", "token_embd.weight") and len(t.shape) >= 2:
            return t.shape[1]
    return 0


def flash_attn_on(value: bool | str) -> bool:
    if isinstance(value, bool):
        return value
    if value in ("auto", "on"):
        return True
    if value == "off":
        return False
    raise InvalidSettingError(f"flash attention must be auto, on or off, got {value!r}")


def kv_type_blocks(name: str) -> tuple[int, int]:
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
