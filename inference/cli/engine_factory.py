"""Which engine the CLI drives: an EngineHost, so a native crash ends with a message, not a core;
or, with --remote, a RemoteEngine (no native code, no child process).

`parley` entry points that may be frozen (PyInstaller) call `multiprocessing.freeze_support()`
before anything else; the host's child is started with the "spawn" method.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from inference.engine.api import EngineAPI
from inference.remote.endpoint import RemoteEndpoint

CLI_ADVICE = "Nothing else was affected; run the command again to retry."


@contextlib.contextmanager
def open_engine(remote: RemoteEndpoint | None = None) -> Iterator[EngineAPI]:
    """An EngineHost whose crash messages speak of a command, not of a conversation; with
    `remote`, a RemoteEngine for that endpoint."""
    engine: EngineAPI
    if remote is not None:
        from inference.remote.engine import RemoteEngine

        engine = RemoteEngine(remote)
    else:
        from inference.host.host import EngineHost

        engine = EngineHost(crash_advice=CLI_ADVICE)
    try:
        yield engine
    finally:
        engine.close()
