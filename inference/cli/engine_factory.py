"""Which engine the CLI drives: an EngineHost, so a native crash ends with a message, not a core.

`parley` entry points that may be frozen (PyInstaller) call `multiprocessing.freeze_support()`
before anything else; the host's child is started with the "spawn" method.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from inference.engine.api import EngineAPI
from inference.host.host import EngineHost

CLI_ADVICE = "Nothing else was affected; run the command again to retry."


@contextlib.contextmanager
def open_engine() -> Iterator[EngineAPI]:
    """An EngineHost whose crash messages speak of a command, not of a conversation."""
    engine = EngineHost(crash_advice=CLI_ADVICE)
    try:
        yield engine
    finally:
        engine.close()
