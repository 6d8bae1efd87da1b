"""`parley info MODEL`: what a GGUF file holds, without loading its weights."""

from __future__ import annotations

import argparse
from dataclasses import asdict
from typing import Any

from inference.cli.common import add_memory_arguments, add_model_argument, model_config, print_json
from inference.engine.config import ModelConfig
from inference.engine.load_checks import unsupported_message
from inference.engine.prompts import TemplateChoice
from inference.engine.template_check import file_template_choice
from inference.gguf.file import GGUFInfo, read_gguf
from inference.llama.arch_support import architecture_supported
from inference.memory.device_split import DeviceShare
from inference.memory.fit import estimate, human_bytes

HELP = "Inspect a GGUF model file (header only) and estimate its memory needs."


def register(parser: argparse.ArgumentParser) -> None:
    add_model_argument(parser)
    add_memory_arguments(parser)        # for the memory estimate, checked as generate checks them
    parser.add_argument("--json", action="store_true", help="machine-readable output")


def run(args: argparse.Namespace) -> int:
    config = model_config(args)        # the same validation as generate's, before any reading
    info = read_gguf(config.path)
    supported = architecture_supported(info.architecture)
    memory = estimate(info, config.n_ctx, config.n_gpu_layers, config.n_ubatch,
                      config.cache_type_k, kv_type_v=config.cache_type_v,
                      flash_attn=config.flash_attn)
    shares = _device_split(info, config)
    choice = file_template_choice(info) if supported else None
    fallback = choice if choice is not None and choice.problem is not None else None
    data: dict[str, Any] = info.to_dict()
    data.update(supported=supported, memory={"n_ctx": args.ctx, "gpu_layers": args.gpu_layers,
                                             "cache_type_k": config.cache_type_k,
                                             "cache_type_v": config.cache_type_v,
                                             **memory.to_dict()},
                chat_template_error=fallback.problem if fallback else None,
                chat_template_fallback=fallback.format.name if fallback else None,
                chat_template_notes=list(choice.notes) if choice else [])
    if shares:
        data["devices"] = [asdict(share) for share in shares]
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
        ("Chat template", _template_row(info.has_chat_template, choice)),
        ("GGUF version", str(info.version)),
        (f"Memory at n_ctx={args.ctx:,}",
         f"~{human_bytes(memory.total_bytes)} (weights {human_bytes(memory.weights_bytes)}, "
         f"KV cache {human_bytes(memory.kv_cache_bytes)}, "
         f"compute {human_bytes(memory.compute_buffer_bytes)})"),
    ]
    rows += [("Layers on" if i == 0 else "", share.describe()) for i, share in enumerate(shares)]
    width = max(len(k) for k, _ in rows)
    for key, value in rows:
        print(f"{key:<{width}}  {value}")
    if not supported:
        print(f"\nNote: {unsupported_message(info.architecture)}.")
    return 0


def _device_split(info: GGUFInfo, config: ModelConfig) -> list[DeviceShare]:
    """With --rpc: the per-device split before loading (the servers asked in a child)."""
    if not config.rpc_servers:
        return []
    from inference.engine.load_checks import check_devices
    from inference.host.devices import query_devices

    devices = query_devices(config.rpc_servers)
    return check_devices(info, config.with_changes(insist=True), list(devices))


def _template_row(present: bool, choice: TemplateChoice | None) -> str:
    if not present or choice is None:
        return "none (llama.cpp's built-in format for the model is used)"
    if choice.problem is not None:
        return (f"yes (in the file) — it cannot be used: {choice.problem}, so llama.cpp's "
                f"built-in {choice.format.name} format is used")
    return " ".join(("yes (in the file)", *choice.notes))
