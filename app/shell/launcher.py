"""`parley`: the GUI with no subcommand, the headless CLI with one.

Importing this module imports no Qt: the CLI path (`parley info …`) must start fast and work on
machines without a display. PySide6 is imported only on the GUI path.
"""

from __future__ import annotations

import argparse
import multiprocessing
import sys
from collections.abc import Sequence

GUI_HELP = """parley [--model PATH|starter]
       parley <subcommand> [options]     (run `parley --help-cli` for the subcommands)

Opens Parley's window. --model loads a GGUF file (or the bundled starter model) at start."""


def _gui_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="parley", usage=GUI_HELP, add_help=True)
    parser.add_argument("--model", help="a GGUF file to load at start, or 'starter'")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    multiprocessing.freeze_support()
    args = list(sys.argv[1:] if argv is None else argv)
    if args and args[0] in ("--version", "--self-test"):
        from app.shell.selftest import main as selftest_main

        return selftest_main(args)
    if args and args[0] == "--help-cli":
        args = ["--help"]
    elif not args or args[0].startswith("-"):
        gui_args, rest = _gui_parser().parse_known_args(args)
        if not rest:
            from app.shell.main import run  # PySide6 is imported here, not before

            return run(gui_args.model)
    from inference.cli import main as cli_main

    return int(cli_main(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
