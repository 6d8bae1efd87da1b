"""The GUI's one background mechanism (app.engine.jobs): a job's signals, how it ends (returned,
errored, aborted), which thread runs what, and shutdown."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator

import pytest

from app.engine.jobs import Job, JobContext, JobPool, JobThread, failure_message
from inference.common.errors import Cancelled, ModelLoadError

pytestmark = pytest.mark.gui
WAIT_MS = 5000


class Recorder:
    """Every signal of one job, in order, with the thread it arrived on."""

    def __init__(self, job: Job) -> None:
        self.seen: list[tuple[str, object]] = []
        self.threads: set[int] = set()
        job.started.connect(lambda: self._add("started", None))
        job.yielded.connect(lambda value: self._add("yielded", value))
        job.returned.connect(lambda value: self._add("returned", value))
        job.errored.connect(lambda error: self._add("errored", error))
        job.aborted.connect(lambda: self._add("aborted", None))
        job.finished.connect(lambda: self._add("finished", None))

    def _add(self, name: str, value: object) -> None:
        self.seen.append((name, value))
        self.threads.add(threading.get_ident())

    @property
    def names(self) -> list[str]:
        return [name for name, _ in self.seen]


@pytest.fixture()
def pool(qtbot) -> Iterator[JobPool]:
    jobs = JobPool(2)
    yield jobs
    jobs.shutdown()


def _run(qtbot, pool: JobPool, work) -> Recorder:
    job = pool.start(work)
    recorder = Recorder(job)
    with qtbot.waitSignal(job.finished, timeout=WAIT_MS):
        pass
    return recorder


def test_a_generator_job_yields_then_returns_on_the_gui_thread(qtbot, pool) -> None:
    ran_on: list[int] = []

    def work(ctx: JobContext) -> Iterator[int]:
        ran_on.append(threading.get_ident())
        yield 1
        ctx.report(2)                          # a callback's progress goes the same way
        yield 3
        return "done"

    recorder = _run(qtbot, pool, work)
    assert recorder.seen == [("started", None), ("yielded", 1), ("yielded", 2),
                             ("yielded", 3), ("returned", "done"), ("finished", None)]
    assert recorder.threads == {threading.get_ident()}            # the signals: GUI thread
    assert ran_on and ran_on[0] != threading.get_ident()          # the work: a pool thread
    assert not pool.busy


def test_a_plain_function_returns_its_value(qtbot, pool) -> None:
    recorder = _run(qtbot, pool, lambda ctx: 42)
    assert recorder.names == ["started", "returned", "finished"]
    assert recorder.seen[1] == ("returned", 42)


def test_a_cancel_is_a_normal_ending(qtbot, pool) -> None:
    release = threading.Event()

    def work(ctx: JobContext) -> Iterator[str]:
        yield "waiting"
        release.wait(WAIT_MS / 1000)
        if ctx.token.cancelled:
            raise Cancelled("stopped")
        yield "not reached"

    job = pool.start(work)
    recorder = Recorder(job)
    qtbot.waitUntil(lambda: "yielded" in recorder.names, timeout=WAIT_MS)
    job.cancel()
    release.set()
    qtbot.waitUntil(lambda: "finished" in recorder.names, timeout=WAIT_MS)
    assert recorder.names == ["started", "yielded", "aborted", "finished"]


def test_a_parley_error_is_reported_with_its_message(qtbot, pool, caplog) -> None:
    def work(ctx: JobContext) -> None:
        raise ModelLoadError("The file is not a model.")

    with caplog.at_level(logging.ERROR, logger="parley.app"):
        recorder = _run(qtbot, pool, work)
    assert recorder.names == ["started", "errored", "finished"]
    error = recorder.seen[1][1]
    assert isinstance(error, ModelLoadError)
    assert failure_message(error, "Could not load") == "The file is not a model."
    assert not caplog.records                                       # expected: not a bug


def test_any_other_exception_is_logged_and_reported_not_raised(qtbot, pool, caplog) -> None:
    def work(ctx: JobContext) -> Iterator[int]:
        yield 1
        raise RuntimeError("boom")             # superqt would swallow this one silently

    with caplog.at_level(logging.ERROR, logger="parley.app"):
        recorder = _run(qtbot, pool, work)
    assert recorder.names == ["started", "yielded", "errored", "finished"]
    error = recorder.seen[2][1]
    assert isinstance(error, RuntimeError)
    assert failure_message(error, "Generation failed") == "Generation failed: boom"
    assert any("background job failed" in r.getMessage() and r.exc_info for r in caplog.records)


def test_a_job_thread_runs_its_jobs_in_turn_on_one_thread(qtbot) -> None:
    jobs = JobThread("test-jobs")
    threads: list[int] = []
    order: list[int] = []
    try:
        started = [jobs.start(lambda ctx, i=i: (threads.append(threading.get_ident()),
                                                 order.append(i))) for i in range(5)]
        with qtbot.waitSignal(started[-1].finished, timeout=WAIT_MS):
            pass
    finally:
        jobs.shutdown()
    assert order == [0, 1, 2, 3, 4]
    assert len(set(threads)) == 1 and threads[0] != threading.get_ident()


def test_shutdown_cancels_waits_and_drops_what_comes_later(qtbot) -> None:
    jobs = JobPool(1)
    running = threading.Event()

    def work(ctx: JobContext) -> str:
        running.set()
        while not ctx.token.cancelled:
            threading.Event().wait(0.01)
        return "late"

    job = jobs.start(work)
    recorder = Recorder(job)
    assert running.wait(WAIT_MS / 1000)
    assert jobs.busy
    assert jobs.shutdown(WAIT_MS)
    qtbot.wait(50)
    assert "returned" not in recorder.names and not jobs.busy
