"""How a child process ended, named one way for every child: a POSIX signal ('SIGABRT'), a
Windows crash code (NTSTATUS, e.g. STATUS_ACCESS_VIOLATION), or a plain exit code.
"""

from __future__ import annotations

import signal
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

# Windows reports a native crash as an NTSTATUS exit code rather than a signal: (name, words).
WINDOWS_CRASHES: Mapping[int, tuple[str, str]] = MappingProxyType({
    0xC0000005: ("STATUS_ACCESS_VIOLATION", "access violation"),
    0xC000001D: ("STATUS_ILLEGAL_INSTRUCTION", "illegal instruction"),
    0xC0000017: ("STATUS_NO_MEMORY", "out of memory"),
    0xC0000094: ("STATUS_INTEGER_DIVIDE_BY_ZERO", "division by zero"),
    0xC00000FD: ("STATUS_STACK_OVERFLOW", "stack overflow"),
    0xC0000374: ("STATUS_HEAP_CORRUPTION", "heap corruption"),
    0xC0000409: ("STATUS_STACK_BUFFER_OVERRUN", "abort (fast fail)"),
})


@dataclass(frozen=True)
class ChildExit:
    """A child's exit status (`multiprocessing.Process.exitcode`: None while it runs)."""

    code: int | None

    @property
    def signal_name(self) -> str | None:
        """'SIGABRT' for a POSIX signal, 'STATUS_ACCESS_VIOLATION' for a Windows crash code,
        None for a plain exit."""
        crash = self._windows_crash()
        if crash is not None:
            return crash[0]
        if self.code is None or self.code >= 0:
            return None
        try:
            return signal.Signals(-self.code).name
        except ValueError:
            return f"signal {-self.code}"

    @property
    def crashed(self) -> bool:
        """Ended by a signal or a crash code, not by exiting."""
        return self.signal_name is not None

    def describe(self) -> str:
        """In words for a message or a log: 'signal SIGABRT', 'access violation', 'exit code 1'."""
        crash = self._windows_crash()
        if crash is not None:
            return crash[1]
        name = self.signal_name
        if name is not None:
            return name if name.startswith("signal") else f"signal {name}"
        return "no exit status" if self.code is None else f"exit code {self.code}"

    def __str__(self) -> str:
        return self.describe()

    def _windows_crash(self) -> tuple[str, str] | None:
        # a POSIX exit code is 0…255 or a negative signal, so the table never matches one
        return None if self.code is None else WINDOWS_CRASHES.get(self.code & 0xFFFFFFFF)
