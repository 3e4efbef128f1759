"""One chunk of a job set: a contiguous run of experiments, or a slice of one experiment's
parameter points, run as one backend job."""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from qiskit.providers import JobStatus

from .outcomes import SliceResult


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
    points: tuple[int, int, int] | None = None
    """None where the chunk holds whole experiments; else ``(experiment, first_point,
    last_point)`` (inclusive, flattened C order) of the one experiment it holds part of."""
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
    usage_seconds: float | None = None
    """QPU seconds the backend reports the chunk's jobs used, its retries' included (IBM
    Quantum); None where it reports none."""
    results: list[SliceResult] | None = field(default=None, repr=False)
    """What the job gave back, one entry per experiment (or slice) it holds."""
    previous_job_ids: list[str] = field(default_factory=list)

    @property
    def num_experiments(self) -> int:
        return self.end_index - self.start_index + 1

    @property
    def span(self) -> str:
        """What the chunk holds, in words: "experiments 3-5", "experiment 0, points 20-39"."""
        if self.points is None:
            return f"experiments {self.start_index}-{self.end_index}"
        experiment, first, last = self.points
        return f"experiment {experiment}, points {first}-{last}"

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
        if self.results is None:
            return []
        first_point = 0 if self.points is None else self.points[1]
        failed = []
        for offset, result in enumerate(self.results):
            for point, message in result.failures():
                where = "" if result.num_points == 1 else f" point {first_point + point}"
                failed.append((self.start_index + offset, f"{message}{where}".strip()))
        return failed

    @property
    def succeeded(self) -> bool:
        return self.state is ChunkState.DONE and not self.failed_experiments

    def __repr__(self) -> str:
        points = "" if self.points is None else f", points={self.points[1]}-{self.points[2]}"
        return (
            f"ManagedJob(index={self.index}, experiments={self.start_index}-{self.end_index}"
            f"{points}, "
            f"state={self.state.value}, job_id={self.job_id!r}, attempts={self.attempts})"
        )


def total_usage(chunks: Sequence[ManagedJob]) -> float | None:
    """The QPU seconds the chunks' jobs used, as the backend reports them; None where it
    reports none for any of them."""
    figures = [c.usage_seconds for c in chunks if c.usage_seconds is not None]
    return sum(figures) if figures else None


_Slice = tuple[int, int, tuple[int, int, int] | None, int | None]
"""First and last experiment, the points of the one experiment cut along them, shots."""


def plan_chunks(
    points: Sequence[int],
    shots: Sequence[int | None],
    experiments_per_job: int,
    max_executions_per_job: int | None = None,
    max_shots_per_job: int | None = None,
) -> list[ManagedJob]:
    """Chunks of the experiments, in order, given each one's points and shots.

    A chunk holds at most ``experiments_per_job`` whole experiments of equal shots and at most
    ``max_executions_per_job`` circuit executions (points x shots of one job); an experiment
    whose points alone exceed that is cut along its points into chunks of its own. Each chunk
    is then repeated once per shot part where its shots exceed ``max_shots_per_job``.
    """
    one_count_of_shots = not shots or shots.count(shots[0]) == len(shots)
    if max_executions_per_job is None and one_count_of_shots:
        # No cap on executions and one count of shots (the usual set, 10^5 circuits): the
        # groups are runs of experiments_per_job, whatever the points, with no pass over them.
        if len(points) != len(shots):
            raise ValueError(f"{len(points)} experiments' points for {len(shots)} shots")
        last = len(points) - 1
        uniform = [
            (start, min(start + experiments_per_job - 1, last), None, shots[start])
            for start in range(0, len(points), experiments_per_job)
        ]
        return _chunks_of(uniform, max_shots_per_job)
    slices: list[_Slice] = []
    group: list[int] = []
    group_executions = 0

    def close_group() -> None:
        if group:
            slices.append((group[0], group[-1], None, shots[group[0]]))
            group.clear()

    for index, (count, experiment_shots) in enumerate(zip(points, shots, strict=True)):
        per_point = _job_shots(experiment_shots, max_shots_per_job) or 1
        cap = None if max_executions_per_job is None else max_executions_per_job // per_point
        if cap is not None and count > cap:
            close_group()
            for first in range(0, count, cap):
                last = min(first + cap, count) - 1
                slices.append((index, index, (index, first, last), experiment_shots))
            continue
        executions = count * per_point
        if group and (
            len(group) >= experiments_per_job
            or experiment_shots != shots[group[0]]
            or (
                max_executions_per_job is not None
                and group_executions + executions > max_executions_per_job
            )
        ):
            close_group()
        if not group:
            group_executions = 0
        group.append(index)
        group_executions += executions
    close_group()
    return _chunks_of(slices, max_shots_per_job)


def _chunks_of(slices: Sequence[_Slice], max_shots_per_job: int | None) -> list[ManagedJob]:
    """Each slice a chunk, repeated once per shot part."""
    chunks: list[ManagedJob] = []
    for start, end, part, slice_shots in slices:
        for shot_part in _shot_parts(slice_shots, max_shots_per_job):
            chunks.append(
                ManagedJob(
                    index=len(chunks),
                    start_index=start,
                    end_index=end,
                    points=part,
                    shots=shot_part,
                )
            )
    return chunks


def _job_shots(shots: int | None, max_shots_per_job: int | None) -> int | None:
    if shots is not None and max_shots_per_job is not None:
        return min(shots, max_shots_per_job)
    return shots


def _shot_parts(shots: int | None, max_shots_per_job: int | None) -> Sequence[int | None]:
    if shots is not None and max_shots_per_job is not None and shots > max_shots_per_job:
        full, rest = divmod(shots, max_shots_per_job)
        return [max_shots_per_job] * full + ([rest] if rest else [])
    return [shots]
