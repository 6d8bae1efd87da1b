"""`parley info MODEL`: what a GGUF file holds, without loading its weights."""

from __future__ import annotations

import argparse
from typing import Any

from ..arch_support import architecture_supported
from ..fit import estimate, human_bytes
from ..gguf_file import read_gguf
from ..load_checks import unsupported_message
from .common import add_model_argument, model_path, print_json

HELP = "Inspect a GGUF model file (header only) and estimate its memory needs."


def register(parser: argparse.ArgumentParser) -> None:
    add_model_argument(parser)
    parser.add_argument("--ctx", type=int, default=4096, metavar="N",
                        help="context size for the memory estimate")
    parser.add_argument("--gpu-layers", type=int, default=0, metavar="N",
                        help="GPU layers for the memory estimate (-1 = all)")
    parser.add_argument("--json", action="store_true", help="machine-readable output")


def run(args: argparse.Namespace) -> int:
    info = read_gguf(model_path(args))
    supported = architecture_supported(info.architecture)
    memory = estimate(info, args.ctx, args.gpu_layers)
    data: dict[str, Any] = info.to_dict()
    data.update(supported=supported, memory={"n_ctx": args.ctx, "gpu_layers": args.gpu_layers,
                                             **memory.to_dict()})
    if args.json:
        print_json(data)
        return 0
    rows = [
        ("File", str(info.path)),
        ("Name", info.name or "—"),
        ("Architecture", info.architecture + ("" if supported else "  (NOT SUPPORTED)")),
        ("Parameters", f"{info.parameters / 1e6:,.1f} M" + (
            f"  ({info.size_label})" if info.size_label else "")),
        ("Quantization", f"{info.quant}, {info.bits_per_weight:.2f} bits per weight"),
        ("File size", human_bytes(info.file_size)),
        ("Trained context", f"{info.context_length:,}" if info.context_length else "—"),
        ("Layers", str(info.layers or "—")),
        ("Embedding", str(info.embedding_length or "—")),
        ("Heads / KV heads", f"{info.heads or '—'} / {info.kv_heads or '—'}"),
        ("Experts", f"{info.expert_count} ({info.experts_used} used per token)"
         if info.is_moe else "none (dense)"),
        ("Vocabulary", f"{info.vocab_size:,}" if info.vocab_size else "—"),
        ("Chat template", "yes (in the file)" if info.has_chat_template
         else "none (a built-in format is used)"),
        ("GGUF version", str(info.version)),
        (f"Memory at n_ctx={args.ctx:,}",
         f"~{human_bytes(memory.total_bytes)} (weights {human_bytes(memory.weights_bytes)}, "
         f"KV cache {human_bytes(memory.kv_cache_bytes)}, "
         f"compute {human_bytes(memory.compute_buffer_bytes)})"),
    ]
    width = max(len(k) for k, _ in rows)
    for key, value in rows:
        print(f"{key:<{width}}  {value}")
    if not supported:
        print(f"\nNote: {unsupported_message(info.architecture)}.")
    return 0
