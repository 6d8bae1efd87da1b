"""EngineSupervisor: keeps one engine child serving the model, and starts a new one when it dies.

The first load happens in `start` (its errors are the command's). When the child dies later, every
request in flight has already ended with an EngineCrashedError (mux.py); the supervisor logs it,
goes to LOADING (/health says so) and loads the same model in a fresh child, up to
RESTART_ATTEMPTS times in a row before it gives up (FAILED).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from enum import Enum
from typing import Any

from inference.common.errors import EngineCrashedError, ParleyError
from inference.engine.api import LoadedModel
from inference.engine.config import ModelConfig
from inference.server import wire
from inference.server.mux import EngineMux, Sink

log = logging.getLogger("parley.server")
RESTART_ATTEMPTS = 3
RESTART_PAUSE_S = 1.0


class EngineState(str, Enum):
    LOADING = "loading"      # the model is (re)loading; requests get 503
    READY = "ready"
    FAILED = "failed"        # it could not be started again
    STOPPED = "stopped"      # the server is shutting down


class EngineUnavailable(ParleyError):
    """No engine can take the request now (loading, failed, stopping)."""


class EngineSupervisor:
    """The server's engine: the model in a child process, restarted after a crash."""

    def __init__(self, config: ModelConfig, n_slots: int, engine_spec: str, *,
                 verbose: bool | None = None) -> None:
        self._config = config
        self._n_slots = n_slots
        self._spec = engine_spec
        self._verbose = verbose
        self._lock = threading.Lock()
        self._mux: EngineMux | None = None
        self._loaded: LoadedModel | None = None
        self._state = EngineState.LOADING
        self.restarts = 0

    @property
    def state(self) -> EngineState:
        return self._state

    @property
    def loaded(self) -> LoadedModel | None:
        return self._loaded

    @property
    def n_slots(self) -> int:
        return self._n_slots

    @property
    def pid(self) -> int | None:
        """The engine process's id while one runs."""
        mux = self._mux
        return mux.pid if mux is not None and mux.alive else None

    def start(self, progress: Callable[[float], None] | None = None) -> LoadedModel:
        """Start the engine and load the model (raises what the load raises)."""
        mux = EngineMux(self._spec, self._n_slots, verbose=self._verbose,
                        on_death=self._died)
        try:
            loaded = mux.call(wire.LOAD, self._config.to_dict(), progress=progress)
        except BaseException:
            mux.close()
            raise
        with self._lock:
            if self._state is EngineState.STOPPED:
                mux.close()
                raise EngineUnavailable("The server is shutting down.")
            self._mux, self._loaded, self._state = mux, loaded, EngineState.READY
        return loaded

    def submit(self, request: dict[str, Any], sink: Sink,
               options: dict[str, Any] | None = None) -> tuple[EngineMux, int]:
        """Start a generation (`GenerationRequest.to_dict()`, `ParsedRequest.options()`); its
        replies go to `sink`."""
        with self._lock:
            mux, state = self._mux, self._state
        if mux is None or state is not EngineState.READY:
            raise EngineUnavailable(_UNAVAILABLE[state])
        return mux, mux.open(wire.SUBMIT, request, options or {}, sink=sink)

    def close(self) -> None:
        with self._lock:
            self._state = EngineState.STOPPED
            mux, self._mux = self._mux, None
        if mux is not None:
            mux.close()

    def _died(self, error: EngineCrashedError) -> None:
        """On the dead engine's reader thread: start a new engine with the same model."""
        with self._lock:
            if self._state is EngineState.STOPPED:
                return
            self._state, self._mux = EngineState.LOADING, None
        log.warning("the engine process died (%s); starting a new engine with %s",
                    error.exit_signal or "no signal", self._config.path.name)
        threading.Thread(target=self._restart, name="parley-serve-restart", daemon=True).start()

    def _restart(self) -> None:
        for attempt in range(1, RESTART_ATTEMPTS + 1):
            try:
                self.start()
            except EngineUnavailable:
                return
            except Exception as exc:  # noqa: BLE001 - logged, then tried again
                log.error("restarting the engine failed (attempt %d of %d): %s", attempt,
                          RESTART_ATTEMPTS, exc)
                time.sleep(RESTART_PAUSE_S)
                continue
            self.restarts += 1
            log.warning("the engine is back (process %s, %s)", self.pid,
                        self._config.path.name)
            return
        with self._lock:
            if self._state is not EngineState.STOPPED:
                self._state = EngineState.FAILED
        log.error("the engine could not be started again; the server answers 503")


_UNAVAILABLE = {
    EngineState.LOADING: "The model is loading; try again in a moment.",
    EngineState.FAILED: "The engine stopped and could not be started again; restart the server.",
    EngineState.STOPPED: "The server is shutting down.",
    EngineState.READY: "The engine is not running.",
}
