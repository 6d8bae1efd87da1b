"""Saving what can be saved from a damaged history database (plain sqlite3; no Qt here).

`move_aside` renames the file (with its -wal and -shm) to `<name>.damaged-YYYYmmdd-HHMMSS`; it
is never deleted. `copy_readable` copies every row SQLite can still read, table by table of the
known schema, into a fresh database: Python's sqlite3 has no `.recover`, so it reads in rowid
order and, where a page cannot be read, seeks past it and goes on. A file cut short mid-page is
read from a copy of its whole pages (SQLite would fill the cut page with zeros).
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

SIDE_FILES = ("-wal", "-shm")
MAX_SKIPS = 10_000                   # bad stretches skipped per table before giving up on it
_MIN_ROWID, _MAX_ROWID = -(2**63), 2**63 - 1


@dataclass
class Recovered:
    """What `copy_readable` saved: rows per table, and the stretches it could not read."""

    rows: dict[str, int] = field(default_factory=dict)
    skipped: int = 0                 # unreadable stretches (a bad page, a bad row)
    unreadable: list[str] = field(default_factory=list)   # tables not read at all

    @property
    def total(self) -> int:
        return sum(self.rows.values())


def aside_name(path: Path, now: float | None = None) -> Path:
    """A free name beside `path`: history.db → history.db.damaged-20250101-120000(-2…)."""
    stamp = time.strftime("%Y%m%d-%H%M%S", time.localtime(now))
    candidate = path.with_name(f"{path.name}.damaged-{stamp}")
    n = 2
    while any(Path(f"{candidate}{s}").exists() or Path(f"{candidate}{s}").is_symlink()
              for s in ("", *SIDE_FILES)):
        candidate = path.with_name(f"{path.name}.damaged-{stamp}-{n}")
        n += 1
    return candidate


def move_aside(path: Path) -> Path:
    """Rename `path` (a file or a folder) and its -wal / -shm; OSError when it cannot."""
    target = aside_name(path)
    os.rename(path, target)
    for suffix in SIDE_FILES:
        side = Path(f"{path}{suffix}")
        if side.exists():
            try:
                os.rename(side, f"{target}{suffix}")
            except OSError:
                pass                 # the main file moved: a stale side file does no harm
    return target


def open_source(path: Path) -> sqlite3.Connection:
    """`path` read-only, never changing it; its WAL is used when it can be, else ignored.
    `writable_schema` (only a flag on a read-only connection) makes SQLite read a truncated
    file up to its real end instead of refusing it whole, as the CLI's `.recover` does."""
    uri = path.resolve().as_uri()
    conn: sqlite3.Connection | None = None
    for query in ("mode=ro", "mode=ro&immutable=1"):
        try:
            conn = sqlite3.connect(f"{uri}?{query}", uri=True, isolation_level=None)
            conn.execute("PRAGMA writable_schema = ON")
            conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
            return conn
        except sqlite3.DatabaseError:
            if conn is not None:
                conn.close()
    raise sqlite3.DatabaseError(f"{path} cannot be read at all")


def copy_readable(source: Path, target: sqlite3.Connection) -> Recovered:
    """Copy what can be read of `source` into `target`'s tables (same names, same columns);
    messages whose conversation was lost get a conversation "Recovered messages"."""
    got = Recovered()
    with _whole_pages(source) as readable:
        try:
            src = open_source(readable)
        except sqlite3.Error:
            got.unreadable.append("*")
            return got
        _copy_all(src, target, got)
    return got


def _copy_all(src: sqlite3.Connection, target: sqlite3.Connection, got: Recovered) -> None:
    tables = [r[0] for r in target.execute(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' "
        "ORDER BY rowid")]
    target.execute("PRAGMA foreign_keys = OFF")
    target.execute("BEGIN IMMEDIATE")
    try:
        for table in tables:
            _copy_table(src, target, table, got)
        _adopt_orphans(target, tables)
        target.execute("COMMIT")
    except BaseException:
        if target.in_transaction:
            target.execute("ROLLBACK")
        raise
    finally:
        target.execute("PRAGMA foreign_keys = ON")
        src.close()


@contextmanager
def _whole_pages(source: Path) -> Iterator[Path]:
    """`source`, or a temporary copy of its whole pages when its end cuts a page short."""
    try:
        with open(source, "rb") as f:
            header = f.read(100)
        size = source.stat().st_size
    except OSError:
        yield source
        return
    page = int.from_bytes(header[16:18], "big") if header.startswith(b"SQLite format 3\0") else 0
    page = 65536 if page == 1 else page
    if not page or size % page == 0:
        yield source
        return
    with tempfile.TemporaryDirectory(prefix="parley-recover-") as folder:
        copy = Path(folder) / source.name
        with open(source, "rb") as src, open(copy, "wb") as dst:
            dst.write(src.read(size - size % page))
        wal = Path(f"{source}-wal")
        if wal.is_file():
            shutil.copyfile(wal, f"{copy}-wal")
        yield copy


def _columns(conn: sqlite3.Connection, table: str) -> list[str]:
    return [r[1] for r in conn.execute(f'PRAGMA table_info("{table}")')]


def _copy_table(src: sqlite3.Connection, target: sqlite3.Connection, table: str,
                got: Recovered) -> None:
    wanted = _columns(target, table)
    try:
        have = set(_columns(src, table))
    except sqlite3.DatabaseError:
        got.unreadable.append(table)
        return
    columns = [c for c in wanted if c in have]
    if not columns:
        got.unreadable.append(table)
        return
    names = ", ".join(f'"{c}"' for c in columns)
    insert = (f'INSERT OR IGNORE INTO "{table}" ({names}) '
              f"VALUES ({', '.join('?' * len(columns))})")
    count = 0
    for row in _readable_rows(src, table, names, got):
        count += target.execute(insert, row).rowcount
    got.rows[table] = count


def _readable_rows(src: sqlite3.Connection, table: str, names: str,
                   got: Recovered) -> Iterator[tuple]:
    """The table's rows in rowid order, skipping the stretches that raise."""
    after = _MIN_ROWID
    skips = 0
    while skips <= MAX_SKIPS:
        try:
            for row in src.execute(f'SELECT rowid, {names} FROM "{table}" WHERE rowid > ? '
                                   "ORDER BY rowid", (after,)):
                after = row[0]
                yield row[1:]
            return
        except sqlite3.DatabaseError:
            skips += 1
            got.skipped += 1
            nxt = _next_readable(src, table, after)
            if nxt is None:
                return
            after = nxt


def _next_readable(src: sqlite3.Connection, table: str, after: int) -> int | None:
    """The smallest bound past `after` from which a seek works (the rows in between are lost):
    doubling steps until one works, then halving back; None when none does."""
    step = 1
    while after + step < _MAX_ROWID and not _seeks(src, table, after + step):
        step *= 2
    if after + step >= _MAX_ROWID:
        return None
    low, high = after + step // 2, after + step         # low fails (or is `after`), high works
    while high - low > 1:
        mid = (low + high) // 2
        low, high = (low, mid) if _seeks(src, table, mid) else (mid, high)
    return high


def _seeks(src: sqlite3.Connection, table: str, bound: int) -> bool:
    try:
        src.execute(f'SELECT rowid FROM "{table}" WHERE rowid > ? ORDER BY rowid LIMIT 1',
                    (bound,)).fetchall()
    except sqlite3.DatabaseError:
        return False
    return True


def _adopt_orphans(target: sqlite3.Connection, tables: list[str]) -> None:
    if "messages" not in tables or "conversations" not in tables:
        return
    target.execute(
        "INSERT INTO conversations (id, title, mode, system_prompt, created_at, updated_at) "
        "SELECT conversation_id, 'Recovered messages', 'chat', '', min(created_at), "
        "max(created_at) FROM messages WHERE conversation_id NOT IN "
        "(SELECT id FROM conversations) GROUP BY conversation_id")
