"""The SQLite store: job sets, chunks, results (JSON, sampler bit arrays as npz), circuits (QPY)
and parameter values (npz).

Running sets are written by the store's writer (store_writer.py): circuits in chunk order ahead
of each submit, changes in batches, so a crash loses at most the transaction in flight. Loading
runs no code from the file: rows are JSON and QPY, never pickle, never eval, and numpy arrays
are read with ``allow_pickle=False``. Several processes may share one file (WAL journal, busy
timeout).
"""

from __future__ import annotations

import json
import os
import pathlib
import socket
import sqlite3
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial
from typing import Any

from qiskit import QuantumCircuit

from .chunk import ManagedJob
from .store_format import (
    StoreError,
    block_meta_from_row,
    circuits_from_qpy,
    experiments_from_rows,
    plan_from_npz,
)
from .store_rows import (
    block_statement,
    chunk_from_row,
    chunk_statement,
    fields_statement,
    set_statement,
)
from .store_schema import MIGRATIONS, SCHEMA_V1, SCHEMA_VERSION
from .store_writer import StoreWriter
from .stored_experiments import CircuitSource, StoredExperiment, placeholder_circuit
from .workload import Experiment

APPLICATION = "qjm_widget"
STORE_ENV_VAR = "QJM_WIDGET_STORE"
BUSY_TIMEOUT_S = 30.0


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
    experiments: Sequence[Experiment]
    chunks: list[ManagedJob]
    missing_circuits: frozenset[int] = frozenset()
    """Chunks some of whose circuits the store lacks: the process that ran the set ended
    before writing them (it never submitted those chunks either)."""


@dataclass(frozen=True, slots=True)
class JobSetHeader:
    """A stored set's identity, as listings read it."""

    job_set_id: str
    name: str
    tags: list[str]
    backend_name: str
    created_at: float
    finished_at: float | None
    owner: tuple[str | None, int | None]


class Store:
    """One SQLite file of job sets. Thread-safe; share the file between processes freely."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = pathlib.Path(path).expanduser()
        self._lock = threading.Lock()
        self.writer = StoreWriter(self)
        """Writes running sets' circuits and changes off their threads."""
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
                    + SCHEMA_V1
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
        """Write a whole set at once: its row, its chunks and its circuits."""
        statements = [set_statement(record)]
        statements += [
            chunk_statement(record.job_set_id, c, with_results=True) for c in record.chunks
        ]
        if record.experiments:
            statements.append(block_statement(record.job_set_id, 0, record.experiments))
        self._write(statements)

    def begin_job_set(self, record: StoredJobSet) -> None:
        """Write a set's row only (its sizes and chunk plan, no circuits), so ``run()`` returns
        at once; its chunks and circuits follow through :meth:`write`."""
        self._write([set_statement(record)])

    def write(self, statements: Sequence[tuple[str, Sequence[Any]]]) -> None:
        """Several statements of store_rows.py (chunks, blocks of circuits and
        fields of the set) in one transaction."""
        self._write(statements)

    def save_chunks(self, job_set_id: str, chunks: Sequence[ManagedJob]) -> None:
        self._write([chunk_statement(job_set_id, c, with_results=False) for c in chunks])

    def save_job_set_fields(self, job_set_id: str, **fields: Any) -> None:
        self._write([fields_statement(job_set_id, **fields)])

    def delete(self, job_set_id: str) -> bool:
        with self._transaction() as db:
            db.execute("BEGIN IMMEDIATE")
            db.execute("DELETE FROM chunks WHERE job_set_id=?", (job_set_id,))
            db.execute("DELETE FROM circuit_blocks WHERE job_set_id=?", (job_set_id,))
            deleted = db.execute("DELETE FROM job_sets WHERE id=?", (job_set_id,)).rowcount
            db.execute("COMMIT")
        return bool(deleted)

    # -- reading --------------------------------------------------------------------------

    def headers(
        self, name: str | None = None, tags: Sequence[str] | None = None, limit: int | None = None
    ) -> list[JobSetHeader]:
        """What identifies each stored set, newest first, without its chunks or circuits;
        ``tags``: sets carrying all of them."""
        with self._transaction() as db:
            rows = db.execute(
                "SELECT id, name, tags, backend_name, created_at, finished_at, owner_host, "
                "owner_pid FROM job_sets ORDER BY created_at DESC"
            ).fetchall()
        wanted = set(tags or [])
        headers = []
        for row in rows:
            tags_of = list(json.loads(row[2]))
            if (name is None or row[1] == name) and wanted <= set(tags_of):
                headers.append(
                    JobSetHeader(row[0], row[1], tags_of, row[3], row[4], row[5], (row[6], row[7]))
                )
                if limit is not None and len(headers) == limit:
                    break
        return headers

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """The rows of one read-only statement, for readers of metadata (the catalog) that
        must not decode circuits or results."""
        with self._transaction() as db:
            return [tuple(row) for row in db.execute(sql, params).fetchall()]

    def load(self, job_set_id: str) -> StoredJobSet | None:
        """The set as stored. Its circuits stay in the file until one is needed (a retry,
        ``job(circuit)``): the experiments read here are metadata, the QPY decoded once, then."""
        with self._transaction() as db:
            row = db.execute("SELECT * FROM job_sets WHERE id=?", (job_set_id,)).fetchone()
            chunk_rows = db.execute(
                "SELECT * FROM chunks WHERE job_set_id=? ORDER BY idx", (job_set_id,)
            ).fetchall()
            blocks = db.execute(
                "SELECT first, last, experiments, experiment_values FROM circuit_blocks "
                "WHERE job_set_id=? ORDER BY first",
                (job_set_id,),
            ).fetchall()
        if row is None:
            return None
        where = f"{self.path}, job set {job_set_id}"
        try:
            missing: frozenset[int] = frozenset()
            if row[16] is None:  # written by schema 2: the circuits are in the set's row
                circuits = circuits_from_qpy(row[11], where)
                experiments: list[Experiment] = experiments_from_rows(
                    circuits, row[12], row[13], where
                )
                chunks = [chunk_from_row(r, experiments, where) for r in chunk_rows]
            else:
                experiments, stored = self._stored_experiments(
                    job_set_id, int(row[14]), blocks, where
                )
                read = [chunk_from_row(r, experiments, where) for r in chunk_rows]
                chunks = _planned(read, row[16], where)
                missing = frozenset(
                    c.index for c in chunks if not all(stored[c.start_index : c.end_index + 1])
                )
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
                missing_circuits=missing,
            )
        except (ValueError, TypeError, KeyError, AttributeError, IndexError) as exc:
            raise StoreError(f"{where}: a stored row is malformed: {exc}") from exc

    def _stored_experiments(
        self, job_set_id: str, count: int, blocks: Sequence[Sequence[Any]], where: str
    ) -> tuple[list[Experiment], list[bool]]:
        """The set's experiments from its blocks' metadata, their circuits left in the file;
        experiments no block holds (the process died before writing them) get placeholders."""
        source = CircuitSource(partial(self._load_circuits, job_set_id, count, where))
        experiments: list[Experiment | None] = [None] * count
        for first, last, text, values in blocks:
            for offset, meta in enumerate(block_meta_from_row(text, values, first, last, where)):
                index = first + offset
                experiments[index] = StoredExperiment(
                    source, index, meta.name, meta.values, meta.shots, meta.parameter_names
                )
        stored = [e is not None for e in experiments]
        return [
            e if e is not None else StoredExperiment(source, i, f"unknown_{i}", None, None, [])
            for i, e in enumerate(experiments)
        ], stored

    def _load_circuits(self, job_set_id: str, count: int, where: str) -> list[QuantumCircuit]:
        with self._transaction() as db:
            blocks = db.execute(
                "SELECT first, qpy FROM circuit_blocks WHERE job_set_id=? ORDER BY first",
                (job_set_id,),
            ).fetchall()
        circuits = [placeholder_circuit(i) for i in range(count)]
        for first, qpy in blocks:
            decoded = circuits_from_qpy(qpy, where)
            circuits[first : first + len(decoded)] = decoded
        if len(circuits) != count:
            raise StoreError(f"{where}: the stored circuits do not match the set's experiments")
        return circuits

    def chunk_headers(self, job_set_id: str) -> list[ManagedJob]:
        """The set's chunks without their results (states, jobs, errors): what a report of a
        stored set shows, read without decoding results or circuits."""
        with self._transaction() as db:
            plan = db.execute("SELECT plan FROM job_sets WHERE id=?", (job_set_id,)).fetchone()
            rows = db.execute(
                "SELECT job_set_id, idx, start_index, end_index, shots, state, job_id, status, "
                "attempts, error, note, submitted_at, finished_at, previous_job_ids, NULL, "
                "points, NULL, usage_seconds FROM chunks WHERE job_set_id=? ORDER BY idx",
                (job_set_id,),
            ).fetchall()
        where = f"{self.path}, job set {job_set_id}"
        try:
            read = [chunk_from_row(r, [], where) for r in rows]
            return read if plan is None or plan[0] is None else _planned(read, plan[0], where)
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
            return [chunk_from_row(r, experiments, where) for r in chunk_rows]
        except (ValueError, TypeError, KeyError, AttributeError, IndexError) as exc:
            raise StoreError(f"{where}: a stored row is malformed: {exc}") from exc


def _planned(written: Sequence[ManagedJob], plan: bytes, where: str) -> list[ManagedJob]:
    """Every chunk of the plan: as written where its row is, as planned (pending, never
    submitted) where it is not yet (its row goes with its circuits)."""
    by_index = {c.index: c for c in written}
    return [by_index.get(c.index, c) for c in plan_from_npz(plan, where)]


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
