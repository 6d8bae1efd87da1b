"""RPC server addresses and the bounded handshake probe, against stand-ins on 127.0.0.1 for the
failures a real rpc-server cannot be made to show (silence, another protocol version)."""

from __future__ import annotations

import socket
import struct
import threading
import time
from collections.abc import Iterator

import pytest

from inference.common.errors import InvalidSettingError
from inference.common.rpc_endpoints import (
    CONN_CAPS_SIZE,
    HELLO_REPLY_SIZE,
    RpcServerError,
    normalize_servers,
    parse_endpoint,
    probe,
)
from inference.engine.config import ModelConfig
from tests.support.rpc_servers import free_port


@pytest.mark.parametrize("text", ["host", "host:", ":50052", "host:0", "host:65536",
                                  "host:port", "a b:1", "::1:50052", ""])
def test_a_bad_address_is_one_line(text: str) -> None:
    with pytest.raises(InvalidSettingError) as err:
        parse_endpoint(text)
    assert "\n" not in str(err.value) and repr(text) in str(err.value)


def test_addresses_are_normalised_and_checked() -> None:
    assert normalize_servers(" 10.0.0.2:50052 ,\ngpu-box:7000\n") == ("10.0.0.2:50052",
                                                                    "gpu-box:7000")
    with pytest.raises(InvalidSettingError, match="no IPv6"):   # llama.cpp would abort on it
        normalize_servers("[::1]:50052")
    assert normalize_servers(["gpu-box:50052"]) == ("gpu-box:50052",)
    with pytest.raises(InvalidSettingError, match="listed twice"):
        normalize_servers("a:1,a:1")
    with pytest.raises(InvalidSettingError, match="host:port"):
        ModelConfig("model.gguf", rpc_servers=("nohost",))
    assert ModelConfig("model.gguf", rpc_servers=["b:2"]).rpc_servers == ("b:2",)


@pytest.fixture
def stand_in() -> Iterator[tuple[socket.socket, list[bytes]]]:
    """A listening socket on 127.0.0.1; the test decides what its one client gets."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    yield server, []
    server.close()


def _serve_once(server: socket.socket, reply: bytes | None, hold_s: float = 0.0) -> None:
    def serve() -> None:
        conn, _ = server.accept()
        with conn:
            conn.recv(1 + 8 + CONN_CAPS_SIZE)
            if reply is not None:
                conn.sendall(reply)
            time.sleep(hold_s)
    threading.Thread(target=serve, daemon=True).start()


def test_a_refused_port_is_named() -> None:
    port = free_port()
    with pytest.raises(RpcServerError, match=f"127.0.0.1:{port} refused the connection"):
        probe(f"127.0.0.1:{port}")


def test_a_silent_server_times_out_without_hanging(stand_in) -> None:
    server, _ = stand_in
    _serve_once(server, None, hold_s=3)
    started = time.monotonic()
    with pytest.raises(RpcServerError, match="within 0.5 s: an rpc-server serves one"):
        probe(f"127.0.0.1:{server.getsockname()[1]}", timeout_s=0.5)
    assert time.monotonic() - started < 2


def test_another_protocol_version_is_named(stand_in) -> None:
    server, _ = stand_in
    _serve_once(server, struct.pack("<Q", HELLO_REPLY_SIZE) + bytes([3, 0, 0, 0])
                + bytes(CONN_CAPS_SIZE))
    with pytest.raises(RpcServerError, match=r"speaks RPC protocol 3\.0\.0"):
        probe(f"127.0.0.1:{server.getsockname()[1]}")


def test_a_server_that_hangs_up_is_not_an_rpc_server(stand_in) -> None:
    server, _ = stand_in
    _serve_once(server, b"")
    with pytest.raises(RpcServerError, match="not an rpc-server"):
        probe(f"127.0.0.1:{server.getsockname()[1]}")


def test_this_build_has_the_rpc_backend_and_a_build_without_it_says_how_to_rebuild(
        monkeypatch: pytest.MonkeyPatch) -> None:
    from inference.llama import rpc
    from inference.llama.native import ensure_backend, gpu_offload_supported

    ensure_backend()
    assert rpc.rpc_supported()                     # the Makefile builds with -DGGML_RPC=ON
    assert gpu_offload_supported() is bool(rpc.local_offload_devices())   # RPC is not a GPU
    monkeypatch.setattr(rpc, "_rpc_registry", lambda: None)   # what a build without RPC says
    with pytest.raises(rpc.NoRpcBackendError, match=r"-DGGML_RPC=ON \(make rebuild-llama"):
        rpc.rpc_devices(["127.0.0.1:50052"])
    assert rpc.rpc_devices([]) == []               # no servers: nothing asked at all
