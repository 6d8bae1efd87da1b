"""llama.cpp's own log, captured: forwarded to Python logging and kept in a ring buffer.

llama.cpp has one process-wide log callback, so this module holds the one `NATIVE_LOG`
that installs it; failures quote its last error line ("Failed to create llama_context" says why).
"""

from __future__ import annotations

import collections
import ctypes
import logging
import threading

import llama_cpp

LOGGER = logging.getLogger("parley.llama_cpp")
# ggml_log_level: NONE 0, DEBUG 1, INFO 2, WARN 3, ERROR 4, CONT 5 (continues the last line)
_LEVELS = {0: logging.CRITICAL, 1: logging.DEBUG, 2: logging.INFO, 3: logging.WARNING,
           4: logging.ERROR}
_ERROR = 4
_WARN = 3
_CONT = 5


class NativeLog:
    def __init__(self, keep: int = 400) -> None:
        self._lines: collections.deque[tuple[int, int, str]] = collections.deque(maxlen=keep)
        self._seq = 0
        self._partial = ""
        self._level = 2
        self._lock = threading.Lock()
        self._callback = llama_cpp.llama_log_callback(self._on_log)
        self._installed = False

    def install(self) -> None:
        if self._installed:
            return
        llama_cpp.llama_log_set(self._callback, ctypes.c_void_p(0))
        llama_cpp.llama_backend_init()
        self._installed = True

    def _on_log(self, level: int, text: bytes, _user: ctypes.c_void_p) -> None:
        chunk = text.decode("utf-8", "replace") if text else ""
        with self._lock:
            if level != _CONT:
                self._level = level
            self._partial += chunk
            while "\n" in self._partial:
                line, self._partial = self._partial.split("\n", 1)
                if line.strip():
                    self._seq += 1
                    self._lines.append((self._seq, self._level, line.rstrip()))
                    LOGGER.log(_LEVELS.get(self._level, logging.DEBUG), "%s", line.rstrip())

    def mark(self) -> int:
        """A position in the log; pass it as `since` to look only at what came after."""
        with self._lock:
            return self._seq

    def lines(self, since: int = 0) -> list[str]:
        with self._lock:
            return [text for seq, _lvl, text in self._lines if seq > since]

    def tail(self, n: int = 20) -> list[str]:
        with self._lock:
            return [text for _seq, _lvl, text in list(self._lines)[-n:]]

    def last_error(self, since: int = 0) -> str | None:
        """The last error (or else warning) line logged after `since`, tidied for people."""
        with self._lock:
            recent = [(lvl, text) for seq, lvl, text in self._lines if seq > since]
        for wanted in (_ERROR, _WARN):
            lines = [text for lvl, text in recent if lvl == wanted]
            specific = [t for t in lines if not any(g in t for g in _GENERIC)]
            if specific or lines:
                return _tidy((specific or lines)[-1])
        return None


# Lines that only say "it failed"; an earlier line usually says why.
_GENERIC = ("failed to load model", "failed to initialize the context", "failed to create context")


def _tidy(line: str) -> str:
    # "llama_model_load: error loading model: unknown model architecture: 'x'" → after the prefix
    for marker in ("error loading model: ", "llama_model_loader: ", "llama_init_from_model: ",
                   "llama_model_load: "):
        if marker in line:
            line = line.split(marker, 1)[1]
    return line.strip()


NATIVE_LOG = NativeLog()
