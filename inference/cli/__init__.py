"""`parley <subcommand>`: the headless command line over the same engine (never imports Qt)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from inference.cli import (
    bench,
    compare,
    generate,
    hub,
    info,
    models,
    perplexity,
    prompt,
    quantize,
    serve,
)
from inference.common.errors import Cancelled, ParleyError
from inference.common.logs import configure_logging

COMMANDS = {"info": info, "generate": generate, "prompt": prompt, "perplexity": perplexity,
            "bench": bench, "models": models, "search": hub.SEARCH, "files": hub.FILES,
            "download": hub.DOWNLOAD, "quantize": quantize, "compare": compare,
            "serve": serve}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="parley", description="Chat with local GGUF models, offline. "
        "Run with no arguments to open the app.")
    parser.add_argument("-v", "--verbose", action="store_true",
                        help="also print llama.cpp's log to stderr")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, module in COMMANDS.items():
        module.register(sub.add_parser(name, help=module.HELP, description=module.HELP))
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command is None:
        build_parser().print_help()
        return 2
    try:
        configure_logging(verbose=args.verbose)
        return int(COMMANDS[args.command].run(args) or 0)
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
