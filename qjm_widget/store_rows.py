"""How a job set, its chunks and its blocks of circuits become the store's rows, and a chunk's
row becomes a chunk again (store_format.py encodes the values inside them)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from qiskit.providers import JobStatus

from .chunk import ChunkState, ManagedJob
from .store_format import (
    StoreError,
    block_to_row,
    plan_to_npz,
    slice_results_from_rows,
    slice_results_to_rows,
    to_json,
)
from .workload import Experiment, slices_of

if TYPE_CHECKING:
    from .store import StoredJobSet


def set_statement(record: StoredJobSet) -> tuple[str, Sequence[Any]]:
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
        b"",  # schema 2's circuits column: circuits now go in circuit_blocks
        None,
        None,
        len(record.experiments),
        len(record.chunks),
        plan_to_npz(record.chunks),
    )
    return f"INSERT INTO job_sets VALUES ({row_of(values)})", values


def block_statement(
    job_set_id: str, first: int, experiments: Sequence[Experiment]
) -> tuple[str, Sequence[Any]]:
    """Experiments ``first...`` of a set: their circuits (QPY) and metadata."""
    qpy, meta, values = block_to_row(experiments)
    row = (job_set_id, first, first + len(experiments) - 1, qpy, meta, values)
    return "INSERT OR REPLACE INTO circuit_blocks VALUES (?,?,?,?,?,?)", row


def chunk_statement(
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
            f"INSERT OR REPLACE INTO chunks VALUES ({row_of(values)})",
            values,
        )
    # Without new results, keep the ones stored (a retry replaces them only once it is DONE).
    return (
        f"INSERT INTO chunks VALUES ({row_of(values)}) "
        "ON CONFLICT (job_set_id, idx) DO UPDATE SET state=excluded.state, "
        "job_id=excluded.job_id, status=excluded.status, attempts=excluded.attempts, "
        "error=excluded.error, note=excluded.note, submitted_at=excluded.submitted_at, "
        "finished_at=excluded.finished_at, previous_job_ids=excluded.previous_job_ids, "
        "usage_seconds=excluded.usage_seconds",
        values,
    )


def fields_statement(job_set_id: str, **fields: Any) -> tuple[str, Sequence[Any]]:
    allowed = {"name", "tags", "finished_at", "owner_host", "owner_pid"}
    assert set(fields) <= allowed, fields
    values = [to_json(v) if k == "tags" else v for k, v in fields.items()]
    assignments = ", ".join(f"{k}=?" for k in fields)
    return f"UPDATE job_sets SET {assignments} WHERE id=?", (*values, job_set_id)


def chunk_from_row(row: Sequence[Any], experiments: Sequence[Experiment], where: str) -> ManagedJob:
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
        results = slice_results_from_rows(row[14], row[16], [p.num_points for p in pieces], here)
        for result in results:
            result.counts()  # a header that cannot format its counts fails here
        chunk.results = results
    return chunk


def row_of(values: Sequence[Any]) -> str:
    """The placeholders of one row of ``values``, in the table's column order."""
    return ",".join("?" * len(values))
