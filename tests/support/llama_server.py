"""A real `llama-server` for the tests and the bench: found in the cached tool build (built
first when missing, by tests/perf/build_llama_tools.sh), started on 127.0.0.1 with a free port,
waited for until /health says ok, stopped. Every wait is bounded."""

from __future__ import annotations

import os
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import httpx2

from tests.remote.standin import free_port
from tests.support.processes import stop_process

ROOT = Path(__file__).resolve().parents[2]
BUILD_SCRIPT = ROOT / "tests" / "perf" / "build_llama_tools.sh"
START_S = 90.0
STOP_S = 10.0
CTX = 1024                # the local engine fixture's context


def llama_server_binary() -> Path:
    """llama-server of the cached tool build, or a failure that says the command building it
    (never a silent skip; not built here, since a build takes most of an hour on 2 cores)."""
    import llama_cpp

    binary = ROOT / "tests" / "perf" / "_build" / f"llama.cpp-{llama_cpp.__version__}" / \
        "cmake" / "bin" / "llama-server"
    if not binary.is_file():
        raise AssertionError(f"{binary} is missing: build llama.cpp's tools once with "
                             f"`bash {BUILD_SCRIPT.relative_to(ROOT)}` (or `make bench`)")
    return binary


@dataclass
class LlamaServer:
    process: subprocess.Popen[bytes]
    log_path: Path
    base: str

    def log(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def slots(self) -> list[dict]:
        return httpx2.get(f"{self.base}/slots", timeout=10).json()

    def stop(self) -> None:
        stop_process(self.process, STOP_S)


def start_llama_server(model: Path, log_path: Path, *extra: str, threads: int = 2,
                       slots: int = 1) -> LlamaServer:
    """llama-server on `model`: `slots` slots of CTX tokens each, --slots for the tests to
    look at."""
    port = free_port()
    command = [str(llama_server_binary()), "-m", str(model), "--host", "127.0.0.1",
               "--port", str(port), "-c", str(CTX * slots), "-np", str(slots),
               "-t", str(threads),
               "--slots", "--no-webui", *extra]
    log = log_path.open("wb")
    process = subprocess.Popen(command, stdout=log, stderr=log, stdin=subprocess.DEVNULL,
                               env=dict(os.environ))
    log.close()
    server = LlamaServer(process, log_path, f"http://127.0.0.1:{port}")
    end = time.monotonic() + START_S
    last: object = None
    while time.monotonic() < end:
        if process.poll() is not None:
            raise AssertionError(f"llama-server exited ({process.returncode}):\n"
                                 f"{server.log()[-3000:]}")
        try:
            response = httpx2.get(f"{server.base}/health", timeout=5)
            if response.status_code == 200:
                return server
            last = response.status_code
        except httpx2.HTTPError as exc:
            last = exc
        time.sleep(0.2)
    server.stop()
    raise AssertionError(f"llama-server was not healthy within {START_S:.0f} s ({last!r}):\n"
                         f"{server.log()[-3000:]}")
