"""Downloading a GGUF model from the hub: resumable, checked, cancellable, with progress.

The bytes go to `<name>.part` next to the target, fetched with HTTP Range requests from where
the part ends, so an interruption (a dropped connection, Ctrl-C, a pause, a restart of Parley)
loses nothing. A `<name>.part.json` sidecar remembers which file (and sha256) the part belongs
to; a part of some other version starts over. When every byte is there, its sha256 is compared
with the hub's LFS record; a mismatch deletes the part and raises `ChecksumMismatchError`. Only
a checked file gets its final name.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx2

from inference.common.cancel import CancelToken
from inference.common.errors import Cancelled
from inference.hub.progress import DownloadProgress, Meter, ProgressCallback
from inference.hub.search import HubError, HubFile, HubPart, hub_endpoint, hub_errors

__all__ = ["ChecksumMismatchError", "DownloadInterruptedError", "DownloadProgress",
           "ProgressCallback", "discard_partial", "download_model", "part_path",
           "pending_downloads", "targets_for"]

CHUNK = 1 << 20
CONNECT_TIMEOUT_S = 30.0
READ_TIMEOUT_S = 60.0


class ChecksumMismatchError(HubError):
    pass


class DownloadInterruptedError(HubError):
    pass




def part_path(target: Path) -> Path:
    return target.with_name(target.name + ".part")


def targets_for(file: HubFile, dest_dir: Path) -> list[Path]:
    return [dest_dir / p.filename.rsplit("/", 1)[-1] for p in file.parts]


def discard_partial(file: HubFile, dest_dir: Path) -> None:
    """Delete what a cancelled download left (its .part files and their sidecars)."""
    for target in targets_for(file, dest_dir):
        part_path(target).unlink(missing_ok=True)
        _sidecar(target).unlink(missing_ok=True)


def download_model(file: HubFile, dest_dir: Path, *, progress: ProgressCallback | None = None,
                   cancel: CancelToken | None = None, retries: int = 3,
                   retry_wait_s: float = 1.0) -> Path:
    """Download every part of `file` into `dest_dir`; returns the (first) file's path.

    Raises Cancelled (the .part stays, to resume), DownloadInterruptedError after `retries`
    failed resumes, ChecksumMismatchError, HubOfflineError, or another HubError.
    """
    dest_dir.mkdir(parents=True, exist_ok=True)
    meter = Meter(file.name, file.size, progress)
    targets = targets_for(file, dest_dir)
    with hub_errors(file.repo_id):
        for part, target in zip(file.parts, targets, strict=True):
            _Fetch(file, part, target, meter, cancel or CancelToken(), retries,
                   retry_wait_s).run()
    meter.report(force=True)
    return targets[0]


class _Fetch:
    """One file's transfer into its .part, resumed until complete, then checked and renamed."""

    def __init__(self, file: HubFile, part: HubPart, target: Path, meter: Meter,
                 cancel: CancelToken, retries: int, retry_wait_s: float) -> None:
        self.file, self.part, self.target, self.meter = file, part, target, meter
        self.cancel, self.retries, self.retry_wait_s = cancel, retries, retry_wait_s
        self.partial = part_path(target)
        self.hasher = hashlib.sha256()

    def run(self) -> None:
        if self.target.exists():
            self._accept_existing()
            return
        self._start_or_resume()
        failures = 0
        while self.part.size is None or self._have() < self.part.size:
            before = self._have()
            try:
                if self._transfer() == "complete":
                    break
            except httpx2.TransportError as exc:
                connect = isinstance(exc, (httpx2.ConnectError, httpx2.ConnectTimeout))
                if connect and before == 0 and failures >= self.retries:
                    raise                                  # never reached: hub_errors says why
                failures = 1 if self._have() > before else failures + 1
                if failures > self.retries:
                    raise DownloadInterruptedError(
                        f"the download of {self.target.name} was interrupted ({exc}); "
                        f"{self._have():,} bytes are kept: download it again to resume") from None
                self._wait(self.retry_wait_s * failures)
        self._finish()

    # -- steps ---------------------------------------------------------------------------------
    def _have(self) -> int:
        try:
            return self.partial.stat().st_size
        except FileNotFoundError:
            return 0

    def _start_or_resume(self) -> None:
        """Keep a .part of this very file (hashing what it holds); start over otherwise."""
        record = {"repo_id": self.file.repo_id, "filename": self.part.filename,
                  "size": self.part.size, "sha256": self.part.sha256}
        sidecar = _sidecar(self.target)
        try:
            kept = json.loads(sidecar.read_text(encoding="utf-8"))
            same = {k: kept.get(k) for k in record} == record
        except (OSError, ValueError, AttributeError):
            same = False
        have = self._have()
        if not same or (self.part.size is not None and have > self.part.size):
            self.partial.unlink(missing_ok=True)
            sidecar.write_text(json.dumps(record | {"model": _model_record(self.file)}),
                               encoding="utf-8")
            return
        with self.partial.open("rb") as f:
            while block := f.read(CHUNK):
                self._check_cancel()
                self.hasher.update(block)
                self.meter.set_current(self.meter.current + len(block), moving=False)

    def _transfer(self) -> str:
        from huggingface_hub import hf_hub_url
        from huggingface_hub.utils import build_hf_headers, get_session, hf_raise_for_status

        offset = self._have()
        url = hf_hub_url(self.file.repo_id, self.part.filename, revision=self.file.revision,
                         endpoint=hub_endpoint())
        headers = build_hf_headers()
        if offset:
            headers["Range"] = f"bytes={offset}-"
        timeout = httpx2.Timeout(CONNECT_TIMEOUT_S, read=READ_TIMEOUT_S)
        with get_session().stream("GET", url, headers=headers, timeout=timeout,
                                  follow_redirects=True) as response:
            if response.status_code == 416 and offset:   # nothing past the end: it is all here
                return "complete"
            if response.status_code >= 400:
                response.read()
                hf_raise_for_status(response)
            if offset and not _resumes_at(response, offset):
                self.partial.unlink(missing_ok=True)      # the server sent it all: start over
                self.hasher = hashlib.sha256()
                self.meter.set_current(0, moving=False)
            with self.partial.open("ab") as out:
                for block in response.iter_bytes():
                    self._check_cancel()
                    out.write(block)
                    self.hasher.update(block)
                    self.meter.set_current(self.meter.current + len(block))
        return "complete" if self.part.size is None else "more"

    def _finish(self) -> None:
        have = self._have()
        if self.part.size is not None and have != self.part.size:
            self.partial.unlink(missing_ok=True)
            _sidecar(self.target).unlink(missing_ok=True)
            raise HubError(f"{self.target.name}: the hub sent {have:,} bytes, expected "
                           f"{self.part.size:,}; the partial file was removed")
        digest = self.hasher.hexdigest()
        if self.part.sha256 and digest != self.part.sha256.lower():
            self.partial.unlink(missing_ok=True)
            _sidecar(self.target).unlink(missing_ok=True)
            raise ChecksumMismatchError(
                f"{self.target.name} failed its checksum: sha256 {digest[:16]}… does not match "
                f"the hub's {self.part.sha256[:16]}…; the file was removed. Try downloading "
                "it again.")
        os.replace(self.partial, self.target)
        _sidecar(self.target).unlink(missing_ok=True)
        self.meter.part_done(have)

    def _accept_existing(self) -> None:
        """A file of that name is already there: fine if it is this very file."""
        size = self.target.stat().st_size
        same = self.part.size is None or size == self.part.size
        if same and self.part.sha256:
            same = _sha256(self.target, self._check_cancel) == self.part.sha256.lower()
        if not same:
            raise HubError(f"{self.target.name} is already in the models folder but is a "
                           "different file; delete or rename it first")
        self.meter.part_done(size)

    def _check_cancel(self) -> None:
        if self.cancel.cancelled:
            raise Cancelled()

    def _wait(self, seconds: float) -> None:
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            self._check_cancel()
            time.sleep(min(0.05, max(0.0, end - time.monotonic())))


def _resumes_at(response: Any, offset: int) -> bool:
    """Whether a response is the 206 continuing at `offset`."""
    if response.status_code != 206:
        return False
    content_range = response.headers.get("Content-Range", "")
    return content_range.startswith(f"bytes {offset}-")


def pending_downloads(dest_dir: Path) -> list[HubFile]:
    """Downloads a previous run left unfinished in `dest_dir` (from their .part.json files)."""
    found: dict[tuple[str, str], HubFile] = {}
    for sidecar in sorted(dest_dir.glob("*.part.json")):
        try:
            model = json.loads(sidecar.read_text(encoding="utf-8"))["model"]
            file = HubFile(model["repo_id"], model["filename"], model["quant"],
                           tuple(HubPart(*p) for p in model["parts"]), model["revision"])
        except (OSError, ValueError, KeyError, TypeError):
            continue
        found.setdefault((file.repo_id, file.filename), file)
    return list(found.values())


def _model_record(file: HubFile) -> dict[str, Any]:
    return {"repo_id": file.repo_id, "filename": file.filename, "quant": file.quant,
            "revision": file.revision,
            "parts": [[p.filename, p.size, p.sha256] for p in file.parts]}


def _sidecar(target: Path) -> Path:
    return target.with_name(target.name + ".part.json")


def _sha256(path: Path, check: Callable[[], None]) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while block := f.read(CHUNK):
            check()
            digest.update(block)
    return digest.hexdigest()

