"""Past perplexity runs in the conversation database (plain sqlite3; no Qt here).

A run remembers the model file, its quant, the text's fingerprint (SHA-256 of its UTF-8 bytes),
n_ctx, method and PPL ± SE, so the same text measured on another model can be compared. Texts
are kept once each (by fingerprint, up to `MAX_TEXT_CHARS`) so a past run's text can be reused.
The schema is a step of app/data/migrations.py; every sqlite3 error leaves as a StoreError. Use a
PplStore from one thread only.
"""

from __future__ import annotations

import hashlib
import math
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path

from app.data.migrations import SchemaTooNewError, migrate
from app.data.store import BUSY_TIMEOUT_S, StoreError
from app.data.store_errors import reads, writes

MAX_TEXT_CHARS = 2_000_000
PREVIEW_CHARS = 80
_COLUMNS = ("id, created_at, model_file, model_path, quant, text_sha256, text_preview, "
            "text_chars, n_ctx, method, ppl, ppl_se, tokens_total, tokens_scored, seconds")


def fingerprint(text: str) -> str:
    """The text's SHA-256 (hex); runs on the same text share it."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def preview(text: str, limit: int = PREVIEW_CHARS) -> str:
    line = " ".join(text.split())
    return line if len(line) <= limit else line[: limit - 1].rstrip() + "…"


@dataclass(frozen=True)
class PplRun:
    id: int
    created_at: float
    model_file: str
    model_path: str
    quant: str
    text_sha256: str
    text_preview: str
    text_chars: int
    n_ctx: int
    method: str
    ppl: float
    ppl_se: float            # NaN when undefined
    tokens_total: int
    tokens_scored: int
    seconds: float

    @property
    def short_fingerprint(self) -> str:
        return self.text_sha256[:12]


@dataclass(frozen=True)
class NewRun:
    """What a finished measurement adds to the history."""

    model_file: str
    model_path: str
    quant: str
    text: str
    n_ctx: int
    method: str
    ppl: float
    ppl_se: float
    tokens_total: int
    tokens_scored: int
    seconds: float


class PplStore:
    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.refusal = ""
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._conn = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_S,
                                         isolation_level=None)
        except (OSError, sqlite3.Error) as err:
            raise StoreError(f"{self.path} cannot be opened ({err})") from err
        try:
            self._conn.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_S * 1000)}")
            self._conn.execute("PRAGMA journal_mode = WAL")
            self._conn.execute("PRAGMA foreign_keys = ON")
            migrate(self._conn)
        except BaseException as err:
            self._conn.close()
            if isinstance(err, sqlite3.Error | SchemaTooNewError):
                raise StoreError(f"{self.path} is not a usable database ({err})") from err
            raise

    def _rollback(self) -> None:
        if self._conn.in_transaction:       # SQLite may have rolled back already (disk full)
            self._conn.execute("ROLLBACK")

    @writes
    def add(self, run: NewRun) -> PplRun:
        digest = fingerprint(run.text)
        now = time.time()
        se = None if math.isnan(run.ppl_se) else run.ppl_se
        values = (now, run.model_file, run.model_path, run.quant, digest, preview(run.text),
                  len(run.text), run.n_ctx, run.method, run.ppl, se, run.tokens_total,
                  run.tokens_scored, run.seconds)
        self._conn.execute("BEGIN IMMEDIATE")
        try:
            if len(run.text) <= MAX_TEXT_CHARS:
                self._conn.execute("INSERT OR IGNORE INTO perplexity_texts (sha256, text) "
                                   "VALUES (?, ?)", (digest, run.text))
            cur = self._conn.execute(
                f"INSERT INTO perplexity_runs ({_COLUMNS.split(', ', 1)[1]}) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", values)
            self._conn.execute("COMMIT")
        except BaseException:
            self._rollback()
            raise
        return PplRun(int(cur.lastrowid or 0), *values[:10], run.ppl_se, *values[11:])

    @reads
    def runs(self, text_sha256: str | None = None, limit: int = 500) -> list[PplRun]:
        """Newest first; only the runs on one text when `text_sha256` is given."""
        where, args = ("WHERE text_sha256 = ?", (text_sha256,)) if text_sha256 else ("", ())
        rows = self._conn.execute(
            f"SELECT {_COLUMNS} FROM perplexity_runs {where} ORDER BY created_at DESC, id DESC "
            "LIMIT ?", (*args, limit))
        return [_run(row) for row in rows]

    @reads
    def text(self, text_sha256: str) -> str | None:
        row = self._conn.execute("SELECT text FROM perplexity_texts WHERE sha256 = ?",
                                 (text_sha256,)).fetchone()
        return row[0] if row else None

    @writes
    def delete(self, run_id: int) -> None:
        """Remove a run (and its text, once no run uses it)."""
        self._conn.execute("BEGIN IMMEDIATE")
        try:
            self._conn.execute("DELETE FROM perplexity_runs WHERE id = ?", (run_id,))
            self._conn.execute("DELETE FROM perplexity_texts WHERE sha256 NOT IN "
                               "(SELECT text_sha256 FROM perplexity_runs)")
            self._conn.execute("COMMIT")
        except BaseException:
            self._rollback()
            raise

    def close(self) -> None:
        self._conn.close()


def _run(row: tuple) -> PplRun:
    values = list(row)
    values[11] = math.nan if values[11] is None else float(values[11])
    return PplRun(*values)
