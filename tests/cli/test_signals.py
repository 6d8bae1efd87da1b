"""`parley generate` in a real terminal-like process: Ctrl-C and SIGTERM cancel it with one line
and leave no engine behind; an engine that dies mid-reply is told in the words of a command."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

REPO = Path(__file__).resolve().parents[2]
BOUND_S = 60.0          # generous: the machine is small and shared; the point is "not forever"


@pytest.fixture()
def generating(starter_model_path: Path) -> Iterator[tuple[subprocess.Popen, int]]:
    """`parley generate` streaming a long reply, and its engine process's pid."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "inference.cli", "generate", str(starter_model_path),
         "--mode", "text", "--prompt", "Once upon a time", "--temperature", "0",
         "--max-tokens", "3000", "--ctx", "4096", "--threads", "1"],
        cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    engines: list[int] = []
    try:
        assert proc.stdout is not None
        os.set_blocking(proc.stdout.fileno(), False)
        deadline = time.monotonic() + BOUND_S
        while time.monotonic() < deadline and not (proc.stdout.read(64) or b""):
            assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
            time.sleep(0.1)                      # until the reply has begun to stream
        engines = [p.pid for p in psutil.Process(proc.pid).children()
                   if "resource_tracker" not in " ".join(_cmdline(p))]
        assert len(engines) == 1
        yield proc, engines[0]
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(BOUND_S)
        for pid in engines:
            if psutil.pid_exists(pid):
                os.kill(pid, signal.SIGKILL)
        for stream in (proc.stdout, proc.stderr):
            if stream:
                stream.close()


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_cancels_generate_with_one_line_and_no_orphan(
        generating: tuple[subprocess.Popen, int], sig: signal.Signals) -> None:
    proc, engine = generating
    proc.send_signal(sig)
    assert proc.wait(BOUND_S) == 130
    err = proc.stderr.read().decode() if proc.stderr else ""
    assert err.splitlines()[-1] == "parley generate: cancelled"
    assert "Traceback" not in err
    assert _gone(engine)


def test_an_engine_crash_in_generate_speaks_of_the_command(
        generating: tuple[subprocess.Popen, int]) -> None:
    proc, engine = generating
    os.kill(engine, signal.SIGKILL)
    assert proc.wait(BOUND_S) == 1
    err = proc.stderr.read().decode() if proc.stderr else ""
    assert err.splitlines()[-1] == (
        "parley generate: error: The engine stopped unexpectedly (signal SIGKILL) while "
        "generating. Nothing else was affected; run the command again to retry.")
    assert "conversation" not in err


def _gone(pid: int) -> bool:
    deadline = time.monotonic() + BOUND_S
    while time.monotonic() < deadline:
        try:
            if psutil.Process(pid).status() == psutil.STATUS_ZOMBIE:
                return True
        except psutil.NoSuchProcess:
            return True
        time.sleep(0.1)
    return False


def _cmdline(proc: psutil.Process) -> list[str]:
    try:
        return proc.cmdline()
    except psutil.Error:
        return []
