"""A stuck engine never hangs its caller: a cancel escalates (flag, SIGTERM, SIGKILL), a frozen
engine is given up on, and an engine whose parent dies exits too. Real child processes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import psutil
import pytest

from inference.common.cancel import CancelToken
from inference.common.errors import Cancelled, EngineCrashedError
from inference.engine.config import ModelConfig
from inference.engine.events import PromptRendered
from inference.engine.requests import GenerationRequest, Mode
from inference.engine.sampling import SamplingParams
from inference.host.host import EngineHost
from tests.host.stuck_jobs import STUCK_JOBS
from tests.support.debug_jobs import DEBUG_JOBS

REPO = Path(__file__).resolve().parents[2]
GRACE_S = 1.0
BOUND_S = 30.0          # generous: the machine is small and shared; the point is "not forever"


@pytest.fixture()
def host() -> Iterator[EngineHost]:
    engine = EngineHost(job_modules=[DEBUG_JOBS, STUCK_JOBS], grace_s=GRACE_S)
    yield engine
    engine.close()


def wait_until(condition: Callable[[], bool], within_s: float = BOUND_S) -> bool:
    """Poll `condition` every 0.1 s until it holds or `within_s` passed."""
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.1)
    return condition()


def gone(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def cancel_soon(cancel: CancelToken, after_s: float = 0.3) -> threading.Timer:
    timer = threading.Timer(after_s, cancel.cancel)
    timer.start()
    return timer


def test_a_job_that_ignores_its_cancel_is_ended(host: EngineHost) -> None:
    assert host.call("_debug_steps", 1) == 1
    pid = host.pid
    assert pid is not None
    cancel = CancelToken()
    cancel_soon(cancel)
    with pytest.raises(Cancelled, match="did not stop in time"):   # nothing was loaded: no loss
        host.call("_ignore_cancel", cancel=cancel)
    assert host.pid is None and gone(pid)
    assert host.call("_debug_steps", 2) == 2                        # a fresh engine
    assert host.pid not in (None, pid)


def test_a_frozen_engine_without_a_cancel_is_given_up_on() -> None:
    with EngineHost(job_modules=[DEBUG_JOBS], hang_s=2.0) as host:
        assert host.call("_debug_steps", 1) == 1
        pid = host.pid
        assert pid is not None
        with pytest.raises(EngineCrashedError, match="stopped responding") as err:
            host.call("_debug_crash", "SIGSTOP")        # the engine stops itself, mid-request
        assert "load the model again" in str(err.value)
        assert gone(pid)
        assert host.call("_debug_steps", 1) == 1


@pytest.mark.model
def test_a_sigstopped_engine_then_cancel_returns_and_a_fresh_one_starts(
        host: EngineHost, starter_model_path: Path) -> None:
    config = ModelConfig(starter_model_path, n_ctx=512, n_threads=1)
    host.load(config)
    pid = host.pid
    assert pid is not None
    cancel = CancelToken()
    request = GenerationRequest(Mode.TEXT, text="Once upon a time",
                                sampling=SamplingParams(temperature=0, max_tokens=400))
    tokens = 0
    with pytest.raises(EngineCrashedError, match="did not stop within 1 s of the cancel"):
        for event in host.generate(request, cancel):
            if isinstance(event, PromptRendered):
                continue
            tokens += 1
            if tokens == 2:
                os.kill(pid, signal.SIGSTOP)
                cancel.cancel()
    assert gone(pid) and host.pid is None and host.loaded is None
    host.load(config)                                   # the host starts a fresh engine
    assert host.pid not in (None, pid)
    assert host.tokenize("alive")


def test_a_killed_parent_takes_its_engine_with_it() -> None:
    parent = subprocess.Popen([sys.executable, "-m", "tests.host.orphan_parent"], cwd=REPO,
                              stdout=subprocess.PIPE, text=True)
    engine_pid = None
    try:
        line = parent.stdout.readline() if parent.stdout else ""
        engine_pid = int(line)
        assert psutil.pid_exists(engine_pid)
        time.sleep(0.5)                          # the engine is busy in its job now
        parent.kill()
        parent.wait(BOUND_S)
        assert wait_until(lambda: gone(engine_pid)), "the engine outlived its parent"
    finally:
        if parent.poll() is None:
            parent.kill()
        if engine_pid is not None and not gone(engine_pid):
            os.kill(engine_pid, signal.SIGKILL)
        if parent.stdout:
            parent.stdout.close()
