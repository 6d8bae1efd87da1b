"""A stand-in OpenAI-compatible server on 127.0.0.1 (http.server in a thread) that misbehaves
on purpose: refuses keys, stays busy, cuts a stream, never answers. Its answers have the shapes
llama-server sends (checked against the real one in test_llama_server.py)."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

MODEL = "stand-in-model"


@dataclass
class Script:
    """How the stand-in behaves; the tests change it between requests."""

    key: str = ""                          # "" : no key needed
    busy: int = 0                          # answer this many generation requests with 503
    retry_after: str = "0.2"
    pieces: tuple[str, ...] = ("Hello", ",", " world", "!")
    reasoning: tuple[str, ...] = ()        # sent first as reasoning_content deltas
    cut_after: int | None = None           # close the connection after this many chunks
    silent: bool = False                   # accept, read the request, then say nothing
    chunk_gap_s: float = 0.0
    models: tuple[str, ...] = (MODEL,)
    owned_by: str = "llamacpp"
    props: bool = True                     # answer llama-server's /props
    seen: list[dict[str, Any]] = field(default_factory=list)     # request bodies
    paths: list[str] = field(default_factory=list)               # every request, in order
    ended: list[str] = field(default_factory=list)   # how each stream ended: done / client gone


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def setup(self) -> None:
        super().setup()           # small chunks go out at once (no Nagle wait for an ACK)
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, *_args: Any) -> None:      # quiet
        return None

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        script = self.server.script
        script.paths.append(f"GET {self.path}")
        if not self._authorised(script):
            return
        if self.path == "/v1/models":
            self._json(200, {"object": "list", "data": [
                {"id": m, "object": "model", "owned_by": script.owned_by} for m in
                script.models]})
        elif self.path == "/props" and script.props:
            self._json(200, {"default_generation_settings": {"n_ctx": 2048}})
        else:
            self._json(404, {"error": {"message": f"no route {self.path}", "code": 404}})

    def do_POST(self) -> None:  # noqa: N802
        script = self.server.script
        script.paths.append(f"POST {self.path}")
        length = int(self.headers.get("content-length") or 0)
        body = json.loads(self.rfile.read(length) or b"{}")
        script.seen.append(body)
        if not self._authorised(script):
            return
        if script.silent:
            time.sleep(30)                            # the client's read timeout ends it first
            return
        if script.busy > 0:
            script.busy -= 1
            self._json(503, {"error": {"message": "Loading model", "code": 503}},
                       {"Retry-After": script.retry_after})
            return
        if body.get("model") not in script.models:
            self._json(404, {"error": {"message": f"model {body.get('model')!r} not found"}})
            return
        self._stream(script, body)

    # -- answers ------------------------------------------------------------------------------
    def _authorised(self, script: Script) -> bool:
        if script.key and self.headers.get("authorization") != f"Bearer {script.key}":
            self._json(401, {"error": {"message": "Invalid API Key",
                                       "type": "authentication_error"}})
            return False
        return True

    def _json(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def _stream(self, script: Script, body: dict[str, Any]) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        try:
            for n, event in enumerate(_events(script, body)):
                if script.cut_after is not None and n == script.cut_after:
                    self.connection.shutdown(socket.SHUT_RDWR)    # no terminating chunk
                    script.ended.append("cut")
                    return
                data = event.encode()
                self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
                self.wfile.flush()
                time.sleep(script.chunk_gap_s)
            self.wfile.write(b"0\r\n\r\n")
            script.ended.append("done")
        except OSError:
            script.ended.append("client gone")


def _events(script: Script, body: dict[str, Any]) -> Iterator[str]:
    chat = "messages" in body
    for text in script.reasoning:
        yield _sse({"choices": [{"index": 0, "delta": {"reasoning_content": text},
                                 "finish_reason": None}]})
    for text in script.pieces:
        choice = ({"index": 0, "delta": {"content": text}, "finish_reason": None} if chat
                  else {"index": 0, "text": text, "finish_reason": None})
        yield _sse({"choices": [choice]})
    last = {"index": 0, "delta": {}, "finish_reason": "stop"} if chat else \
        {"index": 0, "text": "", "finish_reason": "stop"}
    yield _sse({"choices": [last]})
    n = len(script.pieces) + len(script.reasoning)
    yield _sse({"choices": [], "usage": {"prompt_tokens": 7, "completion_tokens": n,
                                         "total_tokens": 7 + n}})
    yield "data: [DONE]\n\n"


def _sse(data: dict[str, Any]) -> str:
    return f"data: {json.dumps(data)}\n\n"


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    script: Script


@dataclass
class StandIn:
    server: _Server
    thread: threading.Thread

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    @property
    def script(self) -> Script:
        return self.server.script

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5)


def start_standin(script: Script | None = None) -> StandIn:
    server = _Server(("127.0.0.1", 0), _Handler)
    server.script = script or Script()
    thread = threading.Thread(target=server.serve_forever, name="stand-in", daemon=True)
    thread.start()
    return StandIn(server, thread)


def free_port() -> int:
    """A port nothing listens on (bound, then closed)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
