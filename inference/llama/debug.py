"""Test-only native failures: llama.cpp ending the process the way a real bug does."""

from __future__ import annotations

import ctypes
from pathlib import Path

import llama_cpp

from inference.common.errors import ParleyError
from inference.llama.native import NativeModel


def abort_on_invalid_token(model_path: Path) -> None:
    """Make llama.cpp abort this process (SIGABRT): `llama_token_to_piece` with a token id
    outside the vocabulary throws std::out_of_range through the C API, which aborts."""
    vocab = NativeModel(model_path, vocab_only=True)
    buf = ctypes.create_string_buffer(64)
    llama_cpp.llama_token_to_piece(vocab.vocab, vocab.n_vocab + 1000, buf, 64, 0, False)
    vocab.close()
    raise ParleyError("llama.cpp did not abort on an invalid token id")
