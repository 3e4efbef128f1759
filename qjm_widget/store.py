"""The SQLite store: job sets, chunks, results (JSON, sampler bit arrays as npz), circuits (QPY)
and parameter values (npz).

Every change is written as it happens, in its own transaction, so a crash loses at most the
change in flight. Loading runs no code from the file: rows are JSON and QPY, never pickle, never
eval, and numpy arrays are read with ``allow_pickle=False``. Several processes may share one
file (WAL journal, busy timeout).
"""

from __future__ import annotations

import json
import os
import pathlib
import socket
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from qiskit.providers import JobStatus

from .chunk import ChunkState, ManagedJob
from .store_format import (
    StoreError,
    circuits_from_qpy,
    circuits_to_qpy,
    experiments_from_rows,
    experiments_to_rows,
    slice_results_from_rows,
    slice_results_to_rows,
    to_json,
)
from .workload import Experiment, slices_of

SCHEMA_VERSION = 2
APPLICATION = "qjm_widget"
STORE_ENV_VAR = "QJM_WIDGET_STORE"
BUSY_TIMEOUT_S = 30.0

_SCHEMA_V1 = """
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


# Explicit steps from each version to the next; the store refuses files newer than it knows.
MIGRATIONS: dict[int, Callable[[sqlite3.Connection], None]] = {1: _to_schema_2}


def default_store_path() -> pathlib.Path:
    """``$QJM_WIDGET_STORE`` if set, else ``jobsets.sqlite3`` in the user's data folder."""
    configured = os.environ.get(STORE_ENV_VAR)
    if configured:
        return pathlib.Path(configured).expanduser()
    import platformdirs

    return pathlib.Path(platformdirs.user_data_dir(APPLICATION)) / "jobsets.sqlite3"


@dataclass(frozen=True, slots=True)
class StoredJobSet:
    """A job set as the store keeps it: plain data, no live jobs."""

    job_set_id: str
    name: str
    tags: list[str]
    share_level: str | None
    backend_name: str
    run_config: dict[str, Any]
    options: dict[str, Any]
    created_at: float
    finished_at: float | None
    owner: tuple[str | None, int | None]
    experiments: list[Experiment]
    chunks: list[ManagedJob]


class Store:
    """One SQLite file of job sets. Thread-safe; share the file between processes freely."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = pathlib.Path(path).expanduser()
        self._lock = threading.Lock()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(
            self.path, timeout=BUSY_TIMEOUT_S, isolation_level=None, check_same_thread=False
        )
        try:
            self._open()
        except StoreError:
            self._db.close()
            raise
        except sqlite3.DatabaseError as exc:
            self._db.close()
            raise StoreError(
                f"{self.path} is not a qjm_widget store (corrupt or foreign file: {exc}); "
                "it was left untouched: pass another path with JobManager(store=...)"
            ) from exc

    def _open(self) -> None:
        tables = {
            row[0] for row in self._db.execute("SELECT name FROM sqlite_master WHERE type='table'")
        }
        if tables and "meta" not in tables:
            raise StoreError(
                f"{self.path} is an SQLite file but not a qjm_widget store (tables: "
                f"{', '.join(sorted(tables)) or 'none'}); it was left untouched"
            )
        if "meta" in tables:
            self._check_meta()  # before anything writes: the pragmas below change the file
        self._enter_wal()
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute("PRAGMA foreign_keys=ON")
        if "meta" not in tables:
            # One transaction: another process opening the new file at the same moment must
            # never see the meta table without its rows. Created at schema 1, then migrated
            # like any older file.
            with self._transaction() as db:
                db.executescript(
                    "BEGIN IMMEDIATE;"
                    + _SCHEMA_V1
                    + f"INSERT OR IGNORE INTO meta VALUES ('application', '{APPLICATION}');"
                    "INSERT OR IGNORE INTO meta VALUES ('schema_version', '1');"
                    "COMMIT;"
                )
        version = self._check_meta()
        while version < SCHEMA_VERSION:
            with self._transaction() as db:
                db.execute("BEGIN IMMEDIATE")
                # Read again under the write lock: another process opening the same file may
                # have taken this step since (both saw the older version before either wrote).
                version = self._check_meta()
                if version < SCHEMA_VERSION:
                    MIGRATIONS[version](db)
                    version += 1
                    db.execute(
                        "UPDATE meta SET value=? WHERE key='schema_version'", (str(version),)
                    )
                db.execute("COMMIT")

    def close(self) -> None:
        """Close the file; the store is unusable afterwards."""
        with self._lock:
            self._db.close()

    def _enter_wal(self) -> None:
        # SQLite answers "database is locked" at once, without its busy handler, when another
        # process holds the file while this one switches the journal to WAL (two processes
        # opening a new file together), so the switch is tried again until the busy timeout.
        deadline = time.monotonic() + BUSY_TIMEOUT_S
        pause = 0.005
        while True:
            try:
                self._db.execute("PRAGMA journal_mode=WAL")
                return
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) or time.monotonic() > deadline:
                    raise
            time.sleep(pause)
            pause = min(pause * 2, 0.1)

    def _check_meta(self) -> int:
        """The file's schema version, once it is known to be ours and not newer than us."""
        try:
            meta = dict(self._db.execute("SELECT key, value FROM meta").fetchall())
        except (sqlite3.DatabaseError, ValueError, TypeError) as exc:
            raise StoreError(f"{self.path} is not a qjm_widget store: {exc}") from exc
        if meta.get("application") != APPLICATION:
            raise StoreError(f"{self.path} is not a qjm_widget store; it was left untouched")
        try:
            version = int(meta.get("schema_version", "0"))
        except ValueError as exc:
            raise StoreError(f"{self.path} has an unreadable schema version") from exc
        if version > SCHEMA_VERSION:
            raise StoreError(
                f"{self.path} has schema version {version}, newer than this qjm_widget knows "
                f"({SCHEMA_VERSION}); upgrade qjm_widget. The file was left untouched"
            )
        return version

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            try:
                yield self._db
            except BaseException:
                if self._db.in_transaction:
                    self._db.execute("ROLLBACK")
                raise

    def _write(self, statements: Sequence[tuple[str, Sequence[Any]]]) -> None:
        with self._transaction() as db:
            db.execute("BEGIN IMMEDIATE")
            for sql, params in statements:
                db.execute(sql, params)
            db.execute("COMMIT")

    # -- writing --------------------------------------------------------------------------

    def add_job_set(self, record: StoredJobSet) -> None:
        host, pid = record.owner
        values = (
            record.job_set_id,
            record.name,
            to_json(record.tags),
            record.share_level,
            record.backend_name,
            to_json(record.run_config),
            to_json(record.options),
            record.created_at,
            record.finished_at,
            host,
            pid,
            circuits_to_qpy([e.circuit for e in record.experiments]),
            *experiments_to_rows(record.experiments),
        )
        statements: list[tuple[str, Sequence[Any]]] = [
            (f"INSERT INTO job_sets VALUES ({_row_of(values)})", values)
        ]
        statements += [
            self._chunk_row(record.job_set_id, c, with_results=True) for c in record.chunks
        ]
        self._write(statements)

    @staticmethod
    def _chunk_row(
        job_set_id: str, chunk: ManagedJob, with_results: bool
    ) -> tuple[str, Sequence[Any]]:
        results, arrays = (
            slice_results_to_rows(chunk.results)
            if with_results and chunk.results is not None
            else (None, None)
        )
        values = (
            job_set_id,
            chunk.index,
            chunk.start_index,
            chunk.end_index,
            chunk.shots,
            chunk.state.value,
            chunk.job_id,
            None if chunk.job_status is None else chunk.job_status.name,
            chunk.attempts,
            chunk.error,
            chunk.note,
            chunk.submitted_at,
            chunk.finished_at,
            to_json(chunk.previous_job_ids),
            results,
            None if chunk.points is None else to_json(list(chunk.points)),
            arrays,
            chunk.usage_seconds,
        )
        if with_results:
            return (
                f"INSERT OR REPLACE INTO chunks VALUES ({_row_of(values)})",
                values,
            )
        # Without new results, keep the ones stored (a retry replaces them only once it is DONE).
        return (
            f"INSERT INTO chunks VALUES ({_row_of(values)}) "
            "ON CONFLICT (job_set_id, idx) DO UPDATE SET state=excluded.state, "
            "job_id=excluded.job_id, status=excluded.status, attempts=excluded.attempts, "
            "error=excluded.error, note=excluded.note, submitted_at=excluded.submitted_at, "
            "finished_at=excluded.finished_at, previous_job_ids=excluded.previous_job_ids, "
            "usage_seconds=excluded.usage_seconds",
            values,
        )

    def save_chunk(self, job_set_id: str, chunk: ManagedJob, with_results: bool) -> None:
        self._write([self._chunk_row(job_set_id, chunk, with_results)])

    def save_chunks(self, job_set_id: str, chunks: Sequence[ManagedJob]) -> None:
        self._write([self._chunk_row(job_set_id, c, with_results=False) for c in chunks])

    def save_job_set_fields(self, job_set_id: str, **fields: Any) -> None:
        allowed = {"name", "tags", "finished_at", "owner_host", "owner_pid"}
        assert set(fields) <= allowed, fields
        values = [to_json(v) if k == "tags" else v for k, v in fields.items()]
        assignments = ", ".join(f"{k}=?" for k in fields)
        self._write([(f"UPDATE job_sets SET {assignments} WHERE id=?", (*values, job_set_id))])

    def delete(self, job_set_id: str) -> bool:
        with self._transaction() as db:
            db.execute("BEGIN IMMEDIATE")
            db.execute("DELETE FROM chunks WHERE job_set_id=?", (job_set_id,))
            deleted = db.execute("DELETE FROM job_sets WHERE id=?", (job_set_id,)).rowcount
            db.execute("COMMIT")
        return bool(deleted)

    # -- reading --------------------------------------------------------------------------

    def job_set_ids(
        self, name: str | None = None, tags: Sequence[str] | None = None, limit: int | None = None
    ) -> list[str]:
        """Ids of stored sets, newest first; ``tags``: sets carrying all of them."""
        with self._transaction() as db:
            rows = db.execute(
                "SELECT id, name, tags FROM job_sets ORDER BY created_at DESC"
            ).fetchall()
        wanted = set(tags or [])
        ids = [
            row[0]
            for row in rows
            if (name is None or row[1] == name) and wanted <= set(json.loads(row[2]))
        ]
        return ids if limit is None else ids[:limit]

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """The rows of one read-only statement, for readers of metadata (the catalog) that
        must not decode circuits or results."""
        with self._transaction() as db:
            return [tuple(row) for row in db.execute(sql, params).fetchall()]

    def load(self, job_set_id: str) -> StoredJobSet | None:
        with self._transaction() as db:
            row = db.execute("SELECT * FROM job_sets WHERE id=?", (job_set_id,)).fetchone()
            chunk_rows = db.execute(
                "SELECT * FROM chunks WHERE job_set_id=? ORDER BY idx", (job_set_id,)
            ).fetchall()
        if row is None:
            return None
        where = f"{self.path}, job set {job_set_id}"
        try:
            circuits = circuits_from_qpy(row[11], where)
            experiments = experiments_from_rows(circuits, row[12], row[13], where)
            chunks = [self._chunk_from_row(r, experiments, where) for r in chunk_rows]
            return StoredJobSet(
                job_set_id=row[0],
                name=row[1],
                tags=list(json.loads(row[2])),
                share_level=row[3],
                backend_name=row[4],
                run_config=dict(json.loads(row[5])),
                options=dict(json.loads(row[6])),
                created_at=float(row[7]),
                finished_at=row[8],
                owner=(row[9], row[10]),
                experiments=experiments,
                chunks=chunks,
            )
        except (ValueError, TypeError, KeyError, AttributeError, IndexError) as exc:
            raise StoreError(f"{where}: a stored row is malformed: {exc}") from exc

    def load_chunks(
        self, job_set_id: str, experiments: Sequence[Experiment], indexes: Sequence[int]
    ) -> list[ManagedJob]:
        """Chunks ``indexes`` of a set whose ``experiments`` the caller holds already: a follower
        re-reads the chunks that changed every second, and decoding the circuits again each
        time would cost more than the chunks themselves."""
        marks = ",".join("?" * len(indexes))
        with self._transaction() as db:
            chunk_rows = db.execute(
                f"SELECT * FROM chunks WHERE job_set_id=? AND idx IN ({marks}) ORDER BY idx",
                (job_set_id, *indexes),
            ).fetchall()
        where = f"{self.path}, job set {job_set_id}"
        try:
            return [self._chunk_from_row(r, experiments, where) for r in chunk_rows]
        except (ValueError, TypeError, KeyError, AttributeError, IndexError) as exc:
            raise StoreError(f"{where}: a stored row is malformed: {exc}") from exc

    @staticmethod
    def _chunk_from_row(
        row: Sequence[Any], experiments: Sequence[Experiment], where: str
    ) -> ManagedJob:
        points = None if row[15] is None else json.loads(row[15])
        if points is not None and (
            not isinstance(points, list)
            or len(points) != 3
            or not all(isinstance(p, int) for p in points)
        ):
            raise StoreError(f"{where}, chunk {row[1]}: malformed points {points!r}")
        chunk = ManagedJob(
            index=int(row[1]),
            start_index=int(row[2]),
            end_index=int(row[3]),
            points=None if points is None else (points[0], points[1], points[2]),
            shots=None if row[4] is None else int(row[4]),
            state=ChunkState(row[5]),
            job_id=row[6],
            attempts=int(row[8]),
            error=row[9],
            note=row[10],
            submitted_at=row[11],
            finished_at=row[12],
            previous_job_ids=[str(i) for i in json.loads(row[13])],
            usage_seconds=None if row[17] is None else float(row[17]),
        )
        chunk.job_status = None if row[7] is None else JobStatus[row[7]]
        if row[14] is not None:
            here = f"{where}, chunk {chunk.index}"
            pieces = slices_of(experiments, chunk.start_index, chunk.end_index, chunk.points)
            results = slice_results_from_rows(
                row[14], row[16], [p.num_points for p in pieces], here
            )
            for result in results:
                result.counts()  # a header that cannot format its counts fails here
            chunk.results = results
        return chunk


def _row_of(values: Sequence[Any]) -> str:
    """The placeholders of one row of ``values``, in the table's column order."""
    return ",".join("?" * len(values))


def current_owner() -> tuple[str, int]:
    return socket.gethostname(), os.getpid()


def owner_is_alive(owner: tuple[str | None, int | None]) -> bool:
    """True when the process that ran a set still runs here (pids are only known locally)."""
    host, pid = owner
    if host != socket.gethostname() or pid is None or pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return not _is_zombie(pid)


def _is_zombie(pid: int) -> bool:
    """A killed process nobody has reaped yet still answers kill(pid, 0)."""
    try:
        stat = pathlib.Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[-1].split()[0] == "Z"
