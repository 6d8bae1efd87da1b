"""Several downloads, run one at a time on a worker thread, each with its own state.

`listener(item)` is called with a fresh `DownloadItem` snapshot whenever one changes — from the
worker thread while it runs (a GUI forwards it through a queued signal). Pausing stops a running
download and keeps its .part (resume continues from it, even after a restart of Parley);
cancelling stops it and deletes the .part.
"""

from __future__ import annotations

import dataclasses
import enum
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from inference.common.cancel import CancelToken
from inference.common.errors import Cancelled, ParleyError
from inference.hub.downloads import (
    DownloadCheck,
    DownloadProgress,
    ProgressCallback,
    discard_partial,
    download_check,
    download_model,
)
from inference.hub.search import HubFile

log = logging.getLogger("parley.downloads")


class DownloadState(str, enum.Enum):
    QUEUED = "queued"
    RUNNING = "running"
    PAUSED = "paused"
    DONE = "done"
    FAILED = "failed"
    CANCELLED = "cancelled"

    def __str__(self) -> str:
        return self.value

    @property
    def active(self) -> bool:
        return self in (DownloadState.QUEUED, DownloadState.RUNNING)


@dataclass(frozen=True)
class DownloadItem:
    id: int
    file: HubFile
    state: DownloadState = DownloadState.QUEUED
    progress: DownloadProgress | None = None
    path: Path | None = None          # the finished file
    error: str | None = None
    check: DownloadCheck | None = None  # what was checked of the finished file

    @property
    def unverified(self) -> bool:
        return self.check is not None and not self.check.verified


Downloader = Callable[..., Path]       # download_model's signature
Listener = Callable[[DownloadItem], None]


class DownloadQueue:
    def __init__(self, dest_dir: Path, *, listener: Listener | None = None,
                 downloader: Downloader = download_model) -> None:
        self.dest_dir = dest_dir
        self._listener = listener
        self._download = downloader
        self._items: dict[int, DownloadItem] = {}
        self._tokens: dict[int, CancelToken] = {}
        self._stop_as: dict[int, DownloadState] = {}    # what a running item becomes when stopped
        self._next_id = 1
        self._cond = threading.Condition()
        self._thread: threading.Thread | None = None
        self._closed = False

    # -- requests (any thread) -----------------------------------------------------------------
    def add(self, file: HubFile, *, paused: bool = False) -> int:
        """Queue a download (or list it paused, e.g. one left by an earlier run); the same file
        already queued or running keeps its item."""
        with self._cond:
            if self._closed:
                raise ParleyError("the download queue is closed")
            for item in self._items.values():
                if item.file == file and item.state.active:
                    return item.id
            item = DownloadItem(self._next_id, file,
                                DownloadState.PAUSED if paused else DownloadState.QUEUED)
            self._next_id += 1
            self._set(item)
            self._ensure_worker()
            self._cond.notify_all()
            return item.id

    def pause(self, item_id: int) -> None:
        self._stop(item_id, DownloadState.PAUSED)

    def cancel(self, item_id: int) -> None:
        self._stop(item_id, DownloadState.CANCELLED)

    def resume(self, item_id: int) -> None:
        """Queue a paused, failed or cancelled item again (a paused one continues its .part)."""
        with self._cond:
            item = self._items[item_id]
            if item.state.active or item.state == DownloadState.DONE:
                return
            self._set(dataclasses.replace(item, state=DownloadState.QUEUED, error=None))
            self._ensure_worker()
            self._cond.notify_all()

    def remove(self, item_id: int) -> None:
        """Forget a finished, failed or cancelled item (a running one is cancelled first)."""
        self.cancel(item_id)
        with self._cond:
            item = self._items.get(item_id)
            if item is not None and not item.state.active:
                del self._items[item_id]

    def items(self) -> list[DownloadItem]:
        with self._cond:
            return list(self._items.values())

    def get(self, item_id: int) -> DownloadItem:
        with self._cond:
            return self._items[item_id]

    def wait_idle(self, timeout: float | None = None) -> bool:
        """Block until nothing is queued or running; False on timeout."""
        with self._cond:
            return self._cond.wait_for(
                lambda: not any(i.state.active for i in self._items.values()), timeout)

    def close(self, timeout: float = 5.0) -> None:
        """Pause what runs (its .part is kept) and stop the worker."""
        with self._cond:
            self._closed = True
            for item_id, token in self._tokens.items():
                self._stop_as[item_id] = DownloadState.PAUSED
                token.cancel()
            self._cond.notify_all()
            thread = self._thread
        if thread is not None:
            thread.join(timeout)

    # -- internals -----------------------------------------------------------------------------
    def _stop(self, item_id: int, state: DownloadState) -> None:
        with self._cond:
            item = self._items[item_id]
            if item.state == DownloadState.RUNNING:
                self._stop_as[item_id] = state
                self._tokens[item_id].cancel()
                return
            if item.state in (DownloadState.DONE, state):
                return
            if state == DownloadState.PAUSED and not item.state.active:
                return
            self._set(dataclasses.replace(item, state=state))
        if state == DownloadState.CANCELLED:
            discard_partial(item.file, self.dest_dir)

    def _set(self, item: DownloadItem) -> None:
        """Record a new snapshot (caller holds the lock) and tell the listener."""
        self._items[item.id] = item
        self._cond.notify_all()
        if self._listener is not None:
            try:
                self._listener(item)
            except Exception:           # a listener's bug must not kill the queue
                log.exception("download listener failed")

    def _ensure_worker(self) -> None:
        if self._thread is None or not self._thread.is_alive():
            self._thread = threading.Thread(target=self._work, name="parley-downloads",
                                            daemon=True)
            self._thread.start()

    def _next(self) -> DownloadItem | None:
        with self._cond:
            while not self._closed:
                queued = [i for i in self._items.values() if i.state == DownloadState.QUEUED]
                if queued:
                    item = dataclasses.replace(queued[0], state=DownloadState.RUNNING)
                    self._tokens[item.id] = CancelToken()
                    self._set(item)
                    return item
                if not self._cond.wait(timeout=30):
                    self._thread = None           # idle a while: let the thread end
                    return None
            return None

    def _work(self) -> None:
        while (item := self._next()) is not None:
            self._run(item)

    def _run(self, item: DownloadItem) -> None:
        def on_progress(progress: DownloadProgress) -> None:
            with self._cond:
                current = self._items[item.id]
                if current.state == DownloadState.RUNNING:
                    self._set(dataclasses.replace(current, progress=progress))

        progress_cb: ProgressCallback = on_progress
        update: dict[str, object]
        try:
            path = self._download(item.file, self.dest_dir, progress=progress_cb,
                                  cancel=self._tokens[item.id])
            update = {"state": DownloadState.DONE, "path": path,
                      "check": download_check(item.file, self.dest_dir)}
        except Cancelled:
            update = {"state": self._stop_as.get(item.id, DownloadState.PAUSED)}
        except ParleyError as exc:
            update = {"state": DownloadState.FAILED, "error": str(exc)}
        except Exception as exc:        # an unexpected bug: fail this item, keep the queue
            log.exception("download of %s failed", item.file.filename)
            update = {"state": DownloadState.FAILED, "error": f"unexpected error: {exc}"}
        if update["state"] == DownloadState.CANCELLED:
            discard_partial(item.file, self.dest_dir)
        with self._cond:
            self._tokens.pop(item.id, None)
            self._stop_as.pop(item.id, None)
            self._set(dataclasses.replace(self._items[item.id], **update))  # type: ignore[arg-type]
            self._cond.notify_all()
