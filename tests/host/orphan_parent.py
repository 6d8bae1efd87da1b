"""A parent for the no-orphans test: starts an EngineHost, prints the engine's pid, then keeps
the engine busy (it never reads its pipe) until this process is killed."""

from __future__ import annotations

import sys

from inference.host.host import EngineHost
from tests.host.stuck_jobs import STUCK_JOBS
from tests.support.debug_jobs import DEBUG_JOBS


def main() -> None:
    host = EngineHost(job_modules=[DEBUG_JOBS, STUCK_JOBS])
    host.call("_debug_steps", 1)               # the engine process runs now
    print(host.pid, flush=True)
    host.call("_ignore_cancel")                # blocks here until we are killed


if __name__ == "__main__":
    sys.exit(main())
