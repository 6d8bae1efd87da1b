"""RPC server addresses (`host:port`): parsed, validated, and probed before native code sees them.

llama.cpp's RPC client ends the whole process (`GGML_ABORT`) when a server cannot be reached,
refuses the handshake, or speaks another protocol version, and it waits without a deadline on a
server that accepts the connection but never answers (`rpc-server` serves one client at a time, so
a busy one does just that). So before the native client connects, `probe` does the same HELLO
handshake in Python with a bounded timeout and turns each of those cases into one line that names
the server. It is hand-written because it must run before, and instead of, the native client.

The wire format is ggml-rpc.cpp's (llama.cpp vendored in llama-cpp-python 0.3.36, protocol 7.0):
request `| cmd (1 byte) | size (u64 LE) | data |`, response `| size (u64 LE) | data |`; HELLO is
command 14 with 24 bytes of transport capabilities (zeros: plain TCP), answered by major, minor,
patch, padding and 24 bytes of the server's capabilities. No native code is imported here.
"""

from __future__ import annotations

import socket
import struct
from dataclasses import dataclass

from inference.common.errors import InvalidSettingError, ModelLoadError

RPC_PROTO_MAJOR = 7          # ggml-rpc.h RPC_PROTO_MAJOR_VERSION of the vendored llama.cpp
RPC_PROTO_MINOR = 0          # … RPC_PROTO_MINOR_VERSION: a server may not be newer than this
RPC_CMD_HELLO = 14           # ggml-rpc.cpp: "RPC_CMD_HELLO must be always 14"
CONN_CAPS_SIZE = 24          # transport.h RPC_CONN_CAPS_SIZE
HELLO_REPLY_SIZE = 4 + CONN_CAPS_SIZE
PROBE_TIMEOUT_S = 3.0        # connect and handshake, each
TRUST_NOTE = ("RPC has no authentication or encryption: use it only on a network you trust, "
              "and never expose rpc-server to the internet.")


class RpcServerError(ModelLoadError):
    """An RPC server cannot be used: not reachable, busy, or another protocol version."""


@dataclass(frozen=True)
class RpcEndpoint:
    host: str
    port: int

    def __str__(self) -> str:
        return f"{self.host}:{self.port}"


def parse_endpoint(text: str) -> RpcEndpoint:
    """`host:port`, or one InvalidSettingError line. llama.cpp's client splits at the first
    colon, so an IPv6 address (which it would abort on) is refused here."""
    value = text.strip()
    host, sep, port_text = value.partition(":")
    if host.startswith("[") or (sep and ":" in port_text):
        raise InvalidSettingError(
            f"RPC server {text!r}: llama.cpp's RPC client takes no IPv6 address; use a host "
            f"name or an IPv4 address")
    if not sep or not host or not port_text or any(c.isspace() for c in host):
        raise InvalidSettingError(
            f"RPC server must be host:port (for example 192.168.1.20:50052), got {text!r}")
    if not port_text.isdigit() or not 1 <= int(port_text) <= 65535:
        raise InvalidSettingError(
            f"RPC server port must be a number from 1 to 65535, got {text!r}")
    return RpcEndpoint(host, int(port_text))


def normalize_servers(values: object) -> tuple[str, ...]:
    """Each server validated and written as `host:port`; duplicates are refused (llama.cpp would
    count one server twice). Accepts a tuple or list of strings, or one comma-separated string."""
    if isinstance(values, str):
        values = [v for v in values.replace("\n", ",").split(",") if v.strip()]
    if not isinstance(values, (tuple, list)):
        raise InvalidSettingError(f"RPC servers must be a list of host:port, got {values!r}")
    out: list[str] = []
    for value in values:
        if not isinstance(value, str):
            raise InvalidSettingError(f"RPC server must be host:port, got {value!r}")
        endpoint = str(parse_endpoint(value))
        if endpoint in out:
            raise InvalidSettingError(f"RPC server {endpoint} is listed twice")
        out.append(endpoint)
    return tuple(out)


def probe(server: str, timeout_s: float = PROBE_TIMEOUT_S) -> None:
    """Connect to `server` and do the HELLO handshake, within `timeout_s` each; raise one
    RpcServerError line saying what is wrong. Closing the connection afterwards frees the server
    for the native client's own connection."""
    endpoint = parse_endpoint(server)
    try:
        sock = socket.create_connection((endpoint.host, endpoint.port), timeout=timeout_s)
    except TimeoutError:
        raise RpcServerError(f"RPC server {endpoint} did not accept a connection within "
                             f"{timeout_s:g} s (wrong address, or a firewall)") from None
    except ConnectionRefusedError:
        raise RpcServerError(f"RPC server {endpoint} refused the connection (is rpc-server "
                             f"running there, on that port?)") from None
    except OSError as err:
        raise RpcServerError(f"RPC server {endpoint} cannot be reached: "
                             f"{err.strerror or err}") from None
    with sock:
        sock.settimeout(timeout_s)
        try:
            sock.sendall(struct.pack("<BQ", RPC_CMD_HELLO, CONN_CAPS_SIZE)
                         + bytes(CONN_CAPS_SIZE))
            reply = _receive(sock, 8 + HELLO_REPLY_SIZE)
        except TimeoutError:
            raise RpcServerError(f"RPC server {endpoint} accepted the connection but did not "
                                 f"answer within {timeout_s:g} s: an rpc-server serves one "
                                 f"client at a time (is a model loaded over it, here or "
                                 f"elsewhere?)") from None
        except OSError as err:
            raise RpcServerError(f"RPC server {endpoint} closed the connection during the "
                                 f"handshake ({err.strerror or err}): it is not an rpc-server "
                                 f"of this llama.cpp version") from None
    _check_hello(endpoint, reply)


def _receive(sock: socket.socket, n: int) -> bytes:
    data = b""
    while len(data) < n:
        chunk = sock.recv(n - len(data))
        if not chunk:
            raise ConnectionAbortedError(0, "it closed the connection")
        data += chunk
    return data


def _check_hello(endpoint: RpcEndpoint, reply: bytes) -> None:
    (size,) = struct.unpack_from("<Q", reply)
    if size != HELLO_REPLY_SIZE:
        raise RpcServerError(f"RPC server {endpoint} answered the handshake in an unknown "
                             f"format: it is not an rpc-server of this llama.cpp version")
    major, minor, patch = reply[8], reply[9], reply[10]
    if major != RPC_PROTO_MAJOR or minor > RPC_PROTO_MINOR:
        raise RpcServerError(
            f"RPC server {endpoint} speaks RPC protocol {major}.{minor}.{patch}, this llama.cpp "
            f"speaks {RPC_PROTO_MAJOR}.{RPC_PROTO_MINOR}: build rpc-server from the same "
            f"llama.cpp sources (see the README)")
