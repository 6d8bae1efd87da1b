"""The installed Qt binding must not leak references on signal emits (PySide6 6.12.0 does).

PySide6-Essentials 6.12.0 on CPython < 3.12 drops a reference to `True` on every
`SignalInstance.emit()` and to `None` on every void method; a few thousand calls later the
interpreter aborts ("Fatal Python error: bool_dealloc"). pyproject.toml pins <6.12; this test
fails loudly if an environment gets the bad release anyway.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

pytestmark = pytest.mark.gui

CALLS = 1000
PROBE = f"""
import sys
CALLS = {CALLS}
from PySide6.QtCore import QCoreApplication, QObject, Signal
class Probe(QObject):
    ping = Signal()
app = QCoreApplication([])
probe = Probe()
before = sys.getrefcount(True), sys.getrefcount(None)
for _ in range(CALLS):
    probe.ping.emit()              # 6.12.0 drops a reference to True here
    probe.setObjectName("probe")   # ... and to None on every void method
after = sys.getrefcount(True), sys.getrefcount(None)
print(after[0] - before[0], after[1] - before[1])
"""


def test_signal_emit_and_void_calls_keep_reference_counts():
    result = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr
    true_delta, none_delta = map(int, result.stdout.split())
    # a leaking binding loses one reference per call; allow a little unrelated churn
    assert abs(true_delta) < CALLS // 10 and abs(none_delta) < CALLS // 10, (
        "this PySide6 leaks references on emit (6.12.0 does); install PySide6-Essentials<6.12")
