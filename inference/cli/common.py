"""Arguments and output helpers shared by the subcommands."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from .. import text_files
from ..config import ModelConfig
from ..errors import InvalidSettingError, ParleyError
from ..starter import resolve_model
from ..text_files import decode_text


def add_model_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("model", metavar="MODEL", help="a .gguf file, or 'starter'")


def add_load_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--ctx", type=int, default=4096, metavar="N", help="context size (n_ctx)")
    parser.add_argument("--gpu-layers", type=int, default=0, metavar="N",
                        help="layers to offload to the GPU (-1 = all)")
    parser.add_argument("--threads", type=int, default=0, metavar="N",
                        help="CPU threads (0 = physical cores)")
    parser.add_argument("--insist", action="store_true",
                        help="load even if the memory estimate says it will not fit")


def model_path(args: argparse.Namespace) -> Path:
    path = resolve_model(args.model)
    if not path.exists():
        raise ParleyError(f"no such file: {path}")
    if path.is_dir():
        raise ParleyError(f"{path} is a folder, not a .gguf file")
    return path


def model_config(args: argparse.Namespace, **extra: Any) -> ModelConfig:
    return ModelConfig(model_path(args), n_ctx=args.ctx, n_gpu_layers=args.gpu_layers,
                       n_threads=args.threads, insist=args.insist, **extra)


def read_text_file(path: str) -> str:
    """A text file's contents ("-" = standard input), or a clear error for a missing, binary or
    non-UTF-8 file."""
    if path == "-":
        return decode_text(sys.stdin.buffer.read(), path)
    return text_files.read_text_file(path)


def print_json(data: Any) -> None:
    json.dump(data, sys.stdout, indent=2, ensure_ascii=False, default=str)
    sys.stdout.write("\n")


def positive(label: str, value: int) -> int:
    if value <= 0:
        raise InvalidSettingError(f"{label} must be positive, got {value}")
    return value
