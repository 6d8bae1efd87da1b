"""Real llama.cpp `rpc-server` processes on 127.0.0.1, for the RPC tests and the RPC bench.

The binary is the one tests/perf/build_llama_tools.sh builds from the llama.cpp sources vendored
in the installed llama-cpp-python (so it speaks this build's RPC protocol). A missing binary is a
failure naming the command that builds it, never a skip.
"""

from __future__ import annotations

import contextlib
import glob
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from inference.common.rpc_endpoints import RpcServerError, probe

ROOT = Path(__file__).resolve().parents[2]
BUILD_COMMAND = "tests/perf/build_llama_tools.sh"
READY_S = 30.0


class MissingRpcServer(RuntimeError):
    """rpc-server has not been built."""


def rpc_server_binary() -> Path:
    found = sorted(glob.glob(str(ROOT / "tests/perf/_build/llama.cpp-*/cmake/bin/rpc-server")))
    if not found:
        raise MissingRpcServer(f"rpc-server is not built: run {BUILD_COMMAND} (it builds "
                               f"rpc-server and llama-server from llama-cpp-python's llama.cpp)")
    return Path(found[-1])


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class RpcServer:
    """One rpc-server process; `endpoint` is what --rpc takes."""

    port: int
    log_path: Path
    proc: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    @property
    def endpoint(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self, threads: int = 1) -> RpcServer:
        binary = rpc_server_binary()
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen(
                [str(binary), "--host", "127.0.0.1", "--port", str(self.port),
                 "--threads", str(threads)], stdout=log, stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL)
        self.wait_ready()
        return self

    def wait_ready(self) -> None:
        deadline = time.monotonic() + READY_S
        while True:
            assert self.proc is not None
            if self.proc.poll() is not None:
                raise RuntimeError(f"rpc-server on port {self.port} exited "
                                   f"({self.proc.returncode}): {self.log_path.read_text()[-500:]}")
            try:
                probe(self.endpoint, timeout_s=2.0)
                return
            except RpcServerError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.kill()


@contextlib.contextmanager
def running_rpc_servers(count: int, log_dir: Path, threads: int = 1) -> Iterator[list[RpcServer]]:
    """`count` rpc-servers on free ports of 127.0.0.1, stopped on the way out."""
    servers: list[RpcServer] = []
    try:
        for i in range(count):
            port = free_port()
            servers.append(RpcServer(port, log_dir / f"rpc-server-{i}-{port}.log").start(threads))
        yield servers
    finally:
        for server in servers:
            server.stop()
