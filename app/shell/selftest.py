"""`parley --version` and `parley --self-test [MODEL]` (routed here by app/shell/launcher.py).

`--self-test --first-run` checks the window a new user meets instead (no model needed:
app/shell/selftest_first_run.py).

--self-test runs the headless checks (inference/cli/selftest.py: load MODEL, generate a few tokens
in
the engine process, a short perplexity), then opens and closes the main window on Qt's offscreen
platform with a throw-away profile (PARLEY_HOME in a temporary folder: the user's conversations
and preferences are never touched), and prints one line. Exit status 0 when everything passed,
1 with the reason otherwise, 2 for bad arguments. Used by `make package-check` and the release
workflow on the built bundles.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from collections.abc import Sequence
from contextlib import contextmanager
from pathlib import Path

SHOW_FOR_S = 0.3
FIRST_RUN_FLAG = "--first-run"     # `--self-test --first-run`: app/shell/selftest_first_run.py


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if args and args[0] == "--version":
        from inference.llama.version import main as version_main

        return version_main(args[1:])
    if args and args[0] == "--self-test":
        args = args[1:]
    if FIRST_RUN_FLAG in args:
        from app.shell.selftest_first_run import first_run_main

        return first_run_main([a for a in args if a != FIRST_RUN_FLAG])
    return self_test(args)


def self_test(argv: Sequence[str]) -> int:
    from inference.cli.selftest import (
        FAILED,
        PASSED,
        SKIPPED,
        build_parser,
        print_report,
        run_self_test,
    )
    from inference.common.logs import configure_logging

    args = build_parser().parse_args(list(argv))
    configure_logging(verbose=False)
    report = run_self_test(args.model, in_process=args.in_process)
    if args.no_gui:
        report.gui = "skipped"
        report.checks["gui"] = SKIPPED
    elif report.ok:
        started = time.perf_counter()
        try:
            detail = check_window()
        except Exception as exc:  # report, don't crash: the line says what failed
            report.ok = False
            report.error = f"the main window failed: {type(exc).__name__}: {exc}"
            report.checks["gui"] = FAILED
        else:
            report.gui = f"{detail} in {time.perf_counter() - started:.2f} s"
            report.checks["gui"] = PASSED
        report.seconds += time.perf_counter() - started
    return print_report(report, args.json)


def check_window() -> str:
    """Open and close MainWindow offscreen; a short description of what was checked."""
    if not os.environ.get("QT_QPA_PLATFORM"):
        os.environ["QT_QPA_PLATFORM"] = "offscreen"
    with throwaway_profile():
        from PySide6.QtCore import QLibraryInfo

        from app.shell.context import AppContext, default_engine_factory
        from app.shell.main import create_app
        from app.shell.theme import ThemeManager
        from app.shell.window import MainWindow

        app = create_app(["parley"])
        _quiet_offscreen_warnings()
        ctx = AppContext.create(default_engine_factory)
        try:
            window = MainWindow(ctx, ThemeManager(app, ctx.prefs.theme))
            window.show()
            deadline = time.monotonic() + SHOW_FOR_S
            while time.monotonic() < deadline:
                app.processEvents()
                time.sleep(0.01)
            if not window.isVisible():
                raise RuntimeError("the window did not become visible")
            title = window.windowTitle()
            window.close()
            app.processEvents()
            window.deleteLater()
            app.processEvents()
        finally:
            ctx.close()
        plugins = Path(QLibraryInfo.path(QLibraryInfo.LibraryPath.PluginsPath)) / "platforms"
        available = sorted(_plugin_name(p) for p in plugins.glob("*") if p.is_file())
    return (f"window {title!r} opened and closed on {app.platformName()} "
            f"(platform plugins: {', '.join(available) or 'none found'})")


def _quiet_offscreen_warnings() -> None:
    """The offscreen platform warns on every show(); keep the one-line report clean."""
    from PySide6.QtCore import qInstallMessageHandler

    previous = None

    def handler(mode, context, message):  # noqa: ANN001  (Qt's signature)
        if "propagateSizeHints" in message:
            return
        if previous is not None:
            previous(mode, context, message)
        else:
            sys.stderr.write(message + "\n")

    previous = qInstallMessageHandler(handler)


def _plugin_name(path: Path) -> str:
    name = path.stem.split(".")[0]
    return name[4:] if name.startswith("libq") else name[1:] if name.startswith("q") else name


@contextmanager
def throwaway_profile():
    previous = os.environ.get("PARLEY_HOME")
    with tempfile.TemporaryDirectory(prefix="parley-selftest-") as home:
        os.environ["PARLEY_HOME"] = home
        try:
            yield Path(home)
        finally:
            if previous is None:
                os.environ.pop("PARLEY_HOME", None)
            else:
                os.environ["PARLEY_HOME"] = previous


if __name__ == "__main__":
    sys.exit(main())
