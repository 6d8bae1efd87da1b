"""`parley <subcommand>`: the headless command line over the same engine (never imports Qt)."""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence
from typing import Any

from inference.common.errors import Cancelled, ParleyError
from inference.common.logs import configure_logging

# Each command's module in inference/cli (":NAME" for an object in it), imported only when that
# command runs or `parley --help` lists them all: `parley serve`'s HTTP front must not load
# llama.cpp, which most other commands' modules import.
COMMANDS = {"info": "info", "generate": "generate", "prompt": "prompt",
            "perplexity": "perplexity", "bench": "bench", "models": "models",
            "search": "hub:SEARCH", "files": "hub:FILES", "download": "hub:DOWNLOAD",
            "quantize": "quantize", "compare": "compare", "serve": "serve"}
HELP_FLAGS = ("-h", "--help")


def command(name: str) -> Any:
    """Command `name` (HELP, register, run), its module imported now."""
    module, _, attr = COMMANDS[name].partition(":")
    loaded = importlib.import_module(f"inference.cli.{module}")
    return getattr(loaded, attr) if attr else loaded


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """Every command's parser, or with `only` that command's in full and the others by name
    alone (their modules not imported)."""
    parser = argparse.ArgumentParser(
        prog="parley", description="Chat with local GGUF models, offline. "
        "Run with no arguments to open the app.")
    parser.add_argument("-v", "--verbose", action="store_true",
                        help="also print llama.cpp's log to stderr")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS:
        if only is None or name == only:
            cmd = command(name)
            cmd.register(sub.add_parser(name, help=cmd.HELP, description=cmd.HELP))
        else:
            sub.add_parser(name)
    return parser


def chosen_command(argv: Sequence[str]) -> str | None:
    """The command `argv` names, or None when it names none, an unknown one, or asks for the
    top-level help (then every command is listed)."""
    for arg in argv:
        if arg in HELP_FLAGS:
            return None
        if not arg.startswith("-"):
            return arg if arg in COMMANDS else None
    return None


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser(chosen_command(argv)).parse_args(argv)
    if args.command is None:
        build_parser().print_help()
        return 2
    try:
        configure_logging(verbose=args.verbose)
        return int(command(args.command).run(args) or 0)
    except ParleyError as exc:
        print(f"parley {args.command}: error: {exc}", file=sys.stderr)
        return 1
    except (Cancelled, KeyboardInterrupt):
        print(f"parley {args.command}: cancelled", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0
    except OSError as exc:       # a file-system failure no command foresaw: one line, no trace
        print(f"parley {args.command}: error: {describe_os_error(exc)}", file=sys.stderr)
        return 1


def describe_os_error(exc: OSError) -> str:
    """"cannot use /x/y: File name too long" rather than "[Errno 36] …"."""
    reason = exc.strerror or str(exc) or type(exc).__name__
    return f"cannot use {exc.filename}: {reason}" if exc.filename else reason


if __name__ == "__main__":
    sys.exit(main())
