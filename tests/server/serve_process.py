"""A real `parley serve` subprocess for the server tests: started, waited for, stopped.

It listens on 127.0.0.1 with `--port 0` (the port it picked is read from its first line), its
stderr goes to a file the tests read (the request log, warnings), and every wait is bounded.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx2

from tests.support.processes import stop_process

START_S = 90.0          # model load on a busy 2-core machine
STOP_S = 15.0
URL = re.compile(r"on (http://[^ ]+)/v1 ")


@dataclass
class Served:
    process: subprocess.Popen[bytes]
    log_path: Path
    base: str = ""                       # http://127.0.0.1:PORT

    @property
    def v1(self) -> str:
        return f"{self.base}/v1"

    def log(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def health(self) -> dict[str, Any]:
        return httpx2.get(f"{self.base}/health", timeout=10).json()

    def wait_healthy(self, deadline_s: float = START_S, *, not_pid: int | None = None) -> dict:
        """/health once it says ok (with an engine pid other than `not_pid`)."""
        end = time.monotonic() + deadline_s
        last: Any = None
        while time.monotonic() < end:
            if self.process.poll() is not None:
                raise AssertionError(f"parley serve exited ({self.process.returncode}):\n"
                                     f"{self.log()[-3000:]}")
            try:
                last = self.health()
            except httpx2.HTTPError as exc:
                last = exc
            else:
                if last.get("status") == "ok" and last.get("engine_pid") not in (None, not_pid):
                    return last
            time.sleep(0.2)
        raise AssertionError(f"the server was not healthy within {deadline_s} s: {last!r}\n"
                             f"{self.log()[-3000:]}")

    def stop(self) -> int:
        return stop_process(self.process, STOP_S)


def serve_command(model: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", "inference.cli", "serve", str(model), *args]


def launch(model: Path, log_path: Path, *args: str) -> Served:
    """Start `parley serve MODEL ARGS` (nothing waited for yet)."""
    log = log_path.open("wb")
    process = subprocess.Popen(serve_command(model, *args), stdout=log, stderr=log,
                               stdin=subprocess.DEVNULL, env=dict(os.environ),
                               cwd=Path(__file__).resolve().parents[2])
    log.close()
    return Served(process, log_path)


def start(model: Path, log_path: Path, *args: str) -> Served:
    """A running server on 127.0.0.1 with a free port, ready to answer."""
    served = launch(model, log_path, "--port", "0", "--threads", "2", *args)
    end = time.monotonic() + START_S
    try:
        while not served.base:
            match = URL.search(served.log())
            if match:
                served.base = match.group(1)
            elif served.process.poll() is not None or time.monotonic() > end:
                raise AssertionError(f"parley serve did not start:\n{served.log()[-3000:]}")
            else:
                time.sleep(0.1)
        served.wait_healthy()
    except BaseException:
        served.stop()
        raise
    return served


def wait_for_text(served: Served, text: str, deadline_s: float = 30.0) -> str:
    """The server's log once `text` appears in it."""
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        log = served.log()
        if text in log:
            return log
        if served.process.poll() is not None:
            break
        time.sleep(0.1)
    raise AssertionError(f"{text!r} not in the server's log:\n{served.log()[-3000:]}")
