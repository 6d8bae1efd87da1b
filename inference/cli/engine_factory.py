"""Which engine the CLI drives: an EngineHost, so a native crash ends with a message, not a core.

`parley` entry points that may be frozen (PyInstaller) call `multiprocessing.freeze_support()`
before anything else; the host's child is started with the "spawn" method.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from inference.engine.api import EngineAPI
from inference.host.host import EngineHost


@contextlib.contextmanager
def open_engine() -> Iterator[EngineAPI]:
    engine = EngineHost()
    try:
        yield engine
    finally:
        engine.close()
