"""`--remote URL`, `--api-key-env VAR` and `--model NAME`: the flags that point a command at a
remote engine instead of a local file (nothing goes over the network without --remote)."""

from __future__ import annotations

import argparse
import os

from inference.common.errors import InvalidSettingError
from inference.remote.endpoint import RemoteEndpoint


def add_remote_arguments(parser: argparse.ArgumentParser, *, with_model: bool = True) -> None:
    group = parser.add_argument_group("remote engine")
    group.add_argument("--remote", metavar="URL", help="use the OpenAI-compatible server at URL "
                       "(llama-server, vLLM, Ollama, parley serve …) instead of a local file")
    group.add_argument("--api-key-env", metavar="VAR", help="read the server's API key from "
                       "this environment variable (never from the command line)")
    if with_model:
        group.add_argument("--model", dest="remote_model", metavar="NAME", default="",
                           help="the model on the server (default: its only one)")


def endpoint_from_args(args: argparse.Namespace) -> RemoteEndpoint:
    """The endpoint the flags name; a clear error for an unset key variable."""
    key = ""
    if args.api_key_env:
        key = os.environ.get(args.api_key_env, "")
        if not key:
            raise InvalidSettingError(f"--api-key-env {args.api_key_env}: that environment "
                                      "variable is not set or empty")
    return RemoteEndpoint(args.remote, model=getattr(args, "remote_model", "") or "",
                          api_key=key)
