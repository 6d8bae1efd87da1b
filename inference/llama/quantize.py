"""llama.cpp's `llama_model_quantize`, with its log handed to a Python callable while it runs.

Meant for a process of its own (quantize's child job): it installs llama.cpp's one process-wide
log callback for the call and silences the log after, so it never runs beside `NATIVE_LOG`.
"""

from __future__ import annotations

import ctypes
from collections.abc import Callable, Sequence

import llama_cpp

LogSink = Callable[[int, str], None]
"""`sink(level, text)`: one chunk of llama.cpp's log (ggml_log_level; CONT 5 continues a line)."""

KEY_BYTES = 127      # llama_model_kv_override holds a key and a string value of 128 bytes each
_SILENT = llama_cpp.llama_log_callback(lambda _level, _text, _user: None)


def ftype_id(name: str) -> int:
    """The LLAMA_FTYPE_* value of a file type name such as "Q4_K_M" or "F32"."""
    prefix = "LLAMA_FTYPE_ALL_" if name == "F32" else "LLAMA_FTYPE_MOSTLY_"
    return int(getattr(llama_cpp, prefix + name))


def quantize_model(source: str, output: str, *, ftype: int, allow_requantize: bool,
                   n_threads: int, overrides: Sequence[tuple[str, str]], log: LogSink) -> int:
    """Write `output`, `source` quantized to `ftype`, with string metadata `overrides` added.

    Returns llama_model_quantize's code (0 ok); llama.cpp says why it failed in the log.
    """

    def on_log(level: int, text: bytes, _user: ctypes.c_void_p) -> None:
        log(level, text.decode("utf-8", "replace") if text else "")

    callback = llama_cpp.llama_log_callback(on_log)
    llama_cpp.llama_log_set(callback, ctypes.c_void_p(0))
    llama_cpp.llama_backend_init()
    params = llama_cpp.llama_model_quantize_default_params()
    params.ftype = ftype
    params.allow_requantize = allow_requantize
    params.nthread = n_threads
    kv = (llama_cpp.llama_model_kv_override * (len(overrides) + 1))()   # last one: key "" ends
    for slot, (key, value) in zip(kv, overrides, strict=False):
        slot.tag = llama_cpp.LLAMA_KV_OVERRIDE_TYPE_STR
        slot.key = key.encode("utf-8")[:KEY_BYTES]
        slot.value.val_str = value.encode("utf-8")[:KEY_BYTES]
    if overrides:
        params.kv_overrides = kv
    try:
        return llama_cpp.llama_model_quantize(source.encode("utf-8"), output.encode("utf-8"),
                                              ctypes.byref(params))
    finally:
        llama_cpp.llama_log_set(_SILENT, ctypes.c_void_p(0))
