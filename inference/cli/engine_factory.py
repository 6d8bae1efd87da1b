"""Which engine the CLI drives."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from ..api import EngineAPI
from ..engine import Engine


@contextlib.contextmanager
def open_engine() -> Iterator[EngineAPI]:
    engine = Engine()
    try:
        yield engine
    finally:
        engine.close()
