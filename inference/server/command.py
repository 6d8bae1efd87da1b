"""The `parley serve` command line for a model and server settings, as the GUI's Server page
starts it: the same program the user would type, so the page and the CLI serve alike."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

from inference.common.install import running_frozen
from inference.engine.config import ModelConfig
from inference.server.config import API_KEY_ENV, ServerConfig


@dataclass(frozen=True)
class ServeCommand:
    """A program, its arguments, and the environment variables to add."""

    program: str
    arguments: tuple[str, ...]
    environment: tuple[tuple[str, str], ...] = ()


def parley_program(frozen: bool | None = None) -> list[str]:
    """How to run `parley <command>`: the bundle's own executable (whose launcher routes a
    subcommand to the CLI), else this Python running the CLI package."""
    return [sys.executable] if running_frozen(frozen) else [sys.executable, "-m", "inference.cli"]


def serve_command(model: ModelConfig, server: ServerConfig, *,
                  template_file: Path | None = None,
                  frozen: bool | None = None) -> ServeCommand:
    """`parley serve MODEL …` with the model's load settings and the server's; the request log
    (one JSON line per answer on stdout) is always on, for the page to read. Prompt lookup
    carries over; a draft model does not (it drafts for one reply at a time: the server's
    slots run without speculation then, README § Speculative decoding)."""
    program, *first = parley_program(frozen)
    args = [*first, "serve", str(model.path),
            "--host", server.host, "--port", str(server.port),
            "--parallel", str(server.parallel),
            "--ctx", str(model.n_ctx), "--gpu-layers", str(model.n_gpu_layers),
            "--threads", str(model.n_threads),
            "--cache-type-k", model.cache_type_k, "--cache-type-v", model.cache_type_v,
            "--flash-attn", model.flash_attn, "--request-log"]
    if model.insist:
        args.append("--insist")
    if model.rpc_servers:
        args += ["--rpc", ",".join(model.rpc_servers)]
    if model.speculative == "lookup":            # SpeculativeMode.LOOKUP (a str enum)
        args += ["--speculative", "lookup", "--draft-max", str(model.draft_max)]
    if template_file is not None:
        args += ["--chat-template-file", str(template_file)]
    if server.no_auth:
        args.append("--no-auth")
    env = ((API_KEY_ENV, server.api_key),) if server.api_key else ()
    return ServeCommand(program, tuple(args), env)
