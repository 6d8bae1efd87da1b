"""Killing the GUI process itself mid-reply loses at most about a second of streamed text."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from app.store import Store

pytestmark = [pytest.mark.model, pytest.mark.gui]

ROOT = Path(__file__).parent.parent
MESSAGE = "Write a long story about a lighthouse keeper and the sea."
GRACE_S = 1.5          # "about a second": the store saves a streaming reply every 0.5 s


def test_sigkill_of_the_gui_mid_reply_keeps_the_message_and_partial_reply(
        starter_model_path, parley_home):
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "PARLEY_HOME": str(parley_home)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.drivers.gui_stream_driver", str(starter_model_path),
         MESSAGE], cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True)
    reports: list[tuple[float, int]] = []
    engine_pid = 0
    try:
        deadline = time.time() + 240
        for line in proc.stdout:
            kind, *rest = line.split()
            if kind == "PID":
                engine_pid = int(rest[0])
            elif kind == "LEN":
                reports.append((float(rest[0]), int(rest[1])))
                # streamed for a while (several saves): now pull the plug
                if len(reports) > 30 and reports[-1][0] - reports[0][0] > 3.0:
                    break
            assert time.time() < deadline, "the reply never streamed"
        killed_at = time.time()
        proc.send_signal(signal.SIGKILL)
        proc.wait(30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert reports, "no reply streamed before the kill"

    database = Path(parley_home) / "data" / "parley.sqlite3"
    with sqlite3.connect(database) as raw:
        assert raw.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    store = Store(database)
    try:
        [conversation] = store.list_conversations()
        user, reply = store.messages(conversation.id)
    finally:
        store.close()
    assert (user.role, user.content) == ("user", MESSAGE)
    assert reply.role == "assistant" and not reply.complete
    saved = len(reply.content)
    assert saved > 0
    # the window had more than what was saved for at most about a second before the kill
    first_beyond = next((t for t, n in reports if n > saved), killed_at)
    assert killed_at - first_beyond <= GRACE_S, (saved, reports[-5:])

    # the orphaned engine process notices its parent is gone and exits by itself
    if engine_pid:
        try:
            psutil.Process(engine_pid).wait(timeout=30)
        except psutil.NoSuchProcess:
            pass
        assert not psutil.pid_exists(engine_pid) or \
            psutil.Process(engine_pid).status() == psutil.STATUS_ZOMBIE
