"""A job set rebuilt from the backend alone, by its tag, when no store knows it any more.

IBMQJobManager found a set again through server-side tags and crashed when one of its jobs was
missing or cancelled. Here the set's jobs are looked up by ``qjm_jobset_<id>``; each job's own
tags say which chunk it ran and how the set was cut (see job_tags.py). A chunk whose job is gone
becomes LOST; its circuits come back only if another job ran the same experiments (a shot
split), otherwise it cannot be retried and its experiments have no counts.
"""

from __future__ import annotations

import logging
from typing import Any

from qiskit import QuantumCircuit
from qiskit.providers import JobStatus

from .backends import BackendAdapter
from .chunk import ChunkState, ManagedJob
from .exceptions import JobManagerInvalidStateError
from .job_tags import (
    CUSTOM_PLAN,
    PLAN_TAG_PREFIX,
    SET_TAG_PREFIX,
    chunk_index,
    is_ours,
    name_from,
    plan_from,
)
from .jobset import ManagedJobSet
from .policy import RetryPolicy
from .scheduler import Scheduler
from .workload import Experiment

logger = logging.getLogger(__name__)


def rebuild(job_set_id: str, adapter: BackendAdapter, scheduler: Scheduler) -> ManagedJobSet | None:
    """The set whose jobs carry ``qjm_jobset_<job_set_id>``; None where none can be found."""
    tag = SET_TAG_PREFIX + job_set_id
    jobs = adapter.find_jobs(tag)
    if not jobs:
        return None
    # Oldest first; each job's creation date and tags read once (a client may fetch them).
    tagged = sorted(
        ((adapter.job_created(job), job, adapter.job_tags(job)) for job in jobs),
        key=lambda entry: entry[0],
    )
    if any(PLAN_TAG_PREFIX + CUSTOM_PLAN in tags for _, _, tags in tagged):
        raise JobManagerInvalidStateError(
            f"the jobs tagged {tag} on {adapter.name} ran a set cut by parameter points or by "
            "PUB shots (qjm_plan_custom), which its tags alone cannot rebuild: retrieve it "
            "from the store that ran it"
        )
    plan = next((p for _, _, tags in tagged if (p := plan_from(tags)) is not None), None)
    if plan is None:
        raise JobManagerInvalidStateError(
            f"the jobs tagged {tag} on {adapter.name} do not say how the set was cut (no "
            "qjm_plan_ tag): it was not run by this version of qjm_widget"
        )
    chunks = plan.chunks()
    latest: dict[int, Any] = {}
    for _, job, tags in tagged:
        index = chunk_index(tags)
        if index is None or index >= len(chunks):
            logger.warning("job %s tagged %s names no chunk of the set", adapter.job_id(job), tag)
            continue
        latest[index] = job  # a retried chunk's newest job replaces the older ones

    circuits: list[QuantumCircuit | None] = [None] * plan.num_experiments
    for index, job in latest.items():
        chunk = chunks[index]
        found = adapter.job_circuits(job)
        if found is not None and len(found) == chunk.num_experiments:
            circuits[chunk.start_index : chunk.end_index + 1] = found
    unknown = frozenset(c.index for c in chunks if any(circuits[i] is None for i in _range(c)))
    for chunk in chunks:
        job = latest.get(chunk.index)
        if job is not None:
            _attach(chunk, job, adapter)
        else:
            _lose(chunk, tag, adapter, chunk.index in unknown)
    created, newest_tags = tagged[0][0], tagged[-1][2]
    user_tags = [t for t in newest_tags if not is_ours(t)]
    return ManagedJobSet(
        job_set_id=job_set_id,
        name=name_from(newest_tags) or job_set_id,
        experiments=[
            Experiment(c if c is not None else _placeholder(i)) for i, c in enumerate(circuits)
        ],
        chunks=chunks,
        adapter=adapter,
        scheduler=scheduler,
        tags=user_tags,
        share_level=None,
        run_config={},
        max_concurrent_jobs=None,
        retry_policy=RetryPolicy(),
        created_at=created or None,
        unknown_chunks=unknown,
    )


def _range(chunk: ManagedJob) -> range:
    return range(chunk.start_index, chunk.end_index + 1)


def _attach(chunk: ManagedJob, job: Any, adapter: BackendAdapter) -> None:
    chunk.job, chunk.job_id = job, adapter.job_id(job)
    chunk.state, chunk.job_status = ChunkState.QUEUED, JobStatus.QUEUED
    chunk.attempts = 1
    chunk.note = "found on the backend by its tag"


def _lose(chunk: ManagedJob, tag: str, adapter: BackendAdapter, circuits_unknown: bool) -> None:
    chunk.state, chunk.job_status = ChunkState.LOST, None
    chunk.error = f"no job tagged {tag} ran this chunk on {adapter.name} (deleted or never sent)"
    if circuits_unknown:
        chunk.error += "; its circuits are unknown here, so it cannot be retried"
    else:
        chunk.error += "; retry to run it again"


def _placeholder(index: int) -> QuantumCircuit:
    return QuantumCircuit(name=f"unknown_{index}")
