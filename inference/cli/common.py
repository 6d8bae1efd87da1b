"""Arguments and output helpers shared by the subcommands."""

from __future__ import annotations

import argparse
import contextlib
import json
import signal
import stat
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from inference.common import limits, text_files
from inference.common.cancel import CancelToken
from inference.common.errors import ParleyError
from inference.common.rpc_endpoints import TRUST_NOTE, normalize_servers
from inference.common.text_files import decode_text
from inference.engine.config import KV_CACHE_TYPES, ModelConfig
from inference.engine.template_source import TemplateSource
from inference.library.starter import resolve_model
from inference.speculative.settings import DEFAULT_DRAFT_MAX, DRAFT_MAX_LIMIT, SpeculativeMode


def add_model_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("model", metavar="MODEL", help="a .gguf file, or 'starter'")


def add_memory_arguments(parser: argparse.ArgumentParser) -> None:
    """The settings that decide how much memory a model takes (info estimates, generate loads)."""
    parser.add_argument("--ctx", type=int, default=4096, metavar="N", help="context size (n_ctx)")
    parser.add_argument("--gpu-layers", type=int, default=0, metavar="N",
                        help="layers to offload to the GPU (-1 = all)")
    for part in ("k", "v"):
        parser.add_argument(f"--cache-type-{part}", default="f16",
                            metavar="TYPE", help=f"{part.upper()} cache type: "
                            f"{', '.join(KV_CACHE_TYPES)} (default f16)"
                            + ("; a quantized V cache needs flash attention" if part == "v"
                               else ""))
    parser.add_argument("--flash-attn", default="auto", metavar="auto|on|off",
                        help="flash attention (default auto: on where the backend has it)")
    add_rpc_argument(parser)


def rpc_servers(text: str) -> tuple[str, ...]:
    """--rpc's value: comma-separated host:port, each checked (argparse shows the one line)."""
    try:
        return normalize_servers(text)
    except ParleyError as err:
        raise argparse.ArgumentTypeError(str(err)) from None


def add_rpc_argument(parser: argparse.ArgumentParser) -> None:
    """--rpc HOST:PORT,…: llama.cpp rpc-servers that hold the offloaded layers (--gpu-layers)."""
    parser.add_argument("--rpc", type=rpc_servers, default=(), metavar="HOST:PORT,…",
                        help="llama.cpp rpc-servers on other machines; --gpu-layers N puts N "
                        f"layers on them (and any local GPU), split by free memory. {TRUST_NOTE}")


def add_load_arguments(parser: argparse.ArgumentParser) -> None:
    add_memory_arguments(parser)
    parser.add_argument("--threads", type=int, default=0, metavar="N",
                        help="CPU threads (0 = physical cores)")
    parser.add_argument("--insist", action="store_true",
                        help="load even if the memory estimate says it will not fit")


def add_template_argument(parser: argparse.ArgumentParser) -> None:
    """--chat-template-file: the user's own Jinja chat template instead of the model's."""
    parser.add_argument("--chat-template-file", metavar="FILE",
                        help="use this Jinja chat template (UTF-8, at most 1 MiB) instead of "
                        "the model's own; one that fails is an error, never a silent fallback")


def add_speculative_arguments(parser: argparse.ArgumentParser, *,
                              draft_model: bool = True) -> None:
    """--speculative lookup|draft, --draft-model FILE, --draft-max K (README § Speculative
    decoding); `draft_model=False` (parley serve): lookup only."""
    modes = [m.value for m in SpeculativeMode
             if draft_model or m is not SpeculativeMode.DRAFT]
    help_text = ("speculative decoding: draft tokens by n-gram lookup in the prompt and reply"
                 + (", or with --draft-model," if draft_model else "")
                 + " and verify them in one batch (the text is the same as without)")
    if not draft_model:
        help_text += "; a draft model drafts for one reply at a time (parley generate)"
    parser.add_argument("--speculative", default="off", metavar="|".join(modes),
                        choices=modes, help=help_text)
    if draft_model:
        parser.add_argument("--draft-model", metavar="FILE",
                            help="the draft model (a smaller GGUF of the same vocabulary) for "
                            "--speculative draft")
    parser.add_argument("--draft-max", type=int, default=DEFAULT_DRAFT_MAX, metavar="K",
                        help=f"the longest draft (1…{DRAFT_MAX_LIMIT}, default "
                        f"{DEFAULT_DRAFT_MAX}); the length adapts below it")


def speculative_settings(args: argparse.Namespace) -> dict[str, Any]:
    """ModelConfig's speculative fields from the flags (none where the command has no flags);
    --draft-model alone means --speculative draft."""
    mode = getattr(args, "speculative", "off")
    draft = getattr(args, "draft_model", None)
    if draft and mode == "off":
        mode = "draft"
    if draft and mode == "draft":
        draft_path = resolve_model(draft)
        if not draft_path.is_file():
            raise ParleyError(f"no such draft model file: {draft_path}")
    else:
        draft_path = None
    return {"speculative": mode, "draft_model": draft_path,
            "draft_max": getattr(args, "draft_max", DEFAULT_DRAFT_MAX)}


def template_source_from_args(args: argparse.Namespace) -> TemplateSource:
    """The template --chat-template-file names (read now, one-line errors), else the file's."""
    path = getattr(args, "chat_template_file", None)
    return TemplateSource.from_file(path) if path else TemplateSource()


def model_path(args: argparse.Namespace) -> Path:
    """The model file named on the command line, or one clear error."""
    path = resolve_model(args.model)
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        raise ParleyError(f"no such file: {path}") from None
    except OSError as exc:
        raise ParleyError(f"cannot open {path}: {exc.strerror or exc}") from None
    if stat.S_ISDIR(mode):
        raise ParleyError(f"{path} is a folder, not a .gguf file")
    return path


def model_config(args: argparse.Namespace, **extra: Any) -> ModelConfig:
    """ModelConfig from the flags (validated there; commands without --threads get defaults)."""
    return ModelConfig(model_path(args), n_ctx=args.ctx, n_gpu_layers=args.gpu_layers,
                       n_threads=getattr(args, "threads", 0),
                       insist=getattr(args, "insist", False),
                       cache_type_k=args.cache_type_k, cache_type_v=args.cache_type_v,
                       flash_attn=args.flash_attn, rpc_servers=getattr(args, "rpc", ()),
                       **speculative_settings(args), **extra)


def read_text_file(path: str, max_bytes: int | None = None) -> str:
    """A text file's contents ("-" = standard input), or a clear error for a missing, binary,
    non-UTF-8 or (given `max_bytes`) too large file."""
    if path == "-":
        data = sys.stdin.buffer.read() if max_bytes is None else sys.stdin.buffer.read(
            max_bytes + 1)
        if max_bytes is not None and len(data) > max_bytes:
            raise text_files.too_large("standard input", max_bytes)
        return decode_text(data, path)
    return text_files.read_text_file(path, max_bytes)


def print_json(data: Any) -> None:
    json.dump(data, sys.stdout, indent=2, ensure_ascii=False, default=str)
    sys.stdout.write("\n")


def check_limits(**values: int) -> None:
    """Each value against inference.common.limits (n_ctx=…, n_threads=…): one line for the first
    out of range, before anything reaches native code."""
    for name, value in values.items():
        limits.check(name, value)


def warn(command: str, text: str) -> None:
    """`parley <command>: warning: …` on one line of stderr."""
    print(f"parley {command}: warning: {' '.join(text.split())}", file=sys.stderr)


def warn_about_threads(command: str, n_threads: int) -> None:
    warning = limits.thread_warning(n_threads)
    if warning:
        warn(command, warning)


@contextlib.contextmanager
def cancel_on_signals(cancel: CancelToken) -> Iterator[CancelToken]:
    """Ctrl-C (SIGINT) or SIGTERM sets `cancel`: the command stops at its next check and exits
    with one line ("parley <command>: cancelled"); a second signal stops it at once."""
    wanted = [signal.SIGINT, signal.SIGTERM]

    def handler(_signum: int, _frame: object) -> None:
        if cancel.cancelled:
            raise KeyboardInterrupt()
        cancel.cancel()

    previous = {sig: signal.signal(sig, handler) for sig in wanted}
    try:
        yield cancel
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)
