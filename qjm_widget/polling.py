"""The poll half of the runner's state machine: what became of the in-flight chunks' jobs.

One task per poll round reads every in-flight job's status at once (one listing where the
backend lists jobs), hands DONE jobs to the pool to read their results, and applies every
outcome under the runner's lock through ``_move``, as the submit half does.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from functools import partial
from typing import Any

from qiskit.providers import JobStatus

from .backends import describe_exception
from .backends.base import StatusReading
from .backends.ibm_errors import job_is_gone
from .chunk import ChunkState, ManagedJob
from .events import JobSetEvent
from .job_tags import SET_TAG_PREFIX
from .outcomes import SliceResult
from .runner import ChunkRunner

logger = logging.getLogger(__name__)

_POLL_BACKOFF = 1.5
_IN_FLIGHT_STATUSES = {
    JobStatus.INITIALIZING: ChunkState.QUEUED,
    JobStatus.VALIDATING: ChunkState.QUEUED,
    JobStatus.QUEUED: ChunkState.QUEUED,
    JobStatus.RUNNING: ChunkState.RUNNING,
}


class PollingRunner(ChunkRunner):
    """A ChunkRunner that polls its in-flight jobs; ManagedJobSet adds the public API."""

    def _poll(self) -> None:
        changed = False
        try:
            with self._lock:
                now = time.monotonic()
                targets = [
                    (self._chunks[i], self._chunks[i].job)
                    for i in sorted(self._in_flight - self._fetching)
                    if self._fetch_after.get(i, 0.0) <= now
                ]
            readings = (
                self._adapter.read_statuses([job for _, job in targets], SET_TAG_PREFIX + self._id)
                if targets
                else []
            )
            done = [
                (chunk, job)
                for (chunk, job), reading in zip(targets, readings, strict=True)
                if reading is JobStatus.DONE
            ]
            outcomes = [
                (chunk, job, self._observe(chunk, job, reading))
                for (chunk, job), reading in zip(targets, readings, strict=True)
                if reading is not JobStatus.DONE
            ]
            fetches = []
            with self._lock:
                for chunk, job, apply in outcomes:
                    if chunk.job is job and chunk.state.in_flight:
                        changed |= apply()
                # Results are read on the pool, several at once: a round in which hundreds of
                # jobs ended must not read them one after another before the next round.
                for chunk, job in done:
                    if chunk.job is job and chunk.state.in_flight:
                        self._fetching.add(chunk.index)
                        fetches.append(self._task(partial(self._fetch, chunk, job)))
                changed |= bool(fetches)
            for task in fetches:
                self._scheduler.submit(task)
        finally:
            with self._lock:
                low, high = self._adapter.capabilities.poll_interval
                self._poll_interval = (
                    low if changed else min(high, self._poll_interval * _POLL_BACKOFF)
                )
                self._next_poll = time.monotonic() + self._poll_interval
                self._polling = False

    def _fetch(self, chunk: ManagedJob, job: Any) -> None:
        """Read a DONE job's results and usage (without the lock), then apply them."""
        apply: Callable[[], bool] | None = None
        try:
            apply = self._observe(chunk, job, JobStatus.DONE)
        finally:
            with self._lock:
                self._fetching.discard(chunk.index)
                if apply is not None and chunk.job is job and chunk.state.in_flight:
                    apply()

    def _observe(self, chunk: ManagedJob, job: Any, reading: StatusReading) -> Callable[[], bool]:
        """Act on a job's status (fetch its results once DONE) without the lock; return how to
        apply the outcome."""
        if isinstance(reading, Exception):
            exc = reading
            if job_is_gone(exc):
                gone = (
                    f"job {chunk.job_id} no longer exists on {self._adapter.name} "
                    f"({describe_exception(exc)}); retry to run it again"
                )
                return partial(self._apply_end, chunk, ChunkState.LOST, gone)
            return partial(self._apply_read_failure, chunk, exc, None)
        status = reading
        if status is JobStatus.DONE:
            try:
                results = self._adapter.fetch(job, self._slices(chunk), self._run_config)
            except Exception as exc:
                return partial(self._apply_read_failure, chunk, exc, JobStatus.DONE)
            return partial(self._apply_done, chunk, results, self._usage(chunk, job))
        if status is JobStatus.ERROR:
            text = self._adapter.error_text(job)  # a failed job may have used the QPU too
            return partial(self._apply_end, chunk, ChunkState.ERROR, text, self._usage(chunk, job))
        if status is JobStatus.CANCELLED:
            return partial(self._apply_end, chunk, ChunkState.CANCELLED, None)
        return partial(self._apply_status, chunk, status)

    def _usage(self, chunk: ManagedJob, job: Any) -> float | None:
        """The job's QPU seconds; a failed read costs the figure, never the chunk."""
        try:
            return self._adapter.usage_seconds(job)
        except Exception as exc:
            logger.info("usage of job %s could not be read: %s", chunk.job_id, exc)
            return None

    def _apply_status(self, chunk: ManagedJob, status: JobStatus | None) -> bool:
        """``status`` None: the backend answered something that is no JobStatus."""
        self._failures.pop(chunk.index, None)  # reads failing in a row are what count
        state = _IN_FLIGHT_STATUSES.get(status, chunk.state) if status else chunk.state
        if (status, None, state) == (chunk.job_status, chunk.note, chunk.state):
            return False
        chunk.job_status, chunk.note = status, None
        if state is chunk.state:
            self._announce(chunk)
        else:
            self._move(chunk, state)
        return True

    def _apply_done(
        self, chunk: ManagedJob, results: list[SliceResult], usage_seconds: float | None
    ) -> bool:
        chunk.job_status = JobStatus.DONE
        chunk.results = results
        self._add_usage(chunk, usage_seconds)
        chunk.note = self._refused_cancels.pop(chunk.index, None)
        failed = chunk.failed_experiments
        chunk.error = (
            "; ".join(f"experiment {index} failed: {message}" for index, message in failed)
            if failed
            else None
        )
        self._merge_counts(chunk, results)
        # Counts before the state change, so that "final" stays the last event of a set.
        self._events.post(JobSetEvent("counts", self._id, chunk.index, ChunkState.DONE.value))
        self._move(chunk, ChunkState.DONE)
        return True

    def _apply_read_failure(
        self, chunk: ManagedJob, exc: Exception, job_status: JobStatus | None
    ) -> bool:
        """A job's status (``job_status`` None) or its results could not be read.

        Results are tried again within the retry policy's budget, then the chunk is left FAILED
        for a manual retry. A status read that failed for a transient reason (a rate limit, the
        service down for a while) is tried again for as long as it takes, backing off: the job
        still runs there, and giving up on it would only make a retry pay for it twice.
        """
        chunk.job_status = job_status
        failures = self._failures.get(chunk.index, 0) + 1
        self._failures[chunk.index] = failures
        reading_status = job_status is None
        what = "status could not be read" if reading_status else "could not fetch results"
        message = f"{what}: {describe_exception(exc)}"
        if (reading_status and self._policy.is_transient(exc)) or self._policy.should_retry(
            exc, failures
        ):
            delay = self._policy.delay(failures)
            self._fetch_after[chunk.index] = time.monotonic() + delay
            chunk.note = f"{message}; trying again in {delay:.1f} s"
            self._announce(chunk)
        else:
            if job_status is None:
                message += f" (job {chunk.job_id} may still run there; retry sends it again)"
            self._apply_end(chunk, ChunkState.FAILED, message)
        return True

    @staticmethod
    def _add_usage(chunk: ManagedJob, usage_seconds: float | None) -> None:
        """A chunk's usage is what all its jobs used: a retry adds the new job's."""
        if usage_seconds is not None:
            chunk.usage_seconds = (chunk.usage_seconds or 0.0) + usage_seconds

    def _apply_end(
        self,
        chunk: ManagedJob,
        state: ChunkState,
        error: str | None,
        usage_seconds: float | None = None,
    ) -> bool:
        self._add_usage(chunk, usage_seconds)
        chunk.job_status = {
            ChunkState.ERROR: JobStatus.ERROR,
            ChunkState.CANCELLED: JobStatus.CANCELLED,
            ChunkState.LOST: None,
        }.get(state, chunk.job_status)
        chunk.error = error
        chunk.note = "cancelled" if state is ChunkState.CANCELLED else None
        self._move(chunk, state)
        return True
