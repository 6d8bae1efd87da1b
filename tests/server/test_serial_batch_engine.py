"""SerialBatchEngine (the stand-in of tests/support) has BatchEngine's public members with the
same signatures, compared on the live classes."""

from __future__ import annotations

import inspect

from inference.batching.engine import BatchEngine
from tests.support.serial_batch_engine import SerialBatchEngine

SERVER_USES = ("loaded", "n_slots", "load", "submit", "queue_length", "active_slots",
               "tokenize", "render", "close")


def test_the_stand_in_matches_batch_engine() -> None:
    for name in SERVER_USES:
        real, stand_in = (inspect.getattr_static(cls, name)
                          for cls in (BatchEngine, SerialBatchEngine))
        assert isinstance(real, property) == isinstance(stand_in, property), name
        if not isinstance(real, property):
            assert inspect.signature(real) == inspect.signature(stand_in), name
    assert inspect.signature(BatchEngine.__init__) == inspect.signature(
        SerialBatchEngine.__init__)
