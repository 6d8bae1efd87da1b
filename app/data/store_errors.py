"""The store's errors: every sqlite3 error leaves `app.data` as a StoreError with one sentence.

`store_errors("save to")` wraps a write, `store_errors("read")` a read; the message says what
went wrong in words ("disk full", "the file is damaged", …) followed by SQLite's own text.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from enum import Enum
from functools import wraps
from typing import Concatenate, ParamSpec, Protocol, TypeVar

from inference.common.errors import ParleyError

P = ParamSpec("P")
R = TypeVar("R")


class Problem(Enum):
    """What kind of trouble a store error is, for whoever decides what to do next."""

    FULL = "disk full"
    READ_ONLY = "read-only"
    DAMAGED = "the file is damaged"
    BUSY = "another program is using it"
    CANNOT_OPEN = "the file cannot be opened"
    DISK = "a disk error"
    OTHER = "an error"


_PROBLEMS = {
    "SQLITE_FULL": Problem.FULL, "SQLITE_READONLY": Problem.READ_ONLY,
    "SQLITE_CORRUPT": Problem.DAMAGED, "SQLITE_NOTADB": Problem.DAMAGED,
    "SQLITE_BUSY": Problem.BUSY, "SQLITE_LOCKED": Problem.BUSY,
    "SQLITE_CANTOPEN": Problem.CANNOT_OPEN, "SQLITE_PERM": Problem.READ_ONLY,
    "SQLITE_IOERR": Problem.DISK,
}


class StoreError(ParleyError):
    """The history database could not do what was asked."""

    def __init__(self, message: str, problem: Problem = Problem.OTHER) -> None:
        super().__init__(message)
        self.problem = problem


class NotFoundError(StoreError, LookupError):
    """No conversation (or message) with that id."""


def problem_of(err: sqlite3.Error) -> Problem:
    """The kind of an sqlite3 error, from its primary result code."""
    name = getattr(err, "sqlite_errorname", "") or ""
    for prefix, problem in _PROBLEMS.items():
        if name == prefix or name.startswith(prefix + "_"):
            return problem
    return Problem.OTHER


def store_error(err: sqlite3.Error, action: str = "save to") -> StoreError:
    """The StoreError for `err`: "Could not save to the history database (disk full: …)"."""
    problem = problem_of(err)
    detail = str(err) if problem is Problem.OTHER else f"{problem.value}: {err}"
    return StoreError(f"Could not {action} the history database ({detail}).", problem)


@contextmanager
def store_errors(action: str = "save to") -> Iterator[None]:
    """Turn any sqlite3 error raised inside into a StoreError."""
    try:
        yield
    except sqlite3.Error as err:
        raise store_error(err, action) from err


class _Guarded(Protocol):
    refusal: str


S = TypeVar("S", bound=_Guarded)


def writes(method: Callable[Concatenate[S, P], R]) -> Callable[Concatenate[S, P], R]:
    """A store method that writes: refused with the store's `refusal` (a read-only history),
    and any sqlite3 error raised as a StoreError."""
    @wraps(method)
    def guarded(self: S, *args: P.args, **kwargs: P.kwargs) -> R:
        if self.refusal:
            raise StoreError(self.refusal, Problem.READ_ONLY)
        with store_errors("save to"):
            return method(self, *args, **kwargs)
    return guarded


def reads(method: Callable[Concatenate[S, P], R]) -> Callable[Concatenate[S, P], R]:
    """A store method that only reads: any sqlite3 error raised as a StoreError."""
    @wraps(method)
    def guarded(self: S, *args: P.args, **kwargs: P.kwargs) -> R:
        with store_errors("read"):
            return method(self, *args, **kwargs)
    return guarded
