"""Open the history database whatever state it is in: the app always starts.

- sound: used as it is; a 0-byte file is said ("was empty") and used as a new database;
- damaged (truncated, a garbage header, a bad page) or not a file (a folder): moved aside, never
  deleted (recovery.py), what can be read is copied into a fresh database, and the notice says
  where the old file is;
- written by a newer Parley (`user_version` above ours): opened read-only, every write refused;
- its folder cannot be written (read-only, full): a database in memory, with what the file
  holds, and the notice says history will not be saved.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from pathlib import Path

from app.data.migrations import SchemaTooNewError
from app.data.recovery import Recovered, move_aside
from app.data.store import Access, Store
from app.data.store_errors import Problem, StoreError


class HistoryState(Enum):
    """How `open_history` found the database."""

    SOUND = "sound"
    EMPTY = "empty"              # a 0-byte file, used as a new database
    RECOVERED = "recovered"      # damaged: moved aside, readable rows copied
    READ_ONLY = "read-only"      # a newer Parley's schema
    MEMORY = "memory"            # cannot be written: kept in memory for this session


@dataclass(frozen=True)
class OpenedHistory:
    store: Store
    state: HistoryState
    notice: str = ""             # what to tell the person on start ("" when nothing)
    moved_to: Path | None = None


def open_history(path: Path) -> OpenedHistory:
    """The history at `path`, opened as well as it can be (never raises for its state)."""
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        return _in_memory(path, f"its folder cannot be created ({err.strerror or err})")
    if path.exists() and not path.is_file():
        kind = "a folder" if path.is_dir() else "not a regular file"
        return _start_afresh(path, f"{path} is {kind}, not a database")
    empty = path.is_file() and path.stat().st_size == 0
    try:
        store = Store(path)
    except SchemaTooNewError as err:
        return _read_only(path, err)
    except StoreError as err:
        if err.problem is Problem.DAMAGED:
            return _start_afresh(path, str(err.__cause__ or err))
        return _in_memory(path, f"it cannot be written ({err.__cause__ or err})", path)
    problem = store.check()
    if problem:
        store.close()
        return _start_afresh(path, problem)
    if empty:
        return OpenedHistory(store, HistoryState.EMPTY,
                             f"The history database {path} was empty; it is used as a new one.")
    return OpenedHistory(store, HistoryState.SOUND)


def _start_afresh(path: Path, reason: str) -> OpenedHistory:
    """Move the damaged `path` aside, copy what it holds into a new database there."""
    try:
        aside = move_aside(path)
    except OSError as err:
        return _in_memory(path, f"it is damaged ({reason}) and cannot be moved aside "
                                f"({err.strerror or err})", path if path.is_file() else None)
    try:
        store = Store(path)
    except StoreError as err:
        opened = _in_memory(path, f"a new one cannot be written ({err.__cause__ or err})",
                            aside if aside.is_file() else None)
        return OpenedHistory(opened.store, opened.state, f"The history database was damaged "
                             f"({reason}) and was moved to {aside}. {opened.notice}", aside)
    saved = _what_was_saved(store.import_rows(aside)) if aside.is_file() else ""
    return OpenedHistory(store, HistoryState.RECOVERED,
                         f"The history database was damaged ({reason}). It was moved to "
                         f"{aside} and a new one started{saved}.", aside)


def _read_only(path: Path, err: SchemaTooNewError) -> OpenedHistory:
    refusal = (f"This history was written by a newer Parley (schema version {err.found}; this "
               f"one knows {err.known}), so it is open read-only and nothing new is saved. "
               "Please update Parley.")
    try:
        store = Store(path, Access.READ_ONLY, refusal)
    except StoreError as again:
        return _in_memory(path, f"it cannot be read ({again.__cause__ or again})")
    return OpenedHistory(store, HistoryState.READ_ONLY, refusal)


def _in_memory(path: Path, reason: str, source: Path | None = None) -> OpenedHistory:
    """A history in memory (with what `source` holds): the app works, nothing is kept."""
    store = Store(path, Access.MEMORY)
    saved = ""
    if source is not None and source.is_file() and source.stat().st_size:
        got = store.import_rows(source)
        saved = "" if got.total == 0 else f" It shows what {source.name} holds."
    return OpenedHistory(store, HistoryState.MEMORY,
                         f"The history database {path} cannot be used: {reason}. Parley works "
                         f"in memory for now, and history will not be saved.{saved}")


def _what_was_saved(got: Recovered) -> str:
    convs, msgs = got.rows.get("conversations", 0), got.rows.get("messages", 0)
    if got.total == 0:
        return "; nothing could be read from it"
    lost = "" if not got.skipped else f" (parts that could not be read: {got.skipped})"
    return (f"; {convs} conversation(s) and {msgs} message(s) that could still be read were "
            f"copied into it{lost}")
