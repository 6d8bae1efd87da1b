"""Downloading a GGUF model from the hub: resumable, checked, cancellable, with progress.

Before any request, every part's name must be a plain file name on every platform
(`names.local_name`) and the disk must have room for what is known of the size, with a margin
(`disk.check_free_space`). The bytes go to `<name>.part` next to the target, fetched with HTTP
Range requests from where the part ends, so an interruption (a dropped connection, Ctrl-C, a
pause, a restart of Parley) loses nothing. A `<name>.part.json` sidecar, written with the first
byte, remembers which file (and sha256) the part belongs to; a part of some other version starts
over. Failed requests back off and give up (`retries`). More bytes than announced stop the
download at once. When every byte is there, the size is compared with the hub's (always, where it
is known) and the sha256 with the hub's LFS record (where there is one); only a checked file gets
its final name, and `<name>.download.json` (`inference.library.provenance`) records what was
checked. A fatal error (a size or checksum mismatch, a write failure, a file the hub no longer
has) removes the part and its sidecar; a cancel or an interruption keeps them, to resume.
"""

from __future__ import annotations

import hashlib
import logging
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx2

from inference.common.cancel import CancelToken
from inference.common.errors import Cancelled
from inference.hub.disk import DiskSpaceError, check_free_space, write_failed
from inference.hub.names import UnsafeFileNameError
from inference.hub.parts import (
    discard,
    discard_partial,
    kept_part_matches,
    part_path,
    pending_downloads,
    sidecar_path,
    sidecar_text,
    size_of,
    targets_for,
)
from inference.hub.progress import DownloadProgress, Meter, ProgressCallback
from inference.hub.retries import DownloadInterruptedError, Failures, RetryPolicy
from inference.hub.search import HubError, HubFile, HubPart, hub_endpoint, hub_errors
from inference.library.provenance import DownloadCheck, weakest_check, write_record

__all__ = ["ChecksumMismatchError", "DiskSpaceError", "DownloadCheck",
           "DownloadInterruptedError", "DownloadProgress", "ProgressCallback",
           "UnsafeFileNameError", "discard_partial", "download_check", "download_model",
           "part_path", "pending_downloads", "targets_for"]

log = logging.getLogger("parley.downloads")
CHUNK = 1 << 20
CONNECT_TIMEOUT_S = 30.0
READ_TIMEOUT_S = 60.0
RETRY_STATUSES = {408, 425, 429, 500, 502, 503, 504}
KEEP_PART_STATUSES = {401, 403}            # log in (or accept the terms) and resume


class ChecksumMismatchError(HubError):
    pass


def download_check(file: HubFile, dest_dir: Path) -> DownloadCheck:
    """What was checked of a downloaded file (every part): its records, or where one could not
    be written, what the hub listed for it."""
    recorded = weakest_check(targets_for(file, dest_dir))
    if recorded is not None:
        return recorded
    if file.verifiable:
        return DownloadCheck.SHA256
    return DownloadCheck.SIZE if file.size is not None else DownloadCheck.NONE


def download_model(file: HubFile, dest_dir: Path, *, progress: ProgressCallback | None = None,
                   cancel: CancelToken | None = None, retries: int = 3,
                   retry_wait_s: float = 1.0, max_wait_s: float = 30.0) -> Path:
    """Download every part of `file` into `dest_dir`; returns the (first) file's path.

    Raises UnsafeFileNameError or DiskSpaceError before any request, Cancelled (the .part
    stays, to resume), DownloadInterruptedError when the server keeps failing (`retries` in a
    row), ChecksumMismatchError, HubOfflineError, or another HubError.
    """
    targets = targets_for(file, dest_dir)
    meter = Meter(file.name, file.size, progress)
    policy = RetryPolicy(retries, retry_wait_s, max_wait_s)
    with hub_errors(file.repo_id):                 # offline: said first, nothing else done
        _prepare(file, targets, dest_dir)
        for part, target in zip(file.parts, targets, strict=True):
            check = _Fetch(file, part, target, meter, cancel or CancelToken(), policy).run()
            try:
                write_record(target, repo_id=file.repo_id, filename=part.filename,
                             revision=file.revision, check=check, sha256=part.sha256)
            except OSError as exc:             # the file is good; only the note is missing
                log.warning("could not record the check of %s: %s", target, exc)
    meter.report(force=True)
    return targets[0]


def _prepare(file: HubFile, targets: list[Path], dest_dir: Path) -> None:
    """The folder exists and has room for what is known of the parts still to come."""
    try:
        dest_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DiskSpaceError(f"cannot create the folder {dest_dir}: "
                             f"{exc.strerror or exc}") from None
    pending = [(p, t) for p, t in zip(file.parts, targets, strict=True) if not t.exists()]
    if not pending:
        return
    known = sum(max(0, p.size - size_of(part_path(t))) for p, t in pending if p.size)
    check_free_space(dest_dir, known, file.name,
                     size_known=all(p.size is not None for p, _t in pending))


class _Fetch:
    """One file's transfer into its .part, resumed until complete, then checked and renamed."""

    def __init__(self, file: HubFile, part: HubPart, target: Path, meter: Meter,
                 cancel: CancelToken, policy: RetryPolicy) -> None:
        self.file, self.part, self.target, self.meter = file, part, target, meter
        self.cancel, self.policy = cancel, policy
        self.partial = part_path(target)
        self.hasher = hashlib.sha256()
        self.expected = part.size                 # the listing's, else the server's announcement
        self.recorded = False                     # whether the .part.json sidecar is written

    def run(self) -> DownloadCheck:
        if self.target.exists():
            return self._accept_existing()
        try:
            self._start_or_resume()
            failures = Failures(self.policy, self.target.name, self._have())
            while self.expected is None or self._have() < self.expected:
                try:
                    reason = self._attempt()
                except httpx2.TransportError as exc:
                    unreachable = isinstance(exc, (httpx2.ConnectError, httpx2.ConnectTimeout))
                    if unreachable and self._have() == 0 and failures.would_give_up(0):
                        raise                       # hub_errors says the hub can't be reached
                    reason = f"the connection failed ({_first_line(exc)})"
                if reason is None:
                    break
                self._wait(failures.failed(reason, self._have()))
            return self._finish()
        except Exception as exc:
            if not _keeps_part(exc):
                discard(self.target)
            elif self._have() == 0 and not self.recorded:
                sidecar_path(self.target).unlink(missing_ok=True)
            raise

    # -- steps ---------------------------------------------------------------------------------
    def _have(self) -> int:
        return size_of(self.partial)

    def _start_or_resume(self) -> None:
        """Keep a .part of this very file (hashing what it holds); start over otherwise."""
        same = kept_part_matches(self.file, self.part, self.target)
        if not same or (self.part.size is not None and self._have() > self.part.size):
            self.partial.unlink(missing_ok=True)
            sidecar_path(self.target).unlink(missing_ok=True)
            return
        self.recorded = True
        with self.partial.open("rb") as f:
            while block := f.read(CHUNK):
                self._check_cancel()
                self.hasher.update(block)
                self.meter.set_current(self.meter.current + len(block), moving=False)

    def _attempt(self) -> str | None:
        """One request from where the part ends: None when the file is complete, else what
        went wrong (the request is counted as failed)."""
        from huggingface_hub import hf_hub_url
        from huggingface_hub.utils import build_hf_headers, get_session

        offset = self._have()
        url = hf_hub_url(self.file.repo_id, self.part.filename, revision=self.file.revision,
                         endpoint=hub_endpoint())
        headers = build_hf_headers()
        if offset:
            headers["Range"] = f"bytes={offset}-"
        timeout = httpx2.Timeout(CONNECT_TIMEOUT_S, read=READ_TIMEOUT_S)
        with get_session().stream("GET", url, headers=headers, timeout=timeout,
                                  follow_redirects=True) as response:
            status = response.status_code
            if status == 416 and offset:             # nothing past the end: it is all here
                return None
            if status in RETRY_STATUSES or status >= 500:
                return f"the hub answered {status}"
            if status >= 400:
                self._refuse(response)
            what = f"the hub sent {status}"
            if offset and not _resumes_at(response, offset):
                self.partial.unlink(missing_ok=True)      # the server sent it all: start over
                self.hasher = hashlib.sha256()
                self.meter.set_current(0, moving=False)
                what = f"the hub answered a request for bytes {offset:,}- with {status}"
            start = self._have()
            self._learn_size(response, start)
            got = self._stream(response)
        if self.expected is None:
            return None
        have = self._have()
        if have >= self.expected:
            return None
        return (f"{what} and only {got:,} bytes ({have:,} of {self.expected:,} are here)")

    def _refuse(self, response: Any) -> None:
        from huggingface_hub import errors as hf
        from huggingface_hub.utils import hf_raise_for_status

        response.read()
        try:
            hf_raise_for_status(response)
        except hf.EntryNotFoundError:
            raise HubError(f"{self.part.filename} is listed in {self.file.repo_id}, but the "
                           f"hub answered {response.status_code} for it (removed since?); "
                           "nothing was kept") from None
        raise HubError(f"the hub answered {response.status_code} for {self.part.filename}")

    def _learn_size(self, response: Any, start: int) -> None:
        """Take the server's announced size where the listing gave none (and check the room for
        it); refuse an announcement larger than the listing's size."""
        announced = _announced_total(response, start)
        if announced is None:
            return
        if self.expected is None:
            self.expected = announced
            check_free_space(self.target.parent, max(0, announced - start), self.target.name)
        elif announced > self.expected:
            raise HubError(f"{self.target.name}: the hub announces {announced:,} bytes, but "
                           f"the file is {self.expected:,}; the partial file was removed")

    def _stream(self, response: Any) -> int:
        """Append the body to the .part; stops at the first byte past the expected size."""
        have, got = self._have(), 0
        try:
            if not self.recorded:
                sidecar_path(self.target).write_text(sidecar_text(self.file, self.part),
                                                     encoding="utf-8")
                self.recorded = True
            out = self.partial.open("ab")
        except OSError as exc:
            raise write_failed(exc, self.target) from None
        with out:
            for block in response.iter_bytes():
                self._check_cancel()
                if self.expected is not None and have + len(block) > self.expected:
                    raise HubError(f"{self.target.name}: the hub sent more than the "
                                   f"{self.expected:,} bytes announced; the partial file was "
                                   "removed")
                try:
                    out.write(block)
                    out.flush()
                except OSError as exc:
                    raise write_failed(exc, self.target) from None
                have += len(block)
                got += len(block)
                self.hasher.update(block)
                self.meter.set_current(self.meter.current + len(block))
        return got

    def _finish(self) -> DownloadCheck:
        have = self._have()
        if self.expected is not None and have != self.expected:
            raise HubError(f"{self.target.name}: the hub sent {have:,} bytes, expected "
                           f"{self.expected:,}; the partial file was removed")
        if not self.partial.exists():                 # an empty file of unknown size
            self._touch_empty()
        digest = self.hasher.hexdigest()
        if self.part.sha256 and digest != self.part.sha256.lower():
            raise ChecksumMismatchError(
                f"{self.target.name} failed its checksum: sha256 {digest[:16]}… does not match "
                f"the hub's {self.part.sha256[:16]}…; the file was removed. Try downloading "
                "it again.")
        os.replace(self.partial, self.target)
        sidecar_path(self.target).unlink(missing_ok=True)
        self.meter.part_done(have)
        return _check_of(self.part.sha256, self.expected)

    def _touch_empty(self) -> None:
        try:
            self.partial.touch()
        except OSError as exc:
            raise write_failed(exc, self.target) from None

    def _accept_existing(self) -> DownloadCheck:
        """A file of that name is already there: fine if it is this very file."""
        size = self.target.stat().st_size
        same = self.part.size is None or size == self.part.size
        if same and self.part.sha256:
            same = _sha256(self.target, self._check_cancel) == self.part.sha256.lower()
        if not same:
            raise HubError(f"{self.target.name} is already in the models folder but is a "
                           "different file; delete or rename it first")
        self.meter.part_done(size)
        return _check_of(self.part.sha256, self.part.size)

    def _check_cancel(self) -> None:
        if self.cancel.cancelled:
            raise Cancelled()

    def _wait(self, seconds: float) -> None:
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            self._check_cancel()
            time.sleep(min(0.05, max(0.0, end - time.monotonic())))


# --- internals ---------------------------------------------------------------------------------


def _check_of(sha256: str | None, size: int | None) -> DownloadCheck:
    if sha256:
        return DownloadCheck.SHA256
    return DownloadCheck.SIZE if size is not None else DownloadCheck.NONE


def _keeps_part(exc: BaseException) -> bool:
    """Whether a download that ended with `exc` can resume from its .part."""
    if isinstance(exc, (Cancelled, DownloadInterruptedError, httpx2.TransportError)):
        return True
    response = getattr(exc, "response", None)
    return getattr(response, "status_code", None) in KEEP_PART_STATUSES


def _resumes_at(response: Any, offset: int) -> bool:
    """Whether a response is the 206 continuing at `offset`."""
    if response.status_code != 206:
        return False
    content_range = response.headers.get("Content-Range", "")
    return content_range.startswith(f"bytes {offset}-")


def _announced_total(response: Any, start: int) -> int | None:
    """The whole file's size as the response announces it (Content-Range or -Length)."""
    headers = response.headers
    if response.status_code == 206:
        total = headers.get("Content-Range", "").rpartition("/")[2]
        return int(total) if total.isdigit() else None
    length = headers.get("Content-Length", "")
    if headers.get("Content-Encoding") or not length.isdigit():
        return None
    return start + int(length)


def _sha256(path: Path, check: Callable[[], None]) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while block := f.read(CHUNK):
            check()
            digest.update(block)
    return digest.hexdigest()


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]
