"""The store's tables, and the explicit step from each schema version to the next."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable

SCHEMA_VERSION = 3

SCHEMA_V1 = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS job_sets (
    id TEXT PRIMARY KEY, name TEXT NOT NULL, tags TEXT NOT NULL, share_level TEXT,
    backend_name TEXT NOT NULL, run_config TEXT NOT NULL, options TEXT NOT NULL,
    created_at REAL NOT NULL, finished_at REAL, owner_host TEXT, owner_pid INTEGER,
    circuits BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS chunks (
    job_set_id TEXT NOT NULL REFERENCES job_sets(id) ON DELETE CASCADE,
    idx INTEGER NOT NULL, start_index INTEGER NOT NULL, end_index INTEGER NOT NULL,
    shots INTEGER, state TEXT NOT NULL, job_id TEXT, status TEXT, attempts INTEGER NOT NULL,
    error TEXT, note TEXT, submitted_at REAL, finished_at REAL, previous_job_ids TEXT NOT NULL,
    results TEXT,
    PRIMARY KEY (job_set_id, idx)
);
CREATE INDEX IF NOT EXISTS job_sets_created ON job_sets(created_at);
"""


def _to_schema_2(db: sqlite3.Connection) -> None:
    """Schema 2: parameter sweeps (experiments' shots and values, chunks' point slices),
    sampler results as bit arrays and each chunk's QPU usage. Rows of schema 1 read as bound
    circuits and counts, with no usage."""
    db.execute("ALTER TABLE job_sets ADD COLUMN experiments TEXT")
    db.execute("ALTER TABLE job_sets ADD COLUMN experiment_values BLOB")
    db.execute("ALTER TABLE chunks ADD COLUMN points TEXT")
    db.execute("ALTER TABLE chunks ADD COLUMN arrays BLOB")
    db.execute("ALTER TABLE chunks ADD COLUMN usage_seconds REAL")


def _to_schema_3(db: sqlite3.Connection) -> None:
    """Schema 3: big sets. A set's row holds its sizes and its chunk plan (npz), so it can be
    written at once; its circuits follow in blocks of experiments (QPY, with each experiment's
    name, shots, shape and values), written in chunk order off the caller's thread and read
    only when a circuit is needed. Sets of schema 2 keep their circuits in their own row."""
    db.execute("ALTER TABLE job_sets ADD COLUMN num_experiments INTEGER")
    db.execute("ALTER TABLE job_sets ADD COLUMN num_chunks INTEGER")
    db.execute("ALTER TABLE job_sets ADD COLUMN plan BLOB")
    db.execute(
        "CREATE TABLE IF NOT EXISTS circuit_blocks ("
        "job_set_id TEXT NOT NULL REFERENCES job_sets(id) ON DELETE CASCADE, "
        "first INTEGER NOT NULL, last INTEGER NOT NULL, qpy BLOB NOT NULL, "
        "experiments TEXT NOT NULL, experiment_values BLOB, PRIMARY KEY (job_set_id, first))"
    )


# Explicit steps from each version to the next; the store refuses files newer than it knows.
MIGRATIONS: dict[int, Callable[[sqlite3.Connection], None]] = {1: _to_schema_2, 2: _to_schema_3}
