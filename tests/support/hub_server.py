"""A stand-in Hugging Face hub on 127.0.0.1 for tests (no test ever reaches the real hub).

It serves the endpoints huggingface_hub 2.x and Parley's downloader call, in the shapes the real
hub answers with:

* `GET /api/models?search=…&filter=gguf&sort=…&limit=…`            model search
* `GET /api/models/{repo}` and `/api/models/{repo}/revision/{rev}`    (`?blobs=true`: sizes, LFS)
* `GET /api/models/{repo}/tree/{rev}[/{path}]?recursive=…&expand=…`  file tree with LFS records
* `GET /{repo}/resolve/{rev}/{file}` → 302 to `/_blobs/{repo}/{file}` (the real hub redirects LFS
  files to a CDN), which serves bytes with `Range` support (206 / 416).

Knobs: `drop_at[file] = [offsets]` closes the connection once the stream reaches each offset (one
per request), `bad_sha256[file]` makes the hub record a wrong checksum, `delay_s` slows every
64 KiB block. `requests` records what was asked, Range headers included.

Misbehaving modes (each one file's): `short_200[file] = n` answers every request, Range or not,
with a 200 and only the first n bytes; `no_size` leaves the size out of the listing (info, tree
and LFS record); `no_sha256` lists the file with no LFS record (so no sha256);
`extra_bytes[file] = n` sends n bytes more than the file has (and announces them); `no_length`
sends the body with no Content-Length, until the connection closes; `missing_blob` answers 404
for the file (at /resolve) although it is listed. Every blob request past `blob_limit` is
answered 429 (and counted in `over_limit`), so a client that loops can't run on for ever.
"""

from __future__ import annotations

import hashlib
import json
import re
import socket
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import pytest

BLOCK = 64 * 1024


@dataclass
class Repo:
    repo_id: str
    files: dict[str, bytes]
    downloads: int = 0
    likes: int = 0
    tags: tuple[str, ...] = ("gguf", "text-generation")


@dataclass
class StandInHub:
    repos: dict[str, Repo] = field(default_factory=dict)
    drop_at: dict[str, list[int]] = field(default_factory=dict)
    bad_sha256: dict[str, str] = field(default_factory=dict)
    delay_s: float = 0.0
    short_200: dict[str, int] = field(default_factory=dict)
    no_size: set[str] = field(default_factory=set)
    no_sha256: set[str] = field(default_factory=set)
    extra_bytes: dict[str, int] = field(default_factory=dict)
    missing_blob: set[str] = field(default_factory=set)
    no_length: set[str] = field(default_factory=set)
    blob_limit: int = 200
    over_limit: int = 0
    requests: list[dict[str, Any]] = field(default_factory=list)
    url: str = ""
    _server: ThreadingHTTPServer | None = None

    def add_repo(self, repo_id: str, files: Mapping[str, bytes], *, downloads: int = 0,
                 likes: int = 0, tags: tuple[str, ...] = ("gguf", "text-generation")) -> Repo:
        repo = Repo(repo_id, dict(files), downloads, likes, tags)
        self.repos[repo_id] = repo
        return repo

    def sha256(self, repo_id: str, path: str) -> str:
        if path in self.bad_sha256:
            return self.bad_sha256[path]
        return hashlib.sha256(self.repos[repo_id].files[path]).hexdigest()

    def downloads_of(self, path: str) -> list[dict[str, Any]]:
        return [r for r in self.requests if r["path"].startswith("/_blobs/")
                and r["path"].endswith("/" + path)]

    def start(self) -> StandInHub:
        hub = self

        class Handler(_Handler):
            state = hub

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                         daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    state: StandInHub

    def log_message(self, *_args: Any) -> None:       # quiet
        pass

    def do_GET(self) -> None:  # noqa: N802
        split = urlsplit(self.path)
        path, query = unquote(split.path), parse_qs(split.query)
        self.state.requests.append({"method": "GET", "path": path, "query": query,
                                    "range": self.headers.get("Range")})
        routes = [
            (r"^/api/models$", self._search),
            (r"^/api/models/(?P<repo>[^/]+/[^/]+)/tree/(?P<rev>[^/]+)(?:/(?P<sub>.*))?$",
             self._tree),
            (r"^/api/models/(?P<repo>[^/]+/[^/]+)(?:/revision/(?P<rev>[^/]+))?$", self._info),
            (r"^/_blobs/(?P<repo>[^/]+/[^/]+)/(?P<file>.+)$", self._blob),
            (r"^/(?P<repo>[^/]+/[^/]+)/resolve/(?P<rev>[^/]+)/(?P<file>.+)$", self._resolve),
        ]
        for pattern, handler in routes:
            m = re.match(pattern, path)
            if m:
                handler(query, **{k: v for k, v in m.groupdict().items()})
                return
        self._json({"error": "not found"}, 404)

    # -- API -----------------------------------------------------------------------------------
    def _search(self, query: dict[str, list[str]]) -> None:
        words = query.get("search", [""])[0].lower()
        wanted = set(query.get("filter", []))
        found = [r for r in self.state.repos.values()
                 if words in r.repo_id.lower() and wanted <= set(r.tags)]
        found.sort(key=lambda r: -r.downloads)
        limit = int(query.get("limit", ["1000"])[0])
        self._json([{"_id": r.repo_id, "id": r.repo_id, "modelId": r.repo_id,
                     "likes": r.likes, "downloads": r.downloads, "tags": list(r.tags),
                     "pipeline_tag": "text-generation", "library_name": "gguf",
                     "private": False, "createdAt": "2025-01-02T03:04:05.000Z"}
                    for r in found[:limit]])

    def _info(self, query: dict[str, list[str]], repo: str, rev: str | None) -> None:
        r = self._repo(repo)
        if r is None:
            return
        blobs = query.get("blobs", ["false"])[0].lower() == "true"
        siblings = []
        for path, data in r.files.items():
            sib: dict[str, Any] = {"rfilename": path}
            if blobs:
                sib.update(blobId=hashlib.sha1(data).hexdigest(), size=len(data))
                if path.endswith(".gguf") and path not in self.state.no_sha256:
                    sib["lfs"] = {"size": len(data), "sha256": self.state.sha256(repo, path),
                                  "pointerSize": 134}
                if path in self.state.no_size:
                    sib.pop("size")
                    sib.get("lfs", {}).pop("size", None)
            siblings.append(sib)
        self._json({"_id": repo, "id": repo, "modelId": repo, "author": repo.split("/")[0],
                    "sha": "0" * 40, "lastModified": "2025-01-02T03:04:05.000Z",
                    "private": False, "disabled": False, "gated": False,
                    "downloads": r.downloads, "likes": r.likes, "tags": list(r.tags),
                    "library_name": "gguf", "siblings": siblings})

    def _tree(self, query: dict[str, list[str]], repo: str, rev: str, sub: str | None) -> None:
        r = self._repo(repo)
        if r is None:
            return
        entries = []
        for path, data in sorted(r.files.items()):
            entry: dict[str, Any] = {"type": "file", "oid": hashlib.sha1(data).hexdigest(),
                                     "size": len(data), "path": path}
            if path.endswith(".gguf") and path not in self.state.no_sha256:
                entry["lfs"] = {"oid": self.state.sha256(repo, path), "size": len(data),
                                "pointerSize": 134}
            if path in self.state.no_size:
                entry.pop("size")
                entry.get("lfs", {}).pop("size", None)
            entries.append(entry)
        self._json(entries)

    def _resolve(self, _query: dict[str, list[str]], repo: str, rev: str, file: str) -> None:
        r = self._repo(repo)
        if r is None:
            return
        if file not in r.files or file in self.state.missing_blob:
            self._json({"error": "Entry not found"}, 404, {"X-Error-Code": "EntryNotFound"})
            return
        self.send_response(302)
        self.send_header("Location", f"/_blobs/{repo}/{file}")
        self.send_header("X-Repo-Commit", "0" * 40)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def _blob(self, _query: dict[str, list[str]], repo: str, file: str) -> None:
        if len(self.state.downloads_of(file)) > self.state.blob_limit:
            self.state.over_limit += 1
            self._json({"error": "Too many requests"}, 429)
            return
        data = self.state.repos[repo].files[file] + b"\xee" * self.state.extra_bytes.get(file, 0)
        if file in self.state.short_200:
            self._short_200(data[:self.state.short_200[file]])
            return
        start, total = 0, len(data)
        spec = self.headers.get("Range")
        if spec:
            m = re.match(r"bytes=(\d+)-(\d*)$", spec)
            start = int(m.group(1)) if m else 0
            if start >= total:
                self.send_response(416)
                self.send_header("Content-Range", f"bytes */{total}")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{total - 1}/{total}")
        else:
            self.send_response(200)
        if file in self.state.no_length:
            self.send_header("Connection", "close")
            self.close_connection = True
        else:
            self.send_header("Content-Length", str(total - start))
        self.send_header("Accept-Ranges", "bytes")
        self.end_headers()
        drops = self.state.drop_at.get(file) or []
        stop = drops.pop(0) if drops else None
        for offset, block in _blocks(data, start):
            if stop is not None and offset + len(block) > stop:
                self.wfile.write(block[:max(0, stop - offset)])
                self.wfile.flush()
                self.connection.shutdown(socket.SHUT_RDWR)
                self.close_connection = True
                return
            if self.state.delay_s:
                threading.Event().wait(self.state.delay_s)
            try:
                self.wfile.write(block)
            except OSError:                       # the client went away (paused, cancelled)
                self.close_connection = True
                return

    def _short_200(self, data: bytes) -> None:
        """A 200 with a short body, whatever Range was asked for."""
        self.send_response(200)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    # -- helpers -------------------------------------------------------------------------------
    def _repo(self, repo: str) -> Repo | None:
        r = self.state.repos.get(repo)
        if r is None:
            self._json({"error": "Repository not found"}, 404, {"X-Error-Code": "RepoNotFound"})
        return r

    def _json(self, data: Any, status: int = 200, headers: dict[str, str] | None = None) -> None:
        body = json.dumps(data).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(body)


def _blocks(data: bytes, start: int) -> Iterator[tuple[int, bytes]]:
    for offset in range(start, len(data), BLOCK):
        yield offset, data[offset:offset + BLOCK]


@pytest.fixture
def stand_in_hub(monkeypatch: pytest.MonkeyPatch) -> Iterator[StandInHub]:
    """A running stand-in hub with HF_ENDPOINT pointing at it (and no token sent)."""
    hub = StandInHub().start()
    monkeypatch.setenv("HF_ENDPOINT", hub.url)
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.delenv("HF_TOKEN", raising=False)
    monkeypatch.setenv("HF_HUB_DISABLE_IMPLICIT_TOKEN", "1")
    try:
        yield hub
    finally:
        hub.stop()
