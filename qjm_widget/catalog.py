"""What a store holds, read from metadata only: one summary per job set, never a circuit.

The dashboard and ``qjm list`` page through thousands of sets, so a page is two small queries:
the page's ids from the ``job_sets`` table (by its index on ``created_at`` where the order is
by creation), then the chunk states of just those sets. Nothing here decodes QPY or results.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .chunk import ChunkState
from .exceptions import JobManagerInvalidInputError
from .store import Store, current_owner, owner_is_alive

SORT_KEYS = ("created", "name", "id", "backend", "state", "chunks", "experiments", "usage")
"""Columns a listing may be ordered by. ``chunks``: by the share of a set's chunks that are
final, ties by how many chunks it has."""

_FINAL = tuple(s.value for s in ChunkState if s.is_final)
_FAILED = (ChunkState.ERROR.value, ChunkState.FAILED.value)

# Orders the job_sets table can give by itself, and those that need every set's chunk figures.
_PLAIN_ORDER = {
    "created": "created_at",
    "name": "name COLLATE NOCASE",
    "id": "id",
    "backend": "backend_name",
}
_AGGREGATE_ORDER = {
    "experiments": ("f.experiments",),
    "usage": ("COALESCE(f.usage, -1)",),
    "state": ("f.unfinished", "f.failed", "f.cancelled", "f.lost"),
    # A running set of schema 3 has rows for the chunks written so far: its size is its plan's.
    "chunks": (
        "CAST(COALESCE(f.chunks, 0) - COALESCE(f.unfinished, 0) AS REAL)"
        " / MAX(COALESCE(s.num_chunks, f.chunks, 0), 1)",
        "COALESCE(s.num_chunks, f.chunks, 0)",
    ),
}


@dataclass(frozen=True, slots=True)
class JobSetSummary:
    """One stored set, as a listing shows it."""

    job_set_id: str
    name: str
    backend_name: str
    created_at: float
    """Epoch seconds."""
    tags: tuple[str, ...]
    num_experiments: int
    num_chunks: int
    states: Mapping[str, int]
    """Chunks per state (``ChunkState`` values)."""
    usage_seconds: float | None
    """QPU seconds the backend billed, None where it bills none."""
    running_elsewhere: bool
    """Another live process on this machine runs the set."""
    running_here: bool
    """This process runs the set (it is unfinished and owned by this process)."""

    @property
    def num_final(self) -> int:
        return sum(self.states.get(state, 0) for state in _FINAL)

    @property
    def state(self) -> str:
        """``running``, ``interrupted`` (unfinished, and no live process runs it: the one that
        did ended first), ``done``, ``<n> failed``, ``cancelled`` or ``lost``."""
        if self.num_final < self.num_chunks:
            return "running" if self.running_elsewhere or self.running_here else "interrupted"
        failed = sum(self.states.get(state, 0) for state in _FAILED)
        if failed:
            return f"{failed} failed"
        if self.states.get(ChunkState.LOST.value):
            return "lost"
        if self.states.get(ChunkState.CANCELLED.value):
            return "cancelled"
        return "done"


def _filters(name: str | None, tag: str | None) -> tuple[str, list[Any]]:
    clauses: list[str] = []
    params: list[Any] = []
    if name:
        clauses.append("instr(lower(name), lower(?)) > 0")
        params.append(name)
    if tag:
        clauses.append("EXISTS (SELECT 1 FROM json_each(job_sets.tags) WHERE value = ?)")
        params.append(tag)
    return (" WHERE " + " AND ".join(clauses)) if clauses else "", params


_FIGURES = f"""
    SELECT job_set_id, COUNT(*) AS chunks, MAX(end_index) + 1 AS experiments,
        SUM(usage_seconds) AS usage,
        SUM(state NOT IN ({",".join("?" * len(_FINAL))})) AS unfinished,
        SUM(state IN (?, ?)) AS failed, SUM(state = ?) AS cancelled, SUM(state = ?) AS lost
    FROM chunks {{where}} GROUP BY job_set_id
"""
_FIGURE_PARAMS = [*_FINAL, *_FAILED, ChunkState.CANCELLED.value, ChunkState.LOST.value]


def summaries(
    store: Store,
    *,
    name: str | None = None,
    tag: str | None = None,
    sort: str = "created",
    descending: bool = True,
    offset: int = 0,
    limit: int | None = 50,
) -> tuple[list[JobSetSummary], int]:
    """One page of the store's sets and how many match in all. ``name``: a part of the name
    (any case); ``tag``: sets carrying it; ``sort``: one of :data:`SORT_KEYS`."""
    if sort not in SORT_KEYS:
        raise JobManagerInvalidInputError(
            f"sort must be one of {', '.join(SORT_KEYS)}, got {sort!r}"
        )
    for label, value in (("offset", offset), ("limit", limit)):
        if value is not None and (
            isinstance(value, bool) or not isinstance(value, int) or value < 0
        ):
            raise JobManagerInvalidInputError(f"{label} must be an int >= 0, got {value!r}")
    where, params = _filters(name, tag)
    (total,) = store.query(f"SELECT COUNT(*) FROM job_sets{where}", params)[0]
    direction = "DESC" if descending else "ASC"
    page = f" LIMIT {-1 if limit is None else int(limit)} OFFSET {int(offset)}"
    if sort in _PLAIN_ORDER:
        ids = [
            row[0]
            for row in store.query(
                f"SELECT id FROM job_sets{where} ORDER BY {_PLAIN_ORDER[sort]} {direction}{page}",
                params,
            )
        ]
    else:
        order = ", ".join(f"{column} {direction}" for column in _AGGREGATE_ORDER[sort])
        figures = _FIGURES.format(where="")
        ids = [
            row[0]
            for row in store.query(
                f"SELECT s.id FROM job_sets s LEFT JOIN ({figures}) f ON f.job_set_id = s.id"
                f"{where.replace('job_sets.tags', 's.tags')} ORDER BY {order}, s.created_at "
                f"DESC{page}",
                [*_FIGURE_PARAMS, *params],
            )
        ]
    return _summaries_of(store, ids), int(total)


def summary(store: Store, job_set_id: str) -> JobSetSummary | None:
    found = _summaries_of(store, [job_set_id])
    return found[0] if found else None


def _summaries_of(store: Store, ids: Sequence[str]) -> list[JobSetSummary]:
    """Summaries of ``ids``, in that order (ids the store does not hold are left out)."""
    if not ids:
        return []
    marks = ",".join("?" * len(ids))
    sets = {
        row[0]: row
        for row in store.query(
            "SELECT id, name, backend_name, created_at, tags, finished_at, owner_host, "
            f"owner_pid, num_experiments, num_chunks FROM job_sets WHERE id IN ({marks})",
            list(ids),
        )
    }
    states: dict[str, dict[str, int]] = {}
    figures: dict[str, tuple[int, int, float | None]] = {}
    for job_set_id, state, count in store.query(
        f"SELECT job_set_id, state, COUNT(*) FROM chunks WHERE job_set_id IN ({marks}) "
        "GROUP BY job_set_id, state",
        list(ids),
    ):
        states.setdefault(job_set_id, {})[state] = int(count)
    for job_set_id, chunks, experiments, usage in store.query(
        "SELECT job_set_id, COUNT(*), MAX(end_index) + 1, SUM(usage_seconds) FROM chunks "
        f"WHERE job_set_id IN ({marks}) GROUP BY job_set_id",
        list(ids),
    ):
        figures[job_set_id] = (int(chunks), int(experiments or 0), usage)
    here = current_owner()
    found = []
    for job_set_id in ids:
        row = sets.get(job_set_id)
        if row is None:
            continue
        _, name, backend_name, created_at, tags, finished_at, host, pid, planned, size = row
        chunks, experiments, usage = figures.get(job_set_id, (0, 0, None))
        counts = states.get(job_set_id, {})
        if size is not None:  # schema 3: a chunk's row is written with its circuits, later
            unwritten = int(size) - chunks
            if unwritten:
                pending = ChunkState.PENDING.value
                counts = {**counts, pending: counts.get(pending, 0) + unwritten}
            chunks, experiments = int(size), int(planned)
        found.append(
            JobSetSummary(
                job_set_id=job_set_id,
                name=name,
                backend_name=backend_name,
                created_at=float(created_at),
                tags=tuple(json.loads(tags)),
                num_experiments=experiments,
                num_chunks=chunks,
                states=counts,
                usage_seconds=None if usage is None else float(usage),
                running_elsewhere=finished_at is None and owner_is_alive((host, pid)),
                running_here=finished_at is None and (host, pid) == here,
            )
        )
    return found
