"""Thin, owned wrappers over llama.cpp's C API (through llama-cpp-python's ctypes bindings).

`NativeModel` owns a `llama_model`, `NativeContext` a `llama_context`; both free their native
memory deterministically in `close()`. Everything here runs on the one thread that owns the engine.
"""

from __future__ import annotations

import ctypes
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

os.environ.setdefault("GGML_NO_BACKTRACE", "1")  # an abort should print one line, not gdb output

import llama_cpp  # noqa: E402
import numpy as np  # noqa: E402

from inference.common.cancel import CancelToken  # noqa: E402
from inference.common.errors import Cancelled, ModelLoadError  # noqa: E402
from inference.llama.backends import ggml_symbol, load_cpu_backends  # noqa: E402
from inference.llama.native_log import NATIVE_LOG  # noqa: E402
from inference.llama.rpc import device_array, local_offload_devices, model_devices  # noqa: E402

FLASH_ATTN = {"auto": -1, "off": 0, "on": 1}
GGML_TYPE_BF16 = 30    # ggml.h; llama-cpp-python 0.3.36 does not export this one
NativeBatch = llama_cpp.llama_batch   # a context's token batch (token, pos, seq_id, logits …)


def ggml_type_id(name: str) -> int:
    """The ggml type id of a KV cache type name such as "f16" or "q8_0"."""
    if name.lower() == "bf16":
        return getattr(llama_cpp, "GGML_TYPE_BF16", GGML_TYPE_BF16)
    try:
        return int(getattr(llama_cpp, f"GGML_TYPE_{name.upper()}"))
    except AttributeError:
        raise ValueError(f"unknown ggml type {name!r}") from None


def ensure_backend() -> None:
    """Route llama.cpp's log to Parley, load the best CPU variant (portable builds), initialise."""
    NATIVE_LOG.install()
    load_cpu_backends()          # a no-op unless libggml-cpu-* variant modules are present


@dataclass(frozen=True)
class BuildInfo:
    llama_cpp_python: str
    system_info: str               # llama.cpp's feature line (AVX2, NEON, CUDA …)
    gpu_offload: bool
    backends: tuple[str, ...]      # registered ggml backends, e.g. ("CPU",) or ("CUDA", "CPU")

    @property
    def backend(self) -> str:
        gpu = [b for b in self.backends if b.upper() not in ("CPU", "BLAS", "RPC")]
        return gpu[0] if gpu and self.gpu_offload else "CPU"

    def to_dict(self) -> dict[str, object]:
        return {"llama_cpp_python": self.llama_cpp_python, "system_info": self.system_info,
                "gpu_offload": self.gpu_offload, "backends": list(self.backends),
                "backend": self.backend}


def bindings_version() -> str:
    """The llama-cpp-python version, e.g. "0.3.36"."""
    return llama_cpp.__version__


def gpu_offload_supported() -> bool:
    """Whether this llama.cpp build can offload layers to a local GPU.

    Not `llama_supports_gpu_offload()`: that is also true for a CPU build with the RPC backend
    (its layers can go to RPC servers), which says nothing about this machine's GPU.
    """
    ensure_backend()
    return bool(llama_cpp.llama_supports_gpu_offload()) and bool(local_offload_devices())


def build_info() -> BuildInfo:
    ensure_backend()
    return BuildInfo(
        llama_cpp_python=bindings_version(),
        system_info=llama_cpp.llama_print_system_info().decode("utf-8", "replace").strip(),
        gpu_offload=gpu_offload_supported(),
        backends=_backend_names(),
    )


def _backend_names() -> tuple[str, ...]:
    """Backends registered in the libggml copy that libllama actually uses."""
    count = ggml_symbol("ggml_backend_reg_count", ctypes.c_size_t, [])
    get = ggml_symbol("ggml_backend_reg_get", ctypes.c_void_p, [ctypes.c_size_t])
    name_of = ggml_symbol("ggml_backend_reg_name", ctypes.c_char_p, [ctypes.c_void_p])
    if count is None or get is None or name_of is None:
        return ("CPU",)
    names = [(name_of(get(i)) or b"?").decode() for i in range(count())]
    return tuple(names) or ("CPU",)


class NativeModel:
    """A loaded llama_model plus its vocabulary helpers."""

    def __init__(self, path: Path, *, n_gpu_layers: int = 0, use_mmap: bool = True,
                 progress: Callable[[float], None] | None = None,
                 cancel: CancelToken | None = None, vocab_only: bool = False,
                 rpc_servers: Sequence[str] = (), cpu_repack: bool = True) -> None:
        """`cpu_repack=False` keeps the weights as stored instead of repacking them for the
        CPU's matrix kernels (llama.cpp's --no-repack): the plain kernels an rpc-server runs, and
        a batch of positions then computes each one bit for bit as a decode of that position
        alone (with flash attention), which speculative decoding needs."""
        ensure_backend()
        params = llama_cpp.llama_model_default_params()
        params.n_gpu_layers = 0x7FFFFFFF if n_gpu_layers < 0 else n_gpu_layers
        if rpc_servers and not vocab_only:   # offloaded layers go to these servers (and GPUs)
            self._devices = device_array(model_devices(rpc_servers))
            params.devices = ctypes.cast(self._devices, ctypes.c_void_p)
        if hasattr(params, "use_mmap"):
            params.use_mmap = use_mmap
        params.vocab_only = vocab_only
        params.use_extra_bufts = cpu_repack   # off: the plain CPU kernels, as an rpc-server runs

        def on_progress(fraction: float, _user: ctypes.c_void_p) -> bool:
            if cancel is not None and cancel.cancelled:
                return False
            if progress is not None:
                try:
                    progress(float(fraction))
                except Exception:  # a failing progress observer must not break the load
                    pass
            return True

        self._progress_cb = llama_cpp.llama_progress_callback(on_progress)
        params.progress_callback = self._progress_cb
        mark = NATIVE_LOG.mark()
        model = llama_cpp.llama_model_load_from_file(str(path).encode("utf-8"), params)
        if not model:
            if cancel is not None and cancel.cancelled:
                raise Cancelled("model load cancelled")
            raise ModelLoadError(NATIVE_LOG.last_error(since=mark)
                                 or f"llama.cpp could not load {path.name}")
        self.ptr = model
        self.path = path
        self.vocab = llama_cpp.llama_model_get_vocab(model)
        self.n_vocab = llama_cpp.llama_vocab_n_tokens(self.vocab)
        self.add_bos = bool(llama_cpp.llama_vocab_get_add_bos(self.vocab))
        self.bos = llama_cpp.llama_vocab_bos(self.vocab)
        self.n_ctx_train = llama_cpp.llama_model_n_ctx_train(model)
        self.n_layer = llama_cpp.llama_model_n_layer(model)
        self.n_swa = llama_cpp.llama_model_n_swa(model)
        self._piece_buf = ctypes.create_string_buffer(256)

    # -- vocabulary -------------------------------------------------------------------------
    def tokenize(self, text: str, *, add_special: bool = True, parse_special: bool = False
                 ) -> list[int]:
        data = text.encode("utf-8")
        capacity = len(data) + 8
        buf = (llama_cpp.llama_token * capacity)()
        n = llama_cpp.llama_tokenize(self.vocab, data, len(data), buf, capacity,
                                     add_special, parse_special)
        if n < 0:
            capacity = -n
            buf = (llama_cpp.llama_token * capacity)()
            n = llama_cpp.llama_tokenize(self.vocab, data, len(data), buf, capacity,
                                         add_special, parse_special)
        return list(buf[:n])

    def piece(self, token: int, *, special: bool = False) -> bytes:
        """The bytes of one token (may be part of a multi-byte character)."""
        if not 0 <= token < self.n_vocab:
            raise ValueError(f"token id {token} is outside the vocabulary (0…{self.n_vocab - 1})")
        n = llama_cpp.llama_token_to_piece(self.vocab, token, self._piece_buf, 256, 0, special)
        if n < 0:
            big = ctypes.create_string_buffer(-n)
            n = llama_cpp.llama_token_to_piece(self.vocab, token, big, -n, 0, special)
            return big.raw[:n]
        return self._piece_buf.raw[:n]

    def is_eog(self, token: int) -> bool:
        return bool(llama_cpp.llama_vocab_is_eog(self.vocab, token))

    def token_text(self, token: int) -> str:
        raw = llama_cpp.llama_vocab_get_text(self.vocab, token)
        return raw.decode("utf-8", "replace") if raw else ""

    def meta(self, key: str) -> str | None:
        buf = ctypes.create_string_buffer(4096)
        n = llama_cpp.llama_model_meta_val_str(self.ptr, key.encode(), buf, len(buf))
        return buf.value.decode("utf-8", "replace") if n >= 0 else None

    def chat_template(self) -> str | None:
        raw = llama_cpp.llama_model_chat_template(self.ptr, None)
        return raw.decode("utf-8", "replace") if raw else None

    def close(self) -> None:
        if getattr(self, "ptr", None):
            llama_cpp.llama_model_free(self.ptr)
            self.ptr = None


class ContextError(ModelLoadError):
    pass


class NativeContext:
    """A llama_context (KV cache + compute buffers) over a NativeModel."""

    def __init__(self, model: NativeModel, *, n_ctx: int, n_batch: int, n_ubatch: int,
                 n_threads: int, flash_attn: str = "auto", n_seq_max: int = 1,
                 type_k: str = "f16", type_v: str = "f16", kv_unified: bool = False) -> None:
        params = llama_cpp.llama_context_default_params()
        params.n_ctx = n_ctx
        params.n_batch = n_batch
        params.n_ubatch = min(n_ubatch, n_batch)
        params.n_seq_max = n_seq_max
        params.kv_unified = kv_unified   # False: each sequence its own n_ctx / n_seq_max cells
        params.n_threads = n_threads
        params.n_threads_batch = n_threads
        params.flash_attn_type = FLASH_ATTN[flash_attn]
        params.type_k = ggml_type_id(type_k)
        params.type_v = ggml_type_id(type_v)
        params.no_perf = True
        self._abort_token: CancelToken | None = None
        self._abort_cb = llama_cpp.ggml_abort_callback(self._should_abort)
        params.abort_callback = self._abort_cb
        mark = NATIVE_LOG.mark()
        ctx = llama_cpp.llama_init_from_model(model.ptr, params)
        if not ctx:
            reason = NATIVE_LOG.last_error(since=mark) or "unknown reason"
            raise ContextError(f"Failed to create the llama.cpp context (n_ctx={n_ctx}): {reason}")
        self.ptr = ctx
        self.model = model
        self.n_ctx = llama_cpp.llama_n_ctx(ctx)
        self.n_ctx_seq = llama_cpp.llama_n_ctx_seq(ctx)     # the most one sequence may hold
        self.n_seq_max = llama_cpp.llama_n_seq_max(ctx)
        self.n_batch = llama_cpp.llama_n_batch(ctx)
        self.memory = llama_cpp.llama_get_memory(ctx)
        self._batch = llama_cpp.llama_batch_init(self.n_batch, 0, n_seq_max)
        self._single = (llama_cpp.llama_token * 1)()

    def _should_abort(self, _data: ctypes.c_void_p) -> bool:
        token = self._abort_token
        return bool(token is not None and token.cancelled)

    def set_abort(self, token: CancelToken | None) -> None:
        """Let `token` abort a running decode between compute graph nodes."""
        self._abort_token = token

    # -- evaluation -------------------------------------------------------------------------
    def decode(self, tokens: Sequence[int], start_pos: int, *, seq_id: int = 0,
               logits: str = "last") -> int:
        """Evaluate `tokens` at positions start_pos…; logits 'last', 'all' or 'none'.

        Returns llama_decode's code: 0 ok, 1 no KV slot (context full), 2 aborted, <0 error.
        """
        n = len(tokens)
        if n == 1 and seq_id == 0 and logits == "last":
            self._single[0] = tokens[0]
            batch = llama_cpp.llama_batch_get_one(self._single, 1)
            return llama_cpp.llama_decode(self.ptr, batch)
        b = self._batch
        b.n_tokens = n
        for i, tok in enumerate(tokens):
            b.token[i] = tok
            b.pos[i] = start_pos + i
            b.n_seq_id[i] = 1
            b.seq_id[i][0] = seq_id
            b.logits[i] = logits == "all"
        if logits == "last":
            b.logits[n - 1] = True
        return llama_cpp.llama_decode(self.ptr, b)

    def decode_mixed(self, tokens: Sequence[int], positions: Sequence[int],
                     seq_ids: Sequence[int], outputs: Sequence[bool]) -> int:
        """Evaluate one batch of several sequences: token i at positions[i] of sequence
        seq_ids[i], with logits where outputs[i] (read them with the token's index i).

        Returns llama_decode's code, as `decode`.
        """
        n = len(tokens)
        if not 0 < n <= self.n_batch:
            raise ValueError(f"a batch holds 1…{self.n_batch} tokens, got {n}")
        b = self._batch
        b.n_tokens = n
        token, pos, n_seq, seq, logits = b.token, b.pos, b.n_seq_id, b.seq_id, b.logits
        for i in range(n):
            token[i] = tokens[i]
            pos[i] = positions[i]
            n_seq[i] = 1
            seq[i][0] = seq_ids[i]
            logits[i] = outputs[i]
        return llama_cpp.llama_decode(self.ptr, b)

    def batch(self) -> NativeBatch:
        """The context's own batch buffer (n_batch tokens) for callers that fill it directly."""
        return self._batch

    def decode_batch(self) -> int:
        """Evaluate the context's own batch as the caller filled it (llama_decode's code)."""
        return llama_cpp.llama_decode(self.ptr, self._batch)

    def synchronize(self) -> None:
        """Wait until every scheduled computation has finished."""
        llama_cpp.llama_synchronize(self.ptr)

    def logits_ptr(self, i: int = -1) -> ctypes.Array:
        return llama_cpp.llama_get_logits_ith(self.ptr, i)

    def logits_rows(self, first: int, n_rows: int) -> np.ndarray | None:
        """A float32 (n_rows, n_vocab) view, not a copy, of llama.cpp's output rows first …
        first+n_rows−1, valid until the next decode; None when there are no logits."""
        ptr = llama_cpp.llama_get_logits_ith(self.ptr, first)
        if not ptr:
            return None
        n_vocab = self.model.n_vocab
        buf = (ctypes.c_float * (n_rows * n_vocab)).from_address(ctypes.addressof(ptr.contents))
        return np.frombuffer(buf, dtype=np.float32).reshape(n_rows, n_vocab)

    def keep_prefix(self, n_tokens: int, *, seq_id: int = 0) -> bool:
        """Drop cached positions ≥ n_tokens; False if the cache cannot do that."""
        return bool(llama_cpp.llama_memory_seq_rm(self.memory, seq_id, n_tokens, -1))

    def pos_min(self, seq_id: int = 0) -> int:
        return llama_cpp.llama_memory_seq_pos_min(self.memory, seq_id)

    def clear_seq(self, seq_id: int) -> None:
        """Drop every cached position of sequence `seq_id` (the others keep theirs)."""
        llama_cpp.llama_memory_seq_rm(self.memory, seq_id, -1, -1)

    def copy_seq(self, src: int, dst: int) -> None:
        """Let sequence `dst` see every cached position of `src` (in a unified cache the cells
        are shared, not copied; a sequence-per-stream cache copies them)."""
        llama_cpp.llama_memory_seq_cp(self.memory, src, dst, -1, -1)

    def clear(self) -> None:
        llama_cpp.llama_memory_clear(self.memory, True)

    def close(self) -> None:
        if getattr(self, "ptr", None):
            llama_cpp.llama_batch_free(self._batch)
            llama_cpp.llama_free(self.ptr)
            self.ptr = None
