"""The one child-process layer under EngineHost and run_in_child: exit naming, errors across the
pipe, deadlines, and a killed child, with real child processes (no model needed)."""

from __future__ import annotations

import os
import pickle
import signal
import time
from collections.abc import Iterator

import psutil
import pytest

from inference.common import errors
from inference.common.cancel import CancelToken
from inference.common.errors import (
    Cancelled,
    EngineCrashedError,
    ModelLoadError,
    ParleyError,
    PromptTooLongError,
)
from inference.common.paths import parley_paths
from inference.host import protocol as hp
from inference.host.bootstrap import ChildLogging
from inference.host.child import JOBS
from inference.host.exits import WINDOWS_CRASHES, ChildExit
from inference.host.host import EngineHost
from inference.host.jobs import ChildTimeoutError, run_in_child
from inference.host.process import ChildProcess, DeadlinePassed
from tests.support import debug_jobs
from tests.support.debug_jobs import DEBUG_JOBS

ERROR_CLASSES = sorted((c for c in vars(errors).values()
                        if isinstance(c, type) and issubclass(c, (ParleyError, Cancelled))),
                       key=lambda c: c.__name__)


# -- how a child died ----------------------------------------------------------------------------
def test_posix_exits_are_named() -> None:
    abort = ChildExit(-signal.SIGABRT)
    assert abort.signal_name == "SIGABRT" and abort.describe() == "signal SIGABRT"
    assert abort.crashed and str(abort) == "signal SIGABRT"
    assert ChildExit(-signal.SIGSEGV).signal_name == "SIGSEGV"
    assert ChildExit(-77).signal_name == "signal 77" == ChildExit(-77).describe()
    plain = ChildExit(1)
    assert plain.signal_name is None and not plain.crashed and plain.describe() == "exit code 1"
    assert ChildExit(0).describe() == "exit code 0"
    assert ChildExit(None).describe() == "no exit status" and not ChildExit(None).crashed


@pytest.mark.parametrize(("code", "name", "words"),
                         [(code, *named) for code, named in WINDOWS_CRASHES.items()])
def test_windows_crash_codes_are_named(code: int, name: str, words: str) -> None:
    for exitcode in (code, code - (1 << 32)):      # as an unsigned DWORD and as a signed int
        ended = ChildExit(exitcode)
        assert ended.signal_name == name and ended.describe() == words and ended.crashed
    assert name.startswith("STATUS_") and 0xC0000000 <= code <= 0xCFFFFFFF


def test_the_windows_table_holds_the_usual_crashes() -> None:
    assert WINDOWS_CRASHES[0xC0000005][0] == "STATUS_ACCESS_VIOLATION"
    assert WINDOWS_CRASHES[0xC0000409][0] == "STATUS_STACK_BUFFER_OVERRUN"   # abort(), fast fail
    assert WINDOWS_CRASHES[0xC00000FD][0] == "STATUS_STACK_OVERFLOW"
    assert ChildExit(3).describe() == "exit code 3"       # not a crash code: a plain exit


# -- errors across the pipe ----------------------------------------------------------------------
@pytest.mark.parametrize("cls", ERROR_CLASSES, ids=lambda c: c.__name__)
def test_error_classes_cross_with_class_and_message(cls: type[BaseException]) -> None:
    carried = pickle.loads(pickle.dumps(hp.portable(cls("a specific message"), "engine")))
    assert type(carried) is cls and str(carried) == "a specific message"


def test_an_unpicklable_subclass_arrives_as_its_nearest_base() -> None:
    class ContextTrouble(ModelLoadError):        # a local class: pickle cannot name it
        pass

    class NeedsTwo(PromptTooLongError):          # rebuilding it from its message fails
        def __init__(self, used: int, limit: int) -> None:
            super().__init__(f"{used} tokens, the context holds {limit}")

    carried = hp.portable(ContextTrouble("no memory for the KV cache"), "engine")
    assert type(carried) is ModelLoadError and str(carried) == "no memory for the KV cache"
    carried = hp.portable(NeedsTwo(900, 512), "engine")
    assert type(carried) is PromptTooLongError
    assert str(carried) == "900 tokens, the context holds 512"


def test_anything_else_becomes_a_parley_error_naming_its_type() -> None:
    carried = hp.portable(KeyError("n_ctx"), "Q4_0 quantization")
    assert type(carried) is ParleyError
    assert str(carried) == "Q4_0 quantization error: KeyError: 'n_ctx'"


# -- run_in_child ------------------------------------------------------------------------------
def test_a_job_reports_progress_and_returns() -> None:
    seen: list[int] = []
    assert run_in_child(debug_jobs.count_then, 3, 0.0, {"done": True},
                        on_message=seen.append) == {"done": True}
    assert seen == [0, 1, 2]
    assert not list(parley_paths().logs.glob("job-*.log"))         # merged into the main log
    assert "---- end of job process" in parley_paths().log_file.read_text("utf-8")


def test_a_job_error_keeps_its_class_or_names_its_type() -> None:
    with pytest.raises(PromptTooLongError, match="^too long$"):
        run_in_child(debug_jobs.raise_named, "PromptTooLongError", "too long")
    with pytest.raises(ParleyError) as err:
        run_in_child(debug_jobs.raise_named, "ValueError", "bad value", what="test job")
    assert type(err.value) is ParleyError
    assert str(err.value) == "test job error: ValueError: bad value"
    with pytest.raises(ParleyError, match="^job error: cannot return the result"):
        run_in_child(debug_jobs.unpicklable_result)


def test_a_job_past_its_deadline_is_stopped() -> None:
    started = time.monotonic()
    seen: list[int] = []
    with pytest.raises(ChildTimeoutError, match="did not finish within 0.5 s"):
        run_in_child(debug_jobs.count_then, 1000, 0.05, None, on_message=seen.append,
                     timeout_s=0.5)
    assert time.monotonic() - started < 10 and seen              # it ran, then it was stopped
    assert not _children()


def test_a_cancelled_job_is_killed_at_once() -> None:
    cancel = CancelToken()

    def stop_at_two(step: int) -> None:
        if step == 2:
            cancel.cancel()

    with pytest.raises(Cancelled, match="test job cancelled"):
        run_in_child(debug_jobs.count_then, 1000, 0.01, None, on_message=stop_at_two,
                     cancel=cancel, what="test job")
    assert not _children()


@pytest.mark.parametrize("sig", ["SIGKILL", "SIGABRT"])
def test_a_killed_job_is_an_engine_crash(sig: str) -> None:
    with pytest.raises(EngineCrashedError) as err:
        run_in_child(debug_jobs.kill_myself, sig, what="test job")
    crash = err.value
    assert crash.exit_signal == sig
    assert str(crash) == (f"The test job process stopped unexpectedly (signal {sig}); "
                          "llama.cpp may have aborted.")
    if sig == "SIGABRT":                                          # faulthandler wrote it there
        assert "Fatal Python error: Aborted" in crash.log_tail
    assert not _children()


def test_the_wait_has_a_deadline() -> None:
    child = ChildProcess.start(debug_jobs.wait_for_a_message, name="parley-test",
                               logs=ChildLogging.of_parent("job"))
    try:
        started = time.monotonic()
        with pytest.raises(DeadlinePassed):
            child.receive(deadline=started + 0.3)
        assert 0.3 <= time.monotonic() - started < 5
        assert child.alive
    finally:
        child.send(("bye",))
        assert child.stop().describe() == "exit code 0"
    assert not child.alive


# -- EngineHost on the same layer --------------------------------------------------------------
@pytest.fixture()
def debug_host() -> Iterator[EngineHost]:
    host = EngineHost(job_modules=[DEBUG_JOBS])
    yield host
    host.close()


def test_production_jobs_are_only_real_jobs() -> None:
    assert set(JOBS) == {"perplexity"}
    with EngineHost() as host, pytest.raises(ParleyError, match="no job called '_debug_steps'"):
        host.call("_debug_steps", 1)


def test_engine_errors_cross_the_same_way(debug_host: EngineHost) -> None:
    with pytest.raises(PromptTooLongError, match="^too long$"):
        debug_host.call("_raise", "PromptTooLongError", "too long")
    with pytest.raises(ParleyError) as err:
        debug_host.call("_raise", "ValueError", "bad value")
    assert type(err.value) is ParleyError
    assert str(err.value) == "engine error: ValueError: bad value"
    with pytest.raises(Cancelled):
        debug_host.call("_raise", "Cancelled", "stopped")
    assert debug_host.call("_debug_steps", 2) == 2                # still in step


def test_a_killed_engine_is_an_engine_crash(debug_host: EngineHost) -> None:
    assert debug_host.call("_debug_steps", 1) == 1
    pid = debug_host.pid
    assert pid is not None
    with pytest.raises(EngineCrashedError) as err:
        debug_host.call("_debug_crash", "SIGKILL")
    crash = err.value
    assert crash.exit_signal == "SIGKILL"
    assert "(signal SIGKILL) while running _debug_crash" in str(crash)
    assert debug_host.pid is None and not psutil.pid_exists(pid)
    assert f"---- engine process {pid} (signal SIGKILL) ----" in (
        parley_paths().log_file.read_text("utf-8"))
    assert debug_host.call("_debug_steps", 1) == 1                # a fresh child
    assert debug_host.pid not in (None, pid)


def _children() -> list[psutil.Process]:
    """This process's children, bar multiprocessing's resource tracker."""
    found = []
    for proc in psutil.Process(os.getpid()).children(recursive=True):
        try:
            if "resource_tracker" not in " ".join(proc.cmdline()):
                found.append(proc)
        except psutil.Error:
            continue
    return found
