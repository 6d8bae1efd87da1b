"""Background jobs: the GUI's one way to run work off the GUI thread.

A job is a function run on a worker thread. It returns its result, or it is a generator whose
yields are progress and whose return value is the result; a plain function reports progress
through its `JobContext.report`. Its `Job` reports on the GUI thread, as superqt's
`create_worker` does: `started`, `yielded` (each progress value), then one of `returned` (the
result), `errored` (the exception) or `aborted` (it raised `Cancelled`: a normal ending), then
`finished`. How a job ended is decided in `_run` only: a `ParleyError` carries the user's
sentence (`failure_message`); any other exception is a bug, logged with its traceback and
reported through `errored`, never raised into Qt.

`JobPool` runs jobs on its own QThreadPool, so its owner waits for exactly its own work on
shutdown; `JobThread` is a pool of one long-lived thread running its jobs in turn, in order (the
engine's: an engine is used from one thread). The worker side sees only the `JobContext`; the
`Job` QObjects are created, used and deleted on the GUI thread.

superqt's workers are not used: they run on the global thread pool, report `Cancelled` as an
error, and a generator that raises a RuntimeError ends with neither `errored` nor `finished`.
"""

from __future__ import annotations

import itertools
import logging
import weakref
from collections.abc import Callable, Generator
from dataclasses import dataclass
from enum import Enum
from typing import Any

import shiboken6
from PySide6.QtCore import QCoreApplication, QObject, QRunnable, Qt, QThreadPool, Signal, Slot

from inference.common.cancel import CancelToken
from inference.common.errors import Cancelled, ParleyError

log = logging.getLogger("parley.app")

Callback = Callable[[Any], None]


def _ignore(_value: object) -> None:
    return None


def failure_message(error: BaseException, context: str) -> str:
    """What to show for a job's error: a ParleyError's own sentence, else `context: error`."""
    return str(error) if isinstance(error, ParleyError) else f"{context}: {error}"


@dataclass(frozen=True)
class JobContext:
    """What a job's function gets, on the worker thread: its cancel flag and `report`."""

    token: CancelToken
    report: Callback = _ignore          # one progress value, delivered as the job's `yielded`


Work = Callable[[JobContext], Any]      # a result, or a generator: yields progress, returns it


class _Report(Enum):
    STARTED = "started"
    YIELDED = "yielded"
    RETURNED = "returned"
    ERRORED = "errored"
    ABORTED = "aborted"


class Job(QObject):
    """One job's reports, all on the GUI thread: started, yielded…, then returned, errored or
    aborted, then finished. `cancel` may be called at any time; a job never reports twice."""

    started = Signal()
    yielded = Signal(object)
    returned = Signal(object)
    errored = Signal(object)            # the exception (never Cancelled: that is `aborted`)
    aborted = Signal()
    finished = Signal()

    def __init__(self, token: CancelToken, parent: QObject) -> None:
        super().__init__(parent)
        self.token = token

    def cancel(self) -> None:
        """Ask the job to stop (any thread); it ends with `aborted`, or with what it returns."""
        self.token.cancel()

    def _deliver(self, kind: _Report, value: object) -> None:
        if kind is _Report.STARTED:
            self.started.emit()
            return
        if kind is _Report.YIELDED:
            self.yielded.emit(value)
            return
        if kind is _Report.RETURNED:
            self.returned.emit(value)
        elif kind is _Report.ERRORED:
            self.errored.emit(value)
        else:
            self.aborted.emit()
        self.finished.emit()


def _run(work: Work, ctx: JobContext, post: Callable[[_Report, object], None]) -> None:
    """Run a job on this (worker) thread and post how it went: the one place that tells a
    cancel, a ParleyError and a bug apart."""
    post(_Report.STARTED, None)
    try:
        result = work(ctx)
        if isinstance(result, Generator):
            result = _drain(result, ctx.report)
    except Cancelled:
        post(_Report.ABORTED, None)
    except ParleyError as exc:
        post(_Report.ERRORED, exc)
    except Exception as exc:            # a bug: keep the app alive and say something
        log.exception("background job failed")
        post(_Report.ERRORED, exc)
    else:
        post(_Report.RETURNED, result)


def _drain(generator: Generator[Any, None, Any], report: Callback) -> Any:
    """Report every value the generator yields; its return value."""
    while True:
        try:
            value = next(generator)
        except StopIteration as stop:
            return stop.value
        report(value)


class _Runnable(QRunnable):
    def __init__(self, work: Work, ctx: JobContext,
                 post: Callable[[_Report, object], None]) -> None:
        super().__init__()
        self.work, self.ctx, self.post = work, ctx, post

    def run(self) -> None:
        _run(self.work, self.ctx, self.post)


class JobPool(QObject):
    """A page's (or a worker's) background jobs on `threads` threads of its own: start them,
    cancel them, wait for all of them on shutdown. Lives on the GUI thread."""

    _report = Signal(int, object, object)      # job id, _Report, value: from a worker thread

    def __init__(self, threads: int = 2, parent: QObject | None = None, name: str = "") -> None:
        super().__init__(parent)
        self.pool = QThreadPool(self)
        self.pool.setMaxThreadCount(threads)
        if name:
            self.pool.setObjectName(name)          # Qt names the pool's threads after it
        self._jobs: dict[int, Job] = {}
        self._ids = itertools.count(1)
        self._report.connect(self._deliver, Qt.ConnectionType.QueuedConnection)

    def start(self, work: Work, *, returned: Callback | None = None,
              errored: Callback | None = None, yielded: Callback | None = None,
              aborted: Callable[[], None] | None = None) -> Job:
        """Run `work(context)` on a pool thread; the callbacks are connected to the job's
        signals (called on the GUI thread)."""
        job_id = next(self._ids)
        job = Job(CancelToken(), self)
        for signal, slot in ((job.returned, returned), (job.errored, errored),
                             (job.yielded, yielded), (job.aborted, aborted)):
            if slot is not None:
                signal.connect(slot)
        self._jobs[job_id] = job
        post = _poster(self, job_id)
        ctx = JobContext(job.token, lambda value: post(_Report.YIELDED, value))
        self.pool.start(_Runnable(work, ctx, post))
        return job

    @property
    def busy(self) -> bool:
        return bool(self._jobs)

    def shutdown(self, timeout_ms: int = 10_000) -> bool:
        """Cancel every job and wait for the threads; what they report later is dropped. True
        when all ended in time."""
        for job in self._jobs.values():
            job.cancel()
        done = self.pool.waitForDone(timeout_ms)
        jobs, self._jobs = self._jobs, {}
        for job in jobs.values():
            job.deleteLater()
        QCoreApplication.sendPostedEvents(self)   # deliver (and so drop) the last reports now
        return done

    @Slot(int, object, object)
    def _deliver(self, job_id: int, kind: _Report, value: object) -> None:
        job = self._jobs.get(job_id)
        if job is None:
            return
        if kind not in (_Report.STARTED, _Report.YIELDED):
            del self._jobs[job_id]
            job.deleteLater()
        job._deliver(kind, value)


class JobThread(JobPool):
    """One long-lived thread that runs its jobs in turn, in the order they were started."""

    def __init__(self, name: str, parent: QObject | None = None) -> None:
        super().__init__(1, parent, name)
        self.pool.setExpiryTimeout(-1)            # the thread stays until shutdown


def _poster(pool: JobPool, job_id: int) -> Callable[[_Report, object], None]:
    """How a worker thread posts a job's report to `pool` (queued; dropped once it is gone)."""
    ref = weakref.ref(pool)

    def post(kind: _Report, value: object) -> None:
        target = ref()
        if target is not None and shiboken6.isValid(target):
            target._report.emit(job_id, kind, value)

    return post
