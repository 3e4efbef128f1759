"""One chunk of a job set: a contiguous slice of experiments run as one backend job."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any

from qiskit.providers import JobStatus
from qiskit.result.models import ExperimentResult


class ChunkState(str, enum.Enum):
    """Where a chunk is in its life; finer than JobStatus, which only describes a job."""

    PENDING = "pending"
    """Not submitted yet."""
    SUBMITTING = "submitting"
    WAITING = "waiting"
    """Waiting to resubmit: back-off after a transient failure, or a pending-job limit."""
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    ERROR = "error"
    """The job ran and ended in ERROR."""
    FAILED = "failed"
    """Could not submit or fetch results, retries used up; waits for a manual retry."""
    CANCELLED = "cancelled"
    LOST = "lost"
    """The job cannot be found again (e.g. after a restart); retry resubmits it."""

    @property
    def is_final(self) -> bool:
        return self in _FINAL

    @property
    def in_flight(self) -> bool:
        return self in (ChunkState.QUEUED, ChunkState.RUNNING)


_FINAL = frozenset(
    {ChunkState.DONE, ChunkState.ERROR, ChunkState.FAILED, ChunkState.CANCELLED, ChunkState.LOST}
)
_NOT_SUBMITTED = frozenset({ChunkState.PENDING, ChunkState.SUBMITTING, ChunkState.WAITING})


@dataclass(eq=False)
class ManagedJob:
    """A chunk, as ``ManagedJobSet.managed_jobs()`` returns it.

    The job set owns and updates these objects under its lock; read them, do not write them.
    ``start_index`` and ``end_index`` are inclusive, as in IBMQJobManager.
    """

    index: int
    start_index: int
    end_index: int
    shots: int | None = None
    """Shots of this chunk; ``max_shots_per_job`` spreads an experiment over several chunks."""
    state: ChunkState = ChunkState.PENDING
    job: Any = None
    job_id: str | None = None
    attempts: int = 0
    """Submissions tried so far, failed ones included."""
    error: str | None = None
    note: str | None = None
    """Why the chunk waits, or why a cancel was refused."""
    submitted_at: float | None = None
    finished_at: float | None = None
    job_status: JobStatus | None = JobStatus.INITIALIZING
    """Last status read from the job; None when it could not be read."""
    experiment_results: list[ExperimentResult] | None = field(default=None, repr=False)
    previous_job_ids: list[str] = field(default_factory=list)

    @property
    def num_experiments(self) -> int:
        return self.end_index - self.start_index + 1

    @property
    def status(self) -> JobStatus | None:
        """JobStatus of the chunk: INITIALIZING until submitted, None where no job exists."""
        if self.state in _NOT_SUBMITTED:
            return JobStatus.INITIALIZING
        if self.job is None and self.job_id is None:
            return JobStatus.CANCELLED if self.state is ChunkState.CANCELLED else None
        return self.job_status

    @property
    def failed_experiments(self) -> list[tuple[int, str]]:
        """(experiment index, message) for each experiment that failed inside a DONE job."""
        if self.experiment_results is None:
            return []
        return [
            (self.start_index + offset, str(result.status or "experiment failed"))
            for offset, result in enumerate(self.experiment_results)
            if not result.success
        ]

    @property
    def succeeded(self) -> bool:
        return self.state is ChunkState.DONE and not self.failed_experiments

    def __repr__(self) -> str:
        return (
            f"ManagedJob(index={self.index}, experiments={self.start_index}-{self.end_index}, "
            f"state={self.state.value}, job_id={self.job_id!r}, attempts={self.attempts})"
        )


def plan_chunks(
    num_experiments: int,
    experiments_per_job: int,
    shots: int | None,
    max_shots_per_job: int | None,
) -> list[ManagedJob]:
    """Contiguous slices of experiments; each slice repeated when its shots must be split."""
    if shots is not None and max_shots_per_job is not None and shots > max_shots_per_job:
        full, rest = divmod(shots, max_shots_per_job)
        shot_parts = [max_shots_per_job] * full + ([rest] if rest else [])
    else:
        shot_parts = [shots]  # type: ignore[list-item]
    chunks: list[ManagedJob] = []
    for start in range(0, num_experiments, experiments_per_job):
        end = min(start + experiments_per_job, num_experiments) - 1
        for part in shot_parts:
            chunks.append(
                ManagedJob(index=len(chunks), start_index=start, end_index=end, shots=part)
            )
    return chunks
