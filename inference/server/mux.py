"""EngineMux: the parent's side of the server's engine child, many requests over one pipe.

The child is started by the one child-process layer (inference/host/process.py ChildProcess). One
reader thread receives every reply and hands it to the sink of the request its id names; sends
from any thread go through one lock. When the child dies, every request still in flight gets one
(ERROR, EngineCrashedError) and `on_death` is called with the same error.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import queue
import threading
from collections.abc import Callable
from typing import Any

from inference.common.errors import EngineCrashedError
from inference.host.bootstrap import ChildLogging
from inference.host.process import HANG_S, ChildGone, ChildHung, ChildProcess
from inference.server import engine_child, wire

log = logging.getLogger("parley.server")
Reply = tuple[Any, ...]              # a reply without its request id: (tag, *payload)
Sink = Callable[[Reply], None]       # called on the reader thread; must not block
CLOSE_S = 5.0                        # patience for the child to exit after CLOSE


class EngineMux:
    """One engine child; `open` starts a request whose replies go to `sink`."""

    def __init__(self, engine_spec: str, n_slots: int, *, verbose: bool | None = None,
                 hang_s: float = HANG_S,
                 on_death: Callable[[EngineCrashedError], None] | None = None) -> None:
        self._ids = itertools.count(1)
        self._sinks: dict[int, Sink] = {}
        self._lock = threading.Lock()
        self._closing = False
        self._on_death = on_death
        self._proc = ChildProcess.start(engine_child.main, engine_spec, n_slots,
                                        name="parley-serve-engine",
                                        logs=ChildLogging.of_parent("engine", verbose),
                                        hang_s=hang_s)
        self._reader = threading.Thread(target=self._read, name="parley-serve-reader",
                                        daemon=True)
        self._reader.start()

    @property
    def pid(self) -> int:
        return self._proc.pid

    @property
    def alive(self) -> bool:
        return not self._closing and self._reader.is_alive()

    def open(self, tag: str, *args: Any, sink: Sink) -> int:
        """Start request `(tag, *args)`; its replies go to `sink`, ending with RESULT or ERROR."""
        rid = next(self._ids)
        with self._lock:
            if self._closing or not self._reader.is_alive():
                dead = True
            else:
                dead = False
                self._sinks[rid] = sink
                try:
                    self._proc.send((tag, rid, *args))
                except ChildGone:
                    self._sinks.pop(rid, None)
                    dead = True
        if dead:
            sink((wire.ERROR, EngineCrashedError("The engine is not running.")))
        return rid

    def cancel(self, rid: int) -> None:
        """Ask the child to stop request `rid` (its end still comes as a RESULT or ERROR)."""
        with self._lock:
            if rid in self._sinks and not self._closing:
                with contextlib.suppress(ChildGone):
                    self._proc.send((wire.CANCEL, rid))

    def call(self, tag: str, *args: Any, progress: Callable[[Any], None] | None = None) -> Any:
        """Request `(tag, *args)` and wait for its result (raising its error)."""
        replies: queue.Queue[Reply] = queue.Queue()
        self.open(tag, *args, sink=replies.put)
        while True:
            reply = replies.get()
            if reply[0] == wire.EVENT:
                if progress is not None:
                    progress(reply[1])
                continue
            if reply[0] == wire.ERROR:
                raise reply[1]
            return reply[1]

    def in_flight(self) -> int:
        with self._lock:
            return len(self._sinks)

    def close(self) -> None:
        """Ask the child to exit (every request in it is cancelled); stop it if it does not."""
        with self._lock:
            if self._closing:
                return
            self._closing = True
            with contextlib.suppress(ChildGone):
                self._proc.send((wire.CLOSE,))
        self._reader.join(CLOSE_S)
        self._proc.stop(CLOSE_S)
        self._fail_all(EngineCrashedError("The server is shutting down."))

    def _read(self) -> None:
        try:
            while True:
                message = self._proc.receive()
                rid, reply = message[1], (message[0], *message[2:])
                with self._lock:
                    sink = (self._sinks.pop(rid, None) if message[0] in wire.ENDS
                            else self._sinks.get(rid))
                if sink is not None:
                    sink(reply)
        except (ChildGone, ChildHung) as gone:
            if self._closing:
                return
            hung = isinstance(gone, ChildHung)
            error = self._proc.crashed(lambda ended: (
                f"The engine stopped responding and was ended ({ended})" if hung else
                f"The engine stopped unexpectedly ({ended})") + "; the server is restarting it.",
                patience_s=0 if hung else CLOSE_S)
            log.error("engine process %d died: %s", self._proc.pid, error)
            self._fail_all(error)
            if self._on_death is not None:
                self._on_death(error)

    def _fail_all(self, error: EngineCrashedError) -> None:
        with self._lock:
            sinks, self._sinks = list(self._sinks.values()), {}
        for sink in sinks:
            sink((wire.ERROR, error))
