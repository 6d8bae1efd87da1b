"""Killing the GUI process itself mid-reply loses at most about a second of streamed text."""

from __future__ import annotations

import os
import queue
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import psutil
import pytest

from app.data.store import Store

pytestmark = [pytest.mark.model, pytest.mark.gui]

ROOT = Path(__file__).parents[2]
MESSAGE = "Write a long story about a lighthouse keeper and the sea."
GRACE_S = 1.5          # "about a second": the store saves a streaming reply every 0.5 s


def _lines(stream) -> queue.Queue[str | None]:
    """The driver's output lines, read on a thread so the test can wait with a timeout."""
    lines: queue.Queue[str | None] = queue.Queue()

    def pump() -> None:
        for line in stream:
            lines.put(line)
        lines.put(None)

    threading.Thread(target=pump, daemon=True).start()
    return lines


def test_sigkill_of_the_gui_mid_reply_keeps_the_message_and_partial_reply(
        starter_model_path, parley_home):
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "PARLEY_HOME": str(parley_home)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.support.gui_stream_driver", str(starter_model_path),
         MESSAGE], cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True)
    reports: list[tuple[float, int]] = []      # (time, chars) of the reply streaming now
    engine_pid = 0
    sent = ""
    try:
        lines = _lines(proc.stdout)
        deadline = time.time() + 240
        while True:
            remaining = deadline - time.time()
            assert remaining > 0, "no reply streamed for 3 s within the time limit"
            try:
                line = lines.get(timeout=remaining)
            except queue.Empty:
                continue
            assert line is not None, f"the app exited early (code {proc.wait(30)})"
            kind, _, rest = line.rstrip("\n").partition(" ")
            if kind == "PID":
                engine_pid = int(rest)
            elif kind == "SENT":
                sent, reports = rest, []
            elif kind == "LEN":
                stamp, chars = rest.split()
                reports.append((float(stamp), int(chars)))
                # streamed for a while (several saves): now pull the plug
                if len(reports) > 30 and reports[-1][0] - reports[0][0] > 3.0:
                    break
        killed_at = time.time()
        proc.send_signal(signal.SIGKILL)
        proc.wait(30)
    finally:
        if proc.poll() is None:
            proc.kill()

    database = Path(parley_home) / "data" / "parley.sqlite3"
    with sqlite3.connect(database) as raw:
        assert raw.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    store = Store(database)
    try:
        [conversation] = store.list_conversations()
        messages = store.messages(conversation.id)
    finally:
        store.close()
    user, reply = messages[-2:]
    assert messages[0].content == MESSAGE
    assert (user.role, user.content) == ("user", sent)
    assert all(m.complete for m in messages[:-1])
    assert reply.role == "assistant" and not reply.complete
    saved = len(reply.content)
    assert saved > 0
    # the window had more than what was saved for at most about a second before the kill
    first_beyond = next((t for t, n in reports if n > saved), killed_at)
    assert killed_at - first_beyond <= GRACE_S, (saved, reports[-5:])

    # the orphaned engine process notices its parent is gone and exits by itself (the driver
    # tells its pid before it sends, so it is always known here)
    assert engine_pid and engine_pid != proc.pid, f"no engine pid from the driver ({engine_pid})"
    try:
        psutil.Process(engine_pid).wait(timeout=30)
    except psutil.NoSuchProcess:
        pass
    assert not psutil.pid_exists(engine_pid) or \
        psutil.Process(engine_pid).status() == psutil.STATUS_ZOMBIE
