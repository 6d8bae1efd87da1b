"""The HTTP side of a remote engine (httpx2): one client per endpoint, statuses and transport
failures turned into the specific errors of `inference.remote.errors`, and a watch that closes
an open stream's socket the moment its cancel fires (so the server frees the slot at once)."""

from __future__ import annotations

import contextlib
import json
import socket
import ssl
import threading
from collections.abc import Iterator
from typing import Any

import httpx2

from inference.common.cancel import CancelToken
from inference.common.errors import Cancelled, InvalidSettingError
from inference.remote.busy import Busy, retry_after_seconds
from inference.remote.endpoint import RemoteEndpoint
from inference.remote.errors import (
    RemoteAuthError,
    RemoteModelNotFoundError,
    RemoteResponseError,
    RemoteTimeoutError,
    RemoteTLSError,
    RemoteUnreachableError,
)

CONNECTED = ("connection.connect_tcp.complete", "connection.start_tls.complete")
MAX_ERROR_BODY = 64 << 10          # bytes of an error response read for its message
MAX_JSON_BODY = 8 << 20            # a model list or /props is far smaller
CANCEL_POLL_S = 0.05
QUICK_READ_S = 15.0                # a model list, /props or /tokenize: asked and answered
BUSY_STATUSES = (429, 503)


class RemoteHTTP:
    """httpx2 client for one endpoint; every call bounded by the endpoint's timeouts."""

    def __init__(self, endpoint: RemoteEndpoint) -> None:
        self.endpoint = endpoint
        t = endpoint.timeouts
        headers = {"Accept": "application/json"}
        if endpoint.api_key:
            headers["Authorization"] = f"Bearer {endpoint.api_key}"
        timeout = httpx2.Timeout(t.read_s, connect=t.connect_s, write=t.read_s, pool=t.connect_s)
        quick = httpx2.Timeout(min(t.read_s, QUICK_READ_S), connect=t.connect_s,
                               pool=t.connect_s)
        self._client = httpx2.Client(headers=headers, follow_redirects=False, timeout=quick)
        # replies: a connection each, which a cancel may shut down (see `stream`)
        self._streams = httpx2.Client(headers=headers, follow_redirects=False, timeout=timeout,
                                      limits=httpx2.Limits(max_keepalive_connections=0))

    def close(self) -> None:
        self._client.close()
        self._streams.close()

    def get_json(self, url: str, *, not_found_ok: bool = False) -> Any:
        """The JSON body of GET `url`; None for a 404 when `not_found_ok` (a probe). Raises
        `Busy` for 429 / 503 (the caller decides how long to wait)."""
        with self._errors(url):
            with self._client.stream("GET", url) as response:
                if not_found_ok and response.status_code in (404, 405):
                    return None
                self._check(response, url)
                return self._json(response, url)

    def post_json(self, url: str, body: dict[str, Any]) -> Any:
        with self._errors(url):
            with self._client.stream("POST", url, json=body) as response:
                self._check(response, url)
                return self._json(response, url)

    @contextlib.contextmanager
    def stream(self, url: str, body: dict[str, Any],
               cancel: CancelToken) -> Iterator[Iterator[str]]:
        """POST `body` and give the response's lines as they arrive; `Busy` for 429 / 503.

        Each stream has a connection of its own, so that a cancel can shut that socket down
        (the read in progress ends at once, even while waiting for the first byte, and the
        server sees the client go); `Cancelled` when that happened before the reply began.
        Failures while the lines are read are httpx2's own: the caller decides what a cut
        stream means."""
        sockets: list[Any] = []

        def trace(name: str, info: dict[str, Any]) -> None:
            if name in CONNECTED:
                sockets.append(info.get("return_value"))

        done = threading.Event()
        watch = threading.Thread(target=_shut_on_cancel, args=(sockets, cancel, done),
                                 name="remote-cancel-watch", daemon=True)
        watch.start()
        try:
            with contextlib.ExitStack() as stack:
                with self._errors(url, cancel):
                    response = stack.enter_context(self._streams.stream(
                        "POST", url, json=body, extensions={"trace": trace}))
                    self._check(response, url)
                yield response.iter_lines()
        finally:
            done.set()
            watch.join(1.0)

    # -- internals -----------------------------------------------------------------------------
    @contextlib.contextmanager
    def _errors(self, url: str, cancel: CancelToken | None = None) -> Iterator[None]:
        """Transport failures before a reply began as one specific error (Cancelled when the
        cancel watch closed the connection)."""
        try:
            yield
        except httpx2.HTTPError as exc:
            if cancel is not None and cancel.cancelled:
                raise Cancelled("the request was cancelled") from None
            raise self._translated(exc, url) from None

    def _translated(self, exc: httpx2.HTTPError, url: str) -> Exception:
        where = self.endpoint.base_url
        t = self.endpoint.timeouts
        if isinstance(exc, httpx2.ConnectTimeout):
            return RemoteTimeoutError(f"Could not connect to {where} within {t.connect_s:g} s "
                                      "(connect timeout): is the host up and the port open?")
        if isinstance(exc, (httpx2.ReadTimeout, httpx2.WriteTimeout, httpx2.PoolTimeout)):
            read = _read_timeout(exc) or t.read_s
            return RemoteTimeoutError(f"{where} accepted the connection but sent nothing for "
                                      f"{read:g} s (read timeout).")
        if isinstance(exc, httpx2.ConnectError) and _is_tls(exc):
            return RemoteTLSError(f"TLS failed with {where}: {transport_reason(exc)}. Check the "
                                  "certificate, or whether the server speaks https at all.")
        if isinstance(exc, httpx2.ConnectError):
            return RemoteUnreachableError(f"Cannot reach {where}: {transport_reason(exc)}. Is "
                                          "the server running, and is the URL right?")
        if isinstance(exc, (httpx2.UnsupportedProtocol, httpx2.InvalidURL)):
            return InvalidSettingError(f"{url} is not a URL Parley can use: {exc}")
        return RemoteUnreachableError(f"{where} closed the connection without answering "
                                      f"({transport_reason(exc)}).")

    def _check(self, response: httpx2.Response, url: str) -> None:
        status = response.status_code
        if status < 300:
            return
        message = _error_message(response)
        where = self.endpoint.base_url
        if status in BUSY_STATUSES:
            raise Busy(status, retry_after_seconds(response.headers.get("retry-after")),
                       message)
        if status in (401, 403):
            what = "no API key was sent" if not self.endpoint.api_key else "the key was refused"
            raise RemoteAuthError(f"{where} answered {status} ({what}): {message}")
        if status == 404:
            raise RemoteModelNotFoundError(f"{where} answered 404 for {url}: {message}")
        raise RemoteResponseError(f"{where} answered {status} for {url}: {message}")

    @staticmethod
    def _json(response: httpx2.Response, url: str) -> Any:
        data = bytearray()
        for chunk in response.iter_bytes():
            data += chunk
            if len(data) > MAX_JSON_BODY:
                raise RemoteResponseError(f"{url} sent more than {MAX_JSON_BODY:,} bytes")
        try:
            return json.loads(data)
        except (ValueError, UnicodeDecodeError):
            raise RemoteResponseError(f"{url} did not answer with JSON: "
                                      f"{_one_line(bytes(data[:200]).decode(errors='replace'))}") \
                from None


def _read_timeout(exc: httpx2.HTTPError) -> float | None:
    """The read timeout the failed request had (quick requests have a shorter one)."""
    try:
        return (exc.request.extensions.get("timeout") or {}).get("read")
    except RuntimeError:                  # an error raised with no request attached
        return None


def _shut_on_cancel(streams: list[Any], cancel: CancelToken, done: threading.Event) -> None:
    """Runs beside a stream: on cancel, shut its socket down, so that both a blocked read and
    the server see the connection end (closing the file alone does neither)."""
    while not done.wait(CANCEL_POLL_S):
        if cancel.cancelled and streams:
            sock = streams[-1].get_extra_info("socket") if streams[-1] is not None else None
            if isinstance(sock, socket.socket):
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
            return


def _error_message(response: httpx2.Response) -> str:
    """The message an error response carries (OpenAI's, llama-server's, vLLM's, FastAPI's or
    Ollama's shape), on one line; the status text when there is none."""
    data = bytearray()
    with contextlib.suppress(httpx2.HTTPError):
        for chunk in response.iter_bytes():
            data += chunk
            if len(data) > MAX_ERROR_BODY:
                break
    text = bytes(data[:MAX_ERROR_BODY]).decode(errors="replace")
    try:
        body = json.loads(text)
    except ValueError:
        return _one_line(text) or response.reason_phrase or f"HTTP {response.status_code}"
    return _one_line(message_of(body)) or response.reason_phrase


def message_of(body: Any) -> str:
    """The human message inside an error body of any of the usual shapes."""
    if isinstance(body, dict):
        for key in ("error", "message", "detail"):
            value = body.get(key)
            if isinstance(value, str):
                return value
            if isinstance(value, dict):
                return message_of(value)
            if isinstance(value, list) and value:
                return message_of(value[0]) if isinstance(value[0], dict) else str(value[0])
        if "msg" in body:
            return str(body["msg"])
    return json.dumps(body)[:300]


def _one_line(text: str, limit: int = 300) -> str:
    line = " ".join(text.split())
    return line if len(line) <= limit else line[: limit - 1] + "…"


def _causes(exc: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


def _is_tls(exc: BaseException) -> bool:
    return any(isinstance(e, ssl.SSLError) or "SSL" in str(e) or "CERTIFICATE" in str(e)
               for e in _causes(exc))


def transport_reason(exc: BaseException) -> str:
    """The deepest cause's words: "[Errno 111] Connection refused" → "connection refused"."""
    for e in reversed(list(_causes(exc))):
        if isinstance(e, OSError) and e.strerror:
            return e.strerror[0].lower() + e.strerror[1:]
    text = str(exc) or type(exc).__name__
    return _one_line(text.split("] ", 1)[-1], 200)
