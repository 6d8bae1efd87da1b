"""Engine jobs that misbehave on purpose, for the stuck-engine tests: `EngineHost(job_modules=
[STUCK_JOBS])` adds them to the engine process's job table."""

from __future__ import annotations

import time
from collections.abc import Mapping
from types import MappingProxyType
from typing import TYPE_CHECKING

from inference.host.child import Job, JobContext

if TYPE_CHECKING:
    from inference.engine.engine import Engine

STUCK_JOBS = __name__
FOREVER_S = 120.0          # "forever" for a test: long past every deadline the tests expect


def ignore_cancel(engine: Engine, ctx: JobContext) -> None:
    """Busy in Python, never reading the pipe, never looking at its cancel."""
    ends = time.monotonic() + FOREVER_S
    while time.monotonic() < ends:
        time.sleep(0.05)


JOBS: Mapping[str, Job] = MappingProxyType({"_ignore_cancel": ignore_cancel})
