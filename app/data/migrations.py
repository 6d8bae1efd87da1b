"""The conversation database's schema, as a named, ordered list of migration steps.

`PRAGMA user_version` holds how many steps a database has had. Append new steps at the end;
never edit or reorder a step that has shipped. Each step runs in one transaction together with
the bump of `user_version`, so a database is always at exactly one step of this list.
"""

from __future__ import annotations

import sqlite3
from typing import NamedTuple

from inference.common.errors import ParleyError


class Migration(NamedTuple):
    name: str
    sql: str


MIGRATIONS: tuple[Migration, ...] = (
    Migration("create_conversations_and_messages", """
        CREATE TABLE conversations (
            id            INTEGER PRIMARY KEY AUTOINCREMENT,  -- ids never reused: undo restores
            title         TEXT NOT NULL,
            mode          TEXT NOT NULL DEFAULT 'chat',
            system_prompt TEXT NOT NULL DEFAULT '',
            created_at    REAL NOT NULL,
            updated_at    REAL NOT NULL
        );
        CREATE TABLE messages (
            id              INTEGER PRIMARY KEY AUTOINCREMENT,
            conversation_id INTEGER NOT NULL
                            REFERENCES conversations(id) ON DELETE CASCADE,
            role            TEXT NOT NULL CHECK (role IN ('system', 'user', 'assistant')),
            content         TEXT NOT NULL DEFAULT '',
            mode            TEXT NOT NULL DEFAULT 'chat',
            model           TEXT NOT NULL DEFAULT '',
            sampling        TEXT NOT NULL DEFAULT '{}',  -- JSON object
            stats           TEXT,                        -- JSON object or NULL
            complete        INTEGER NOT NULL DEFAULT 1 CHECK (complete IN (0, 1)),
            finish_reason   TEXT,
            created_at      REAL NOT NULL
        );
    """),
    Migration("index_messages_and_recency", """
        CREATE INDEX messages_by_conversation ON messages (conversation_id, id);
        CREATE INDEX conversations_by_recency ON conversations (updated_at DESC, id DESC);
    """),
    Migration("create_perplexity_runs", """
        CREATE TABLE perplexity_texts (
            sha256      TEXT PRIMARY KEY,               -- of the text's UTF-8 bytes
            text        TEXT NOT NULL
        );
        CREATE TABLE perplexity_runs (
            id            INTEGER PRIMARY KEY AUTOINCREMENT,
            created_at    REAL NOT NULL,
            model_file    TEXT NOT NULL,                -- file name, e.g. model-Q4_K_M.gguf
            model_path    TEXT NOT NULL DEFAULT '',
            quant         TEXT NOT NULL DEFAULT '',
            text_sha256   TEXT NOT NULL,
            text_preview  TEXT NOT NULL DEFAULT '',
            text_chars    INTEGER NOT NULL DEFAULT 0,
            n_ctx         INTEGER NOT NULL,
            method        TEXT NOT NULL CHECK (method IN ('chunked', 'full')),
            ppl           REAL NOT NULL,
            ppl_se        REAL,                         -- NULL when undefined
            tokens_total  INTEGER NOT NULL DEFAULT 0,
            tokens_scored INTEGER NOT NULL DEFAULT 0,
            seconds       REAL NOT NULL DEFAULT 0
        );
        CREATE INDEX perplexity_runs_by_text ON perplexity_runs (text_sha256, created_at);
    """),
    Migration("add_message_reasoning", """
        ALTER TABLE messages ADD COLUMN reasoning TEXT NOT NULL DEFAULT '';  -- the thinking
    """),
    # Regenerate keeps the earlier replies: a turn is its first reply and the alternatives
    # regenerated for it (alternative_of = that first reply's id); exactly one of a turn's
    # replies is shown, and only the shown ones are the conversation (prompt, export).
    Migration("add_reply_alternatives", """
        ALTER TABLE messages ADD COLUMN alternative_of INTEGER;  -- NULL: the first reply of a turn
        ALTER TABLE messages ADD COLUMN shown INTEGER NOT NULL DEFAULT 1 CHECK (shown IN (0, 1));
        CREATE UNIQUE INDEX messages_one_shown_per_turn
            ON messages (coalesce(alternative_of, id)) WHERE shown = 1;
    """),
    # Which engine answered: '' this computer, else the remote engine's name (model says which
    # model, a file name or the server's model id).
    Migration("add_message_engine", """
        ALTER TABLE messages ADD COLUMN engine TEXT NOT NULL DEFAULT '';
    """),
    # The token inspector (inference/inspector), optional per conversation and off by default:
    # each reply's record in its own table, so the message rows and their queries stay as
    # they were; the record is inference.inspector.codec's compact bytes.
    Migration("add_token_inspections", """
        ALTER TABLE conversations ADD COLUMN inspect_tokens INTEGER NOT NULL DEFAULT 0
            CHECK (inspect_tokens IN (0, 1));
        CREATE TABLE token_inspections (
            message_id  INTEGER PRIMARY KEY REFERENCES messages(id) ON DELETE CASCADE,
            data        BLOB NOT NULL
        );
    """),
)


class SchemaTooNewError(ParleyError):
    """The database was written by a newer Parley with steps this version does not know."""

    def __init__(self, found: int, known: int) -> None:
        super().__init__(f"the conversation database is at schema version {found}, but this "
                         f"version of Parley knows only {known}; please update Parley")
        self.found = found
        self.known = known


def schema_version(conn: sqlite3.Connection) -> int:
    return int(conn.execute("PRAGMA user_version").fetchone()[0])


def migrate(conn: sqlite3.Connection,
            migrations: tuple[Migration, ...] = MIGRATIONS) -> list[str]:
    """Apply the steps `conn` has not had yet; return their names.

    `conn` must be in autocommit mode (`isolation_level=None`). Each step runs in its own
    `BEGIN IMMEDIATE` transaction that re-reads the version first, so two processes opening
    the same new database do not both run a step; a failing step is rolled back whole.
    """
    applied: list[str] = []
    while True:
        conn.execute("BEGIN IMMEDIATE")
        try:
            current = schema_version(conn)
            if current > len(migrations):
                raise SchemaTooNewError(current, len(migrations))
            if current == len(migrations):
                conn.execute("COMMIT")
                return applied
            step = migrations[current]
            for statement in split_statements(step.sql):
                conn.execute(statement)
            conn.execute(f"PRAGMA user_version = {current + 1}")
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        applied.append(step.name)


def split_statements(sql: str) -> list[str]:
    """Split a script into statements (a statement may span lines, but not share one)."""
    statements: list[str] = []
    buffer = ""
    for line in sql.splitlines(keepends=True):
        buffer += line
        if sqlite3.complete_statement(buffer):
            statements.append(buffer.strip())
            buffer = ""
    if buffer.strip():
        raise ValueError(f"incomplete SQL statement in migration: {buffer.strip()[:60]!r}")
    return statements
