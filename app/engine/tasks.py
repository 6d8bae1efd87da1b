"""Run blocking calls (a header scan, a hub request) on a thread pool; their results come back
to the GUI thread through queued signals.

`Tasks` is a QObject on the GUI thread with its own small `QThreadPool`, so a page waits for
exactly its own work on close. Jobs emit on `Tasks`' signals with their task id (cross-thread
emits are queued); `Tasks` then calls the job's callbacks on the GUI thread. No QObject is ever
created or destroyed off the GUI thread. A `ParleyError` is reported through `failed` with its
message, `Cancelled` through `cancelled`; any other exception is logged and reported as failed.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import shiboken6
from PySide6.QtCore import QObject, QRunnable, QThreadPool, Signal, Slot

from inference.common.cancel import CancelToken
from inference.common.errors import Cancelled, ParleyError

log = logging.getLogger("parley.app")

Callback = Callable[[Any], None]


@dataclass
class Task:
    """A running job: its cancel flag and what to call (on the GUI thread) when it reports."""

    id: int
    job: Callable[[Task], Any]
    token: CancelToken = field(default_factory=CancelToken)
    finished: Callback | None = None
    failed: Callback | None = None
    progress: Callback | None = None
    cancelled: Callable[[], None] | None = None
    bridge: Tasks | None = field(default=None, repr=False)

    def report(self, value: object) -> None:
        """Called by the job, on the pool thread."""
        if self.bridge is not None and shiboken6.isValid(self.bridge):
            self.bridge._progress.emit(self.id, value)

    def cancel(self) -> None:
        self.token.cancel()


class _Runnable(QRunnable):
    def __init__(self, task: Task, bridge: Tasks) -> None:
        super().__init__()
        self.task, self.bridge = task, bridge

    def run(self) -> None:
        task = self.task
        kind, value = "finished", None
        try:
            value = task.job(task)
        except Cancelled:
            kind = "cancelled"
        except ParleyError as exc:
            kind, value = "failed", exc
        except Exception as exc:          # a bug: keep the app alive and say something
            log.exception("background task failed")
            kind, value = "failed", exc
        if shiboken6.isValid(self.bridge):
            self.bridge._ended.emit(task.id, kind, value)


class Tasks(QObject):
    """A page's background work: start jobs, cancel them, wait for all of them on close."""

    _ended = Signal(int, str, object)
    _progress = Signal(int, object)

    def __init__(self, max_threads: int = 2, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.pool = QThreadPool(self)
        self.pool.setMaxThreadCount(max_threads)
        self._tasks: dict[int, Task] = {}
        self._ids = itertools.count(1)
        self._ended.connect(self._on_ended)
        self._progress.connect(self._on_progress)

    def start(self, job: Callable[[Task], Any], *, finished: Callback | None = None,
              failed: Callback | None = None, progress: Callback | None = None,
              cancelled: Callable[[], None] | None = None) -> Task:
        task = Task(next(self._ids), job, finished=finished, failed=failed, progress=progress,
                    cancelled=cancelled, bridge=self)
        self._tasks[task.id] = task
        self.pool.start(_Runnable(task, self))
        return task

    @property
    def busy(self) -> bool:
        return bool(self._tasks)

    def shutdown(self, timeout_ms: int = 10_000) -> bool:
        """Cancel every job and wait for the pool; True when all ended in time."""
        for task in list(self._tasks.values()):
            task.cancel()
        done = self.pool.waitForDone(timeout_ms)
        self._tasks.clear()
        return done

    @Slot(int, str, object)
    def _on_ended(self, task_id: int, kind: str, value: object) -> None:
        task = self._tasks.pop(task_id, None)
        if task is None:
            return
        if kind == "finished" and task.finished is not None:
            task.finished(value)
        elif kind == "failed" and task.failed is not None:
            task.failed(value)
        elif kind == "cancelled" and task.cancelled is not None:
            task.cancelled()

    @Slot(int, object)
    def _on_progress(self, task_id: int, value: object) -> None:
        task = self._tasks.get(task_id)
        if task is not None and task.progress is not None:
            task.progress(value)
