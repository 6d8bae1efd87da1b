"""Asks this build's llama.cpp whether it knows an architecture (no hand-written list)."""

from __future__ import annotations

import functools
import tempfile
from pathlib import Path

import gguf
import llama_cpp

from inference.llama.native import ensure_backend
from inference.llama.native_log import NATIVE_LOG


@functools.lru_cache(maxsize=64)
def architecture_supported(architecture: str) -> bool:
    """True unless llama.cpp says "unknown model architecture" for a probe file of that name.

    The probe is a GGUF holding only `general.architecture`; llama.cpp reads the architecture
    before anything else, so a known one fails later, for a different reason.
    """
    ensure_backend()
    with tempfile.TemporaryDirectory(prefix="parley-arch-") as folder:
        probe = Path(folder) / "probe.gguf"
        writer = gguf.GGUFWriter(str(probe), architecture)
        writer.write_header_to_file()
        writer.write_kv_data_to_file()
        writer.write_tensors_to_file()
        writer.close()
        params = llama_cpp.llama_model_default_params()
        params.vocab_only = True
        mark = NATIVE_LOG.mark()
        model = llama_cpp.llama_model_load_from_file(str(probe).encode(), params)
        if model:
            llama_cpp.llama_model_free(model)
            return True
        return not any("unknown model architecture" in line
                       for line in NATIVE_LOG.lines(since=mark))
