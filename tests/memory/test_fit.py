"""Memory estimates against the figures llama.cpp itself logs, and the placement rules."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from inference.common.errors import InvalidSettingError
from inference.gguf.file import GGUFInfo, TensorInfo, read_gguf
from inference.memory.fit import (
    DEFAULT_VRAM_MARGIN,
    Fit,
    MemoryEstimate,
    assess_fit,
    estimate,
    human_bytes,
    max_gpu_layers_that_fit,
    swa_layers,
)

MiB = 1 << 20
GiB = 1 << 30

# --- What llama.cpp (llama-cpp-python 0.3.36, CPU build) logs for the starter model -------------
# Gemma 3 270M Q4_K_M: 18 layers (every 6th full attention: 5, 11, 17), n_embd 640, 4 heads,
# 1 KV head, key/value length 256, sliding window 512, vocab 262144.
# Taken with, one at a time:
#   .venv/bin/python -c "from llama_cpp import Llama; Llama('gemma.gguf', verbose=True, <kwargs>)" \
#       2>&1 | grep -E "buffer size|size = |cells"
# ("Llama()" passes flash_attn off unless told; swa_full is llama.cpp's default, on.)
# The kwargs marked "native" went through llama_context_default_params() with flash_attn_type
# AUTO, as inference/llama/native.py does (auto -> flash attention on, on the CPU).
LOGGED_MODEL_BUFFER_MIB = 235.16  # "CPU_Mapped model buffer size" (+12.66 MiB CPU_REPACK copies)
LOGGED_OUTPUT_BUFFER_MIB = 1.00   # "CPU  output buffer size"
# kwargs: (n_ctx, n_ubatch, kv_type, swa_full, flash_attn)
#   -> (non-SWA KV MiB, SWA KV MiB, SWA cells, "CPU compute buffer size" MiB)
LOGGED: dict[tuple[int, int, str, bool, bool], tuple[float, float, int, float]] = {
    # n_ctx=2048, n_batch=512
    (2048, 512, "f16", True, False): (6.00, 30.00, 2048, 514.50),
    # n_ctx=4096, n_batch=512
    (4096, 512, "f16", True, False): (12.00, 60.00, 4096, 514.50),
    # n_ctx=32768, n_batch=512
    (32768, 512, "f16", True, False): (96.00, 480.00, 32768, 514.50),
    # n_ctx=4096, n_batch=512, swa_full=False
    (4096, 512, "f16", False, False): (12.00, 15.00, 1024, 514.50),
    # n_ctx=32768, n_batch=512, swa_full=False
    (32768, 512, "f16", False, False): (96.00, 15.00, 1024, 514.50),
    # n_ctx=4096, n_batch=512, flash_attn=True
    (4096, 512, "f16", True, True): (12.00, 60.00, 4096, 514.50),
    # n_ctx=1000, n_batch=256  (llama.cpp pads n_ctx to 1024)
    (1000, 256, "f16", True, False): (3.00, 15.00, 1024, 257.25),
    # n_ctx=131072, n_batch=512, swa_full=False  (attention-bound compute buffer)
    (131072, 512, "f16", False, False): (384.00, 15.00, 1024, 1291.76),
    # n_ctx=131072, n_batch=512, swa_full=False, flash_attn=True
    (131072, 512, "f16", False, True): (384.00, 15.00, 1024, 514.50),
    # native: n_ctx=131072, n_batch=2048, n_ubatch=512, flash_attn auto
    (131072, 512, "f16", True, True): (384.00, 1920.00, 131072, 514.50),
    # n_ctx=4096, n_batch=512, flash_attn=True, type_k=8, type_v=8 (q8_0)
    (4096, 512, "q8_0", True, True): (6.38, 31.88, 4096, 514.50),
    # n_ctx=4096, n_batch=512, flash_attn=True, type_k=2, type_v=2 (q4_0), swa_full=False
    (4096, 512, "q4_0", False, True): (3.38, 4.22, 1024, 514.50),
}
# Tolerances: KV cache exact up to the log's rounding to 0.01 MiB; weights within 2% (they are
# exact: the file's tensor bytes); compute buffer within 10% (observed: exact at 514.50 / 257.25,
# 0.1% low at 1291.76).
KV_TOL_MIB = 0.005 + 1e-9
WEIGHTS_TOL = 0.02
COMPUTE_TOL = 0.10


@pytest.fixture(scope="module")
def gemma(starter_model_path: Path) -> GGUFInfo:
    return read_gguf(starter_model_path)


def mib(n: int) -> float:
    return n / MiB


@pytest.mark.model
@pytest.mark.parametrize("settings", list(LOGGED), ids=lambda s: "-".join(map(str, s)))
def test_matches_llama_cpp_log(gemma: GGUFInfo,
                               settings: tuple[int, int, str, bool, bool]) -> None:
    n_ctx, n_ubatch, kv_type, swa_full, flash_attn = settings
    full_mib, swa_mib, swa_cells, compute_mib = LOGGED[settings]
    est = estimate(gemma, n_ctx, 0, n_ubatch, kv_type, swa_full=swa_full, flash_attn=flash_attn)
    assert abs(mib(est.kv_full_bytes) - full_mib) <= KV_TOL_MIB
    assert abs(mib(est.kv_swa_bytes) - swa_mib) <= KV_TOL_MIB
    assert est.kv_swa_cells == swa_cells
    assert est.kv_cache_bytes == est.kv_full_bytes + est.kv_swa_bytes
    assert abs(mib(est.compute_buffer_bytes) / compute_mib - 1) <= COMPUTE_TOL
    assert abs(mib(est.weights_bytes) / LOGGED_MODEL_BUFFER_MIB - 1) <= WEIGHTS_TOL
    assert mib(est.output_buffer_bytes) == LOGGED_OUTPUT_BUFFER_MIB
    # CPU only: nothing on the GPU
    assert est.gpu_bytes == 0 and est.cpu_bytes == est.total_bytes


@pytest.mark.model
def test_gemma3_layer_pattern_and_exact_figures(gemma: GGUFInfo) -> None:
    swa = swa_layers(gemma)
    assert [il for il, s in enumerate(swa) if not s] == [5, 11, 17]
    est = estimate(gemma, 4096)
    assert est.weights_bytes == sum(t.n_bytes for t in gemma.tensors) == 246_587_904
    assert est.kv_full_bytes == 3 * 2 * 4096 * 256 * 2          # layers × (K+V) × cells × dim × f16
    assert est.kv_swa_bytes == 15 * 2 * 4096 * 256 * 2
    assert est.compute_buffer_bytes == 512 * (262144 + 2 * 640) * 4   # 514.50 MiB to the byte


@pytest.mark.model
def test_gpu_placement_follows_llama_cpp(gemma: GGUFInfo) -> None:
    embd = next(t.n_bytes for t in gemma.tensors if t.name == "token_embd.weight")
    layer = [sum(t.n_bytes for t in gemma.tensors if t.name.startswith(f"blk.{il}."))
             for il in range(18)]
    norm = next(t.n_bytes for t in gemma.tensors if t.name == "output_norm.weight")

    cpu = estimate(gemma, 4096, 0)
    assert cpu.weights_gpu_bytes == 0 and cpu.n_gpu_layers == 0

    # one layer = the output layer; Gemma ties it to the token embedding, so the GPU gets a copy
    one = estimate(gemma, 4096, 1)
    assert one.weights_gpu_bytes == norm + embd
    assert one.weights_cpu_bytes == embd + sum(layer)
    assert one.kv_gpu_bytes == 0
    assert one.compute_gpu_bytes > 0

    # 3 = output + the last two repeating layers (16 SWA, 17 full)
    three = estimate(gemma, 4096, 3)
    assert three.weights_gpu_bytes == norm + embd + layer[16] + layer[17]
    row = 2 * 256 * 2                                     # K+V bytes per cell per layer (f16)
    assert three.kv_gpu_bytes == row * 4096 * 2

    every = estimate(gemma, 4096, -1)
    assert every.n_gpu_layers == 19 == estimate(gemma, 4096, 999).n_gpu_layers
    assert every.weights_cpu_bytes == embd                # the input layer stays on the CPU
    assert every.kv_gpu_bytes == every.kv_cache_bytes and every.kv_cpu_bytes == 0
    assert every.weights_bytes == cpu.weights_bytes + embd


@pytest.mark.model
def test_max_gpu_layers_that_fit(gemma: GGUFInfo) -> None:
    all_gpu = estimate(gemma, 4096, -1).gpu_bytes
    assert max_gpu_layers_that_fit(gemma, 4096, all_gpu + DEFAULT_VRAM_MARGIN) == -1
    assert max_gpu_layers_that_fit(gemma, 4096, all_gpu + DEFAULT_VRAM_MARGIN - 1) == 18
    assert max_gpu_layers_that_fit(gemma, 4096, 100 * MiB) == 0
    assert max_gpu_layers_that_fit(gemma, 4096, 100 * MiB, margin_bytes=0) == 0
    some = max_gpu_layers_that_fit(gemma, 4096, estimate(gemma, 4096, 10).gpu_bytes,
                                   margin_bytes=0)
    assert some == 10


@pytest.mark.model
def test_assess_fit_messages(gemma: GGUFInfo) -> None:
    ram = assess_fit(gemma, 4096, 0, None, int(20.1 * GiB))
    assert ram.fit is Fit.RAM and str(ram.fit) == "ram"
    need = human_bytes(estimate(gemma, 4096).cpu_bytes)
    assert ram.message == f"fits in RAM: needs ~{need} of 20.1 GiB available"

    # no GPU build: asked-for layers are ignored
    assert assess_fit(gemma, 4096, -1, None, 20 * GiB).fit is Fit.RAM

    gpu = assess_fit(gemma, 4096, -1, 24 * GiB, 20 * GiB)
    assert gpu.fit is Fit.GPU and gpu.n_gpu_layers == 19
    assert gpu.message.startswith("fits on the GPU: needs ~")
    assert "of 24.0 GiB free VRAM" in gpu.message

    # asked for all layers but only some fit: a partial verdict that says so
    budget = estimate(gemma, 4096, 8).gpu_bytes + DEFAULT_VRAM_MARGIN
    part = assess_fit(gemma, 4096, -1, budget, 20 * GiB)
    assert part.fit is Fit.PARTIAL and part.n_gpu_layers == 8
    assert "8 of 19 layers" in part.message and "only 8 fit" in part.message

    nothing = assess_fit(gemma, 4096, -1, 100 * MiB, 20 * GiB)
    assert nothing.fit is Fit.RAM and nothing.n_gpu_layers == 0
    assert nothing.message.endswith("(asked for 19 GPU layers; none fit in free VRAM)")

    too = assess_fit(gemma, 32768, 0, None, 1 * GiB)
    assert too.fit is Fit.TOO_LARGE and too.message.startswith("too large: needs ~")


# --- synthetic models: rules that the starter model does not exercise ---------------------------


def tensor(name: str, n_bytes: int) -> TensorInfo:
    return TensorInfo(name=name, ggml_type=1, type_name="F16", shape=(n_bytes // 2,),
                      n_elements=n_bytes // 2, n_bytes=n_bytes, offset=0)


def make_info(arch: str = "llama", layers: int = 4, *, output: bool = True,
              sliding_window: int | None = None, metadata: dict | None = None,
              **fields: object) -> GGUFInfo:
    tensors = [tensor("token_embd.weight", 1000), tensor("output_norm.weight", 10)]
    if output:
        tensors.append(tensor("output.weight", 2000))
    tensors += [tensor(f"blk.{il}.attn_q.weight", 100 * (il + 1)) for il in range(layers)]
    values: dict[str, object] = dict(
        path=Path("synthetic.gguf"), version=3, file_size=10_000, architecture=arch, name=None,
        size_label=None, parameters=0, quant="F16", bits_per_weight=16.0, context_length=8192,
        layers=layers, embedding_length=4096, feed_forward_length=14336, heads=32, kv_heads=8,
        key_length=None, value_length=None, sliding_window=sliding_window, expert_count=None,
        experts_used=None, vocab_size=128256, chat_template=None, add_bos=True, split_count=None,
        metadata=metadata or {}, tensors=tuple(tensors), tensor_data_offset=0)
    values.update(fields)
    return GGUFInfo(**values)  # type: ignore[arg-type]


def test_plain_model_kv_and_default_head_dim() -> None:
    info = make_info(layers=32)
    est = estimate(info, 8192)
    # Llama-3-8B shape: head dim 4096/32 = 128, 8 KV heads: 1 GiB of f16 KV at 8192
    assert est.kv_cache_bytes == 32 * 2 * 8192 * 8 * 128 * 2 == 1 * GiB
    assert est.kv_swa_bytes == 0 and est.kv_swa_cells == 0
    assert estimate(info, 8192, kv_type="q8_0").kv_cache_bytes == 32 * 2 * 8192 * 1024 // 32 * 34
    assert estimate(info, 8192, kv_type="Q4_0").kv_cache_bytes == 32 * 2 * 8192 * 1024 // 32 * 18


def test_ctx_is_padded_and_zero_means_training_context() -> None:
    info = make_info()
    assert estimate(info, 1000).n_ctx == 1024
    assert estimate(info, 0).n_ctx == 8192


def test_untied_output_goes_to_gpu_without_duplicate() -> None:
    info = make_info(layers=4, output=True)
    one = estimate(info, 512, 1)
    assert one.weights_gpu_bytes == 2000 + 10
    assert one.weights_bytes == estimate(info, 512, 0).weights_bytes
    two = estimate(info, 512, 2)
    assert two.weights_gpu_bytes == 2010 + 400                 # + the last layer, blk.3


def test_swa_pattern_from_table_and_from_metadata() -> None:
    g2 = make_info("gemma2", layers=6)                        # gemma2: default window 4096
    assert swa_layers(g2) == (True, False) * 3
    assert swa_layers(make_info("gemma3", layers=6)) == (False,) * 6   # no window, no SWA
    assert swa_layers(make_info("llama", layers=4, sliding_window=4096)) == (False,) * 4
    own = make_info("cohere2", layers=4, sliding_window=4096,
                    metadata={"cohere2.attention.sliding_window_pattern": 2})
    assert swa_layers(own) == (True, False, True, False)
    flags = make_info("gemma3", layers=3, sliding_window=1024,
                      metadata={"gemma3.attention.sliding_window_pattern": (True, False, True)})
    assert swa_layers(flags) == (True, False, True)


def test_swa_cache_size_rule() -> None:
    info = make_info("gemma3", layers=6, sliding_window=1024)
    small = estimate(info, 32768, n_ubatch=512, swa_full=False)
    assert small.kv_swa_cells == 1536                          # pad256(min(32768, 1024 + 512))
    assert estimate(info, 1024, swa_full=False).kv_swa_cells == 1024      # min with n_ctx
    assert estimate(info, 32768, n_ubatch=100, swa_full=False).kv_swa_cells == 1280
    assert estimate(info, 32768).kv_swa_cells == 32768        # swa_full (llama.cpp default)
    row = 2 * 8 * 128 * 2
    assert small.kv_swa_bytes == 5 * row * 1536 and small.kv_full_bytes == 1 * row * 32768


def test_per_layer_kv_heads_from_metadata() -> None:
    # hybrid models store head_count_kv per layer; 0 = a layer without a KV cache
    info = make_info(layers=4, metadata={"llama.attention.head_count_kv": (8, 0, 0, 8)})
    assert estimate(info, 1024).kv_cache_bytes == 2 * 2 * 1024 * 8 * 128 * 2


def test_attention_bound_compute_without_flash_attention() -> None:
    info = make_info(layers=32)
    fa = estimate(info, 32768, flash_attn=True).compute_buffer_bytes
    no_fa = estimate(info, 32768, flash_attn=False).compute_buffer_bytes
    assert fa < 1 * GiB < no_fa                               # KQ: 512 × 32 heads × 32768 × 4 B
    assert estimate(info, 32768, flash_attn="auto").compute_buffer_bytes == fa
    assert estimate(info, 32768, flash_attn="off").compute_buffer_bytes == no_fa


def test_bad_settings_are_refused() -> None:
    info = make_info()
    with pytest.raises(InvalidSettingError, match="KV cache type"):
        estimate(info, 1024, kv_type="q3_k")
    with pytest.raises(InvalidSettingError, match="flash attention"):
        estimate(info, 1024, flash_attn="maybe")
    with pytest.raises(InvalidSettingError, match="micro-batch"):
        estimate(info, 1024, n_ubatch=0)


def test_estimate_totals_add_up() -> None:
    est = estimate(make_info(layers=8), 4096, 5)
    assert isinstance(est, MemoryEstimate)
    assert est.total_bytes == est.gpu_bytes + est.cpu_bytes
    assert est.total_bytes == (est.weights_bytes + est.kv_cache_bytes
                               + est.compute_buffer_bytes + est.output_buffer_bytes)
    data = est.to_dict()
    assert data["total_bytes"] == est.total_bytes and data["n_gpu_layers"] == 5
    assert replace(est, kv_gpu_bytes=0).kv_cpu_bytes == est.kv_cache_bytes


@pytest.mark.parametrize(("n", "text"), [
    (0, "0 B"), (512, "512 B"), (1536, "1.5 KiB"), (253_113_024, "241.4 MiB"),
    (int(253.1 * MiB), "253.1 MiB"), (int(1.2 * GiB), "1.2 GiB"), (5 * 1024 * GiB, "5.0 TiB"),
    (-2 * MiB, "-2.0 MiB"),
])
def test_human_bytes(n: int, text: str) -> None:
    assert human_bytes(n) == text


def test_k_and_v_cache_types_are_counted_apart() -> None:
    info = make_info(layers=32)
    rows = 32 * 8192 * 8 * 128                 # values in K (and in V) over all layers
    est = estimate(info, 8192, kv_type="f16", kv_type_v="q8_0")
    assert est.kv_cache_bytes == rows * 2 + rows // 32 * 34
    assert estimate(info, 8192, kv_type="q4_0").kv_cache_bytes == 2 * rows // 32 * 18
    with pytest.raises(InvalidSettingError, match="KV cache type"):
        estimate(info, 8192, kv_type_v="q3")
