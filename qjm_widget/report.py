"""Text reports of job sets, laid out like IBMQJobManager's."""

from __future__ import annotations

from collections import Counter
from typing import Protocol

from .chunk import ChunkState, ManagedJob


class Reportable(Protocol):
    """What a report reads: a job set, or a stored one's metadata (lazy_job_set.py)."""

    @property
    def backend_name(self) -> str: ...

    def name(self) -> str: ...

    def job_set_id(self) -> str: ...

    def tags(self) -> list[str]: ...

    def managed_jobs(self) -> list[ManagedJob]: ...

    def usage_seconds(self) -> float | None: ...


_SUMMARY = (
    ("Successful jobs", (ChunkState.DONE,)),
    ("Failed jobs", (ChunkState.ERROR, ChunkState.FAILED, ChunkState.LOST)),
    ("Cancelled jobs", (ChunkState.CANCELLED,)),
    ("Running jobs", (ChunkState.QUEUED, ChunkState.RUNNING)),
    ("Pending jobs", (ChunkState.PENDING, ChunkState.SUBMITTING, ChunkState.WAITING)),
)


def render_job_set_report(job_set: Reportable, detailed: bool = True) -> str:
    chunks = job_set.managed_jobs()
    by_state = Counter(chunk.state for chunk in chunks)
    lines = [
        f"Job set name: {job_set.name()}",
        f"          ID: {job_set.job_set_id()}",
        f"        tags: {job_set.tags()}",
        f"     backend: {job_set.backend_name}",
        "Summary report:",
        f"       Total jobs: {len(chunks)}",
    ]
    for label, states in _SUMMARY:
        lines.append(f"  {label:>15}: {sum(by_state[s] for s in states)}")
    usage = job_set.usage_seconds()
    if usage is not None:
        lines.append(f"  {'QPU usage':>15}: {usage:.1f} s")
    if detailed:
        lines += ["", "Detail report:"]
        for chunk in chunks:
            status = chunk.status.name if chunk.status is not None else "unknown"
            lines += [
                f"  experiments: {chunk.start_index}-{chunk.end_index}",
                f"    job index: {chunk.index}",
                f"    job ID: {chunk.job_id}",
                f"    state: {chunk.state.value} (status {status}, attempts {chunk.attempts})",
            ]
            if chunk.points is not None:
                lines.append(f"    points: {chunk.points[1]}-{chunk.points[2]}")
            if chunk.shots is not None:
                lines.append(f"    shots: {chunk.shots}")
            if chunk.usage_seconds is not None:
                lines.append(f"    QPU usage: {chunk.usage_seconds:.1f} s")
            if chunk.error:
                lines.append(f"    error: {chunk.error}")
            if chunk.note:
                lines.append(f"    note: {chunk.note}")
    return "\n".join(lines)
