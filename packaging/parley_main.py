"""Entry point of the frozen app (PyInstaller runs this file as `parley` / `Parley.exe`)."""

import multiprocessing
import sys

# First of all: when the engine's spawned child process starts, it is this executable again, and
# freeze_support() turns it into the engine child instead of a second copy of the app.
multiprocessing.freeze_support()

from app.shell.launcher import main  # noqa: E402  (routes --version / --self-test too)

if __name__ == "__main__":
    sys.exit(main())
