"""The dashboard's listing: pages of job sets as plain rows, read from metadata only.

Stored sets come from :mod:`qjm_widget.catalog` (two small queries a page, no circuit decoded).
This manager's live sets are summarised from their chunks in memory; those the store does not
hold (a manager with ``store=None``) are merged into the listing in the same order.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from . import catalog
from .catalog import SORT_KEYS, JobSetSummary
from .chunk import ChunkState
from .jobset import ManagedJobSet
from .store import Store

PAGE_SIZE = 50

_SORT: dict[str, Callable[[JobSetSummary], Any]] = {
    "created": lambda s: s.created_at,
    "name": lambda s: s.name.lower(),
    "id": lambda s: s.job_set_id,
    "backend": lambda s: s.backend_name,
    "experiments": lambda s: s.num_experiments,
    "usage": lambda s: -1.0 if s.usage_seconds is None else s.usage_seconds,
    "state": lambda s: _state_order(s),
    "chunks": lambda s: (s.num_final / max(s.num_chunks, 1), s.num_chunks),
}
assert set(_SORT) == set(SORT_KEYS)


def _state_order(s: JobSetSummary) -> tuple[int, int, int, int]:
    count = s.states.get
    failed = count(ChunkState.ERROR.value, 0) + count(ChunkState.FAILED.value, 0)
    unfinished = s.num_chunks - s.num_final
    return unfinished, failed, count(ChunkState.CANCELLED.value, 0), count(ChunkState.LOST.value, 0)


@dataclass(frozen=True, slots=True)
class Query:
    """What the view asks to list: filters, order and page (0-based)."""

    name: str = ""
    tag: str = ""
    sort: str = "created"
    descending: bool = True
    page: int = 0


def live_summary(job_set: ManagedJobSet) -> JobSetSummary:
    """A live set of this process, summarised as the catalog summarises a stored one."""
    chunks = job_set.managed_jobs()
    return JobSetSummary(
        job_set_id=job_set.job_set_id(),
        name=job_set.name(),
        backend_name=job_set.backend_name,
        created_at=job_set.created_at.timestamp(),
        tags=tuple(job_set.tags()),
        num_experiments=job_set.num_experiments,
        num_chunks=len(chunks),
        states=dict(Counter(c.state.value for c in chunks)),
        usage_seconds=job_set.usage_seconds(),
        running_elsewhere=False,
        running_here=True,  # unfinished here means run here: restored chunks re-attach or are lost
    )


def _matches(summary: JobSetSummary, query: Query) -> bool:
    if query.name and query.name.lower() not in summary.name.lower():
        return False
    return not query.tag or query.tag in summary.tags


def _ordered(found: Iterable[JobSetSummary], query: Query) -> list[JobSetSummary]:
    # Ties newest first, as the catalog breaks them: stable sorts, the tie-break first.
    by_created = sorted(found, key=lambda s: s.created_at, reverse=True)
    return sorted(by_created, key=_SORT[query.sort], reverse=query.descending)


def page_of(
    store: Store | None, live: dict[str, ManagedJobSet], query: Query, page_size: int = PAGE_SIZE
) -> tuple[list[JobSetSummary], int]:
    """One page of sets (live ones summarised from memory) and how many match in all."""
    offset = query.page * page_size
    extra: list[JobSetSummary] = []
    if store is None:
        stored: list[JobSetSummary] = []
        stored_total = 0
        extra = [live_summary(s) for s in live.values()]
    else:
        unstored = _unstored(store, live)
        extra = [live_summary(live[i]) for i in unstored]
        extra = [s for s in extra if _matches(s, query)]
        # With sets the store lacks, the page is merged from the first offset + page_size
        # stored rows (metadata still); without them (the usual case) one page is read.
        start, limit = (0, offset + page_size) if extra else (offset, page_size)
        stored, stored_total = catalog.summaries(
            store,
            name=query.name or None,
            tag=query.tag or None,
            sort=query.sort,
            descending=query.descending,
            offset=start,
            limit=limit,
        )
        if not extra:
            return [_fresh(s, live) for s in stored], stored_total
    merged = _ordered([*(_fresh(s, live) for s in stored), *extra], query)
    if store is None:
        merged = [s for s in merged if _matches(s, query)]
        return merged[offset : offset + page_size], len(merged)
    return merged[offset : offset + page_size], stored_total + len(extra)


def _unstored(store: Store, live: dict[str, ManagedJobSet]) -> list[str]:
    if not live:
        return []
    ids = list(live)
    marks = ",".join("?" * len(ids))
    held = {row[0] for row in store.query(f"SELECT id FROM job_sets WHERE id IN ({marks})", ids)}
    return [i for i in ids if i not in held]


def _fresh(summary: JobSetSummary, live: dict[str, ManagedJobSet]) -> JobSetSummary:
    job_set = live.get(summary.job_set_id)
    return summary if job_set is None else live_summary(job_set)


def row_of(
    summary: JobSetSummary, *, live: bool, message: str = "", read_only: bool = False
) -> dict[str, Any]:
    """The row the view shows (see ``DashboardTable.rows`` for its fields)."""
    return {
        "id": summary.job_set_id,
        "name": summary.name,
        "backend": summary.backend_name,
        "created": summary.created_at,
        "tags": list(summary.tags),
        "state": summary.state,
        "final": summary.num_final,
        "chunks": summary.num_chunks,
        "experiments": summary.num_experiments,
        "usage": -1.0 if summary.usage_seconds is None else summary.usage_seconds,
        "where": "here" if live else ("elsewhere" if summary.running_elsewhere else "stored"),
        "read_only": read_only or summary.running_elsewhere,
        "message": message,
    }
