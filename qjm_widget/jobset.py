"""ManagedJobSet: the experiments of one run(), split into chunks that run in the background."""

from __future__ import annotations

import datetime
import logging
import time
from bisect import bisect_left, bisect_right
from collections.abc import Callable, Sequence
from functools import cached_property, partial
from typing import Any

from qiskit.providers import JobStatus

from .backends import BackendAdapter, describe_exception
from .chunk import ChunkState, ManagedJob, total_usage
from .counts import MergedCounts
from .events import JobSetEvent, Listener
from .exceptions import (
    JobManagerInvalidInputError,
    JobManagerInvalidStateError,
    JobManagerJobNotFound,
    JobManagerTimeoutError,
)
from .job_lookup import JobLookup
from .job_tags import job_tags, plan_of
from .policy import RetryPolicy
from .polling import PollingRunner
from .progress import progress_flag, wait_with_progress
from .report import render_job_set_report
from .results import ExperimentKey, ManagedResults
from .scheduler import Scheduler
from .stored_job import StoredJob
from .validation import string_list, timeout_seconds
from .workload import Experiment, Loc

logger = logging.getLogger(__name__)

_RETRYABLE = (ChunkState.ERROR, ChunkState.FAILED, ChunkState.LOST)
_WAKE_SECONDS = 0.25


class ManagedJobSet(PollingRunner):
    """The chunks of one ``JobManager.run()``; every method returns at once unless it says wait.

    Example:
        >>> job_set = JobManager().run(circuits, backend=AerSimulator(), shots=1000)
        >>> job_set.results().get_counts(0)
    """

    def __init__(
        self,
        *,
        job_set_id: str,
        name: str,
        experiments: Sequence[Experiment],
        chunks: list[ManagedJob],
        adapter: BackendAdapter,
        scheduler: Scheduler,
        tags: list[str],
        share_level: str | None,
        run_config: dict[str, Any],
        max_concurrent_jobs: int | None,
        retry_policy: RetryPolicy,
        created_at: float | None = None,
        unknown_chunks: frozenset[int] = frozenset(),
    ) -> None:
        super().__init__(
            job_set_id=job_set_id,
            experiments=experiments,
            chunks=chunks,
            adapter=adapter,
            scheduler=scheduler,
            run_config=run_config,
            max_concurrent_jobs=max_concurrent_jobs,
            retry_policy=retry_policy,
        )
        self._name = name
        self._tags = list(tags)
        self._plan = plan_of(chunks)
        self._unknown_chunks = unknown_chunks
        """Chunks whose circuits are lost (a set rebuilt from tags): they cannot be retried."""
        self._job_lookup = JobLookup(adapter, job_set_id)
        self.job_share_level = share_level
        """Kept as given; backends without sharing levels ignore it."""
        created = time.time() if created_at is None else created_at
        self.created_at = datetime.datetime.fromtimestamp(created, datetime.timezone.utc)
        self._started = time.monotonic() - (time.time() - created)

    def _start(self) -> None:
        self._scheduler.activate(self)

    # -- identity -------------------------------------------------------------------------

    def job_set_id(self) -> str:
        return self._id

    def name(self) -> str:
        return self._name

    def tags(self) -> list[str]:
        """The user's tags; jobs also carry ``qjm_jobset_<id>`` and the tags of ``job_tags.py``."""
        with self._lock:
            return list(self._tags)

    @property
    def backend(self) -> Any:
        return self._adapter.backend

    @property
    def backend_name(self) -> str:
        return self._adapter.name

    def _job_name(self, chunk: ManagedJob) -> str:
        return f"{self._name}_{chunk.index}"

    def _job_tags(self, chunk: ManagedJob) -> list[str]:
        with self._lock:
            return job_tags(self._tags, self._id, chunk.index, self._plan, self._name)

    def update_name(self, name: str) -> str:
        """Rename the set (and the names of jobs submitted from now on); returns the new name."""
        if not isinstance(name, str) or not name:
            raise JobManagerInvalidStateError(f"name must be a non-empty string, got {name!r}")
        with self._lock:
            self._name = name
            self._events.post(self._set_event())
        self._events.flush()
        return name

    def update_tags(
        self,
        replacement_tags: list[str] | None = None,
        additional_tags: list[str] | None = None,
        removal_tags: list[str] | None = None,
    ) -> list[str]:
        """Replace, then add, then remove tags, in that order; returns the new tags.

        Jobs already sent get the new tags too where the backend keeps tags (IBM Quantum).
        """
        if replacement_tags is None and additional_tags is None and removal_tags is None:
            raise JobManagerInvalidStateError(
                "update_tags needs replacement_tags, additional_tags or removal_tags"
            )
        replace = (
            None if replacement_tags is None else string_list("replacement_tags", replacement_tags)
        )
        add = string_list("additional_tags", additional_tags)
        remove = set(string_list("removal_tags", removal_tags))
        with self._lock:
            tags = self._tags if replace is None else replace
            tags = [*tags, *(t for t in add if t not in tags)]
            self._tags = [t for t in dict.fromkeys(tags) if t not in remove]
            self._events.post(self._set_event())
            result = list(self._tags)
            # Jobs already sent carry the old tags: update them on the backend, off this thread.
            keeps_tags = self._adapter.capabilities.takes_tags
            sent = [c for c in self._chunks if self._is_live(c.job)] if keeps_tags else []
            for chunk in sent:
                self._scheduler.submit(self._task(partial(self._push_tags, chunk, chunk.job)))
        self._events.flush()
        if sent:
            self._start()
        return result

    def _push_tags(self, chunk: ManagedJob, job: Any) -> None:
        try:
            self._adapter.update_job_tags(job, self._job_tags(chunk))
        except Exception as exc:
            logger.warning("tags of job %s not updated: %s", chunk.job_id, exc)
            with self._lock:
                if chunk.job is job:
                    chunk.note = f"its tags could not be updated: {describe_exception(exc)}"
                    self._announce(chunk)

    def _set_event(self) -> JobSetEvent:
        return JobSetEvent("set", self._id)

    # -- chunks ---------------------------------------------------------------------------

    def managed_jobs(self) -> list[ManagedJob]:
        return list(self._chunks)

    def jobs(self) -> list[Any]:
        """Each chunk's job, None where it has none (not submitted, or its submit failed); for a
        retrieved set, the backend's job where it can be looked up, else a read-only
        :class:`StoredJob` with what the store kept.

        On IBM Quantum the first call lists the set's jobs by its tag (a request per 200 jobs);
        from then on ``managed_jobs()[i].job`` holds the same jobs."""
        self._job_lookup.swap_in(self._chunks, self._lock)
        return [chunk.job for chunk in self._chunks]

    @staticmethod
    def _is_live(job: Any) -> bool:
        """A job on the backend, not one rebuilt from the store."""
        return job is not None and not isinstance(job, StoredJob)

    def statuses(self) -> list[JobStatus | None]:
        return [chunk.status for chunk in self._chunks]

    def _chunk(self, index: object) -> ManagedJob:
        if isinstance(index, bool) or not isinstance(index, int):
            raise JobManagerJobNotFound(f"a chunk index must be an int, got {index!r}")
        if not 0 <= index < len(self._chunks):
            raise JobManagerJobNotFound(
                f"chunk index {index} is out of range: the set has {len(self._chunks)} chunks"
            )
        return self._chunks[index]

    def job(self, experiment: ExperimentKey) -> tuple[Any, int]:
        """The job that ran ``experiment`` and its index inside that job."""
        index = self._ledger.find(experiment)
        self._job_lookup.swap_in(self._chunks, self._lock)
        starts, chunks = self._chunks_by_start
        # Chunks hold whole runs of experiments, or share one run (its shots or points split):
        # the first of those that start last at or before it.
        at = bisect_right(starts, index) - 1
        if at >= 0:
            at = bisect_left(starts, starts[at])
        if at >= 0 and chunks[at].start_index <= index <= chunks[at].end_index:
            return chunks[at].job, index - chunks[at].start_index
        raise JobManagerJobNotFound(f"no chunk covers experiment {index}")

    @cached_property
    def _chunks_by_start(self) -> tuple[list[int], list[ManagedJob]]:
        """The chunks (a set's plan never changes) in order of their first experiment."""
        ordered = sorted(self._chunks, key=lambda chunk: (chunk.start_index, chunk.index))
        return [chunk.start_index for chunk in ordered], ordered

    def error_messages(self) -> str | None:
        """One line per failed chunk or experiment; None when nothing failed."""
        lines = [
            f"chunk {c.index} ({c.span}, "
            f"job {c.job_id or 'not submitted'}): {c.state.value}: "
            f"{c.error or c.note or 'no message'}"
            for c in self._chunks
            if c.state in _RETRYABLE or c.failed_experiments
        ]
        return "\n".join(lines) if lines else None

    def report(self, detailed: bool = True) -> str:
        return render_job_set_report(self, detailed)

    def counts(self) -> MergedCounts:
        """Counts merged so far: per experiment and in aggregate."""
        with self._lock:
            return self._ledger.snapshot()

    def merged_counts(
        self, experiment: ExperimentKey | None = None, loc: Loc | None = None
    ) -> dict[str, int]:
        """Counts merged so far of one experiment (of one of its points, ``loc``), or over all
        of them; cheaper than counts()."""
        index = None if experiment is None else self._ledger.find(experiment)
        if loc is not None and index is None:
            raise JobManagerInvalidInputError("loc needs an experiment")
        point = None if loc is None or index is None else self._experiments[index].point_index(loc)
        with self._lock:
            return self._ledger.of(index, point)

    def to_dataframe(self) -> Any:
        """A pandas DataFrame of the chunks, one row each, as of now (needs
        ``qjm_widget[pandas]``); its columns are those of :func:`qjm_widget.tables.chunk_table`."""
        from .tables import chunk_table

        return chunk_table(self)

    def experiments(self) -> list[Experiment]:
        """The set's experiments: each one's circuit and, for a sweep, its parameter values."""
        return list(self._experiments)

    def usage_seconds(self) -> float | None:
        """QPU seconds the set's jobs used so far, as the backend reports them (IBM Quantum);
        None where the backend reports none."""
        with self._lock:
            return total_usage(self._chunks)

    @property
    def last_finished_at(self) -> float | None:
        """Epoch seconds at which the latest chunk became final; None if none has."""
        return max((c.finished_at for c in self._chunks if c.finished_at), default=None)

    @property
    def num_experiments(self) -> int:
        return len(self._experiments)

    def widget(self) -> Any:
        """The live Jupyter widget of this set (needs anywidget): the same one while it is open,
        so that each display of the set is another view of it over one comm; a new one once it
        was closed (``widget.close()``)."""
        from .widget import JobSetWidget  # the core needs no widget libraries until asked

        return JobSetWidget.of(self)

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> Any:
        try:
            widget = self.widget()
        except ImportError:
            return {"text/plain": self.report(detailed=False)}
        return widget._repr_mimebundle_(include=include, exclude=exclude)

    def subscribe(self, listener: Listener) -> Callable[[], None]:
        """Call ``listener(event)`` on each change, from a background thread.

        Returns a function that unsubscribes the listener.
        """
        return self._events.subscribe(listener)

    @property
    def elapsed(self) -> float:
        return time.monotonic() - self._started

    # -- waiting --------------------------------------------------------------------------

    def done(self) -> bool:
        """True once every chunk is final (done, error, failed, cancelled or lost)."""
        with self._lock:
            return self._unfinished == 0

    def wait(self, timeout: float | None = None, progress: bool = False) -> None:
        """Block until every chunk is final; JobManagerTimeoutError after ``timeout`` seconds.

        ``progress=True`` draws a bar meanwhile, as :func:`qjm_widget.progress`; Control-C
        stops the wait, not the set.
        """
        seconds = timeout_seconds(timeout)
        if progress_flag(progress):
            wait_with_progress(self, seconds)
        else:
            self._wait_final(timeout, seconds)
        # Deliver the last events and let the store write them before returning, so that
        # listeners have seen the end and the store has it: a script may exit right after
        # results().
        self._events.flush()
        self._settle()

    def _wait_final(self, timeout: float | None, seconds: float | None) -> None:
        deadline = None if seconds is None else time.monotonic() + seconds
        with self._changed:
            while self._unfinished:
                left = _WAKE_SECONDS if deadline is None else deadline - time.monotonic()
                if left <= 0:
                    raise JobManagerTimeoutError(
                        f"job set {self._id} has {self._unfinished} unfinished chunks after "
                        f"{timeout} s"
                    )
                # In slices: a Control-C the OS hands to another thread is raised in this one
                # only once it wakes, and a wait on a lock without a timeout never does.
                self._changed.wait(min(left, _WAKE_SECONDS))

    def results(
        self,
        timeout: float | None = None,
        partial: bool = False,
        refresh: bool = False,
        progress: bool = False,
    ) -> ManagedResults:
        """Wait for every chunk, then return the results (failed chunks included, as such).

        ``refresh=True`` reads the statuses and results of unfinished chunks at once, instead
        of at the next poll (which backs off to seconds on remote backends); ``progress=True``
        draws a bar while waiting, as ``wait(progress=True)``.
        """
        if not isinstance(refresh, bool):
            raise JobManagerInvalidInputError(
                f"refresh must be True or False, got {type(refresh).__name__}"
            )
        progress_flag(progress)
        if refresh:
            self.refresh()
        self.wait(timeout, progress)
        return ManagedResults(self, partial)

    def refresh(self) -> None:
        """Poll the unfinished chunks' jobs now, results included, skipping any back-off."""
        with self._lock:
            self._next_poll = 0.0
            self._fetch_after.clear()
            self._poll_interval = self._adapter.capabilities.poll_interval[0]
        self._start()

    # -- control --------------------------------------------------------------------------

    def cancel(self) -> None:
        """Cancel every chunk: those not submitted at once, the others through the backend."""
        self._cancel(self._chunks)

    def cancel_job(self, index: int) -> None:
        """Cancel one chunk; where the backend refuses, the chunk's ``note`` says why."""
        self._cancel([self._chunk(index)])

    def _cancel(self, chunks: list[ManagedJob]) -> None:
        targets = []
        with self._lock:
            for chunk in chunks:
                if chunk.state in (ChunkState.PENDING, ChunkState.WAITING):
                    chunk.note = "cancelled before it was submitted"
                    self._move(chunk, ChunkState.CANCELLED)
                elif chunk.state is ChunkState.SUBMITTING:
                    self._cancel_requested.add(chunk.index)
                elif chunk.state.in_flight:
                    chunk.note = "cancelling"
                    self._announce(chunk)
                    targets.append((chunk, chunk.job))
            if targets:
                self._scheduler.submit(self._task(lambda: self._cancel_jobs(targets)))
        self._events.flush()

    def retry(self, index: int) -> None:
        """Resubmit a chunk that ended in error, failed, was cancelled or lost.

        Its new counts replace those of the earlier run; they are never added twice.
        """
        chunk = self._chunk(index)
        self._require_backend()
        with self._lock:
            if not chunk.state.is_final:
                raise JobManagerInvalidStateError(
                    f"chunk {index} is {chunk.state.value}; only a finished chunk can be retried"
                )
            if chunk.succeeded:
                raise JobManagerInvalidStateError(
                    f"chunk {index} finished successfully; there is nothing to retry"
                )
            if index in self._unknown_chunks:
                raise JobManagerInvalidStateError(
                    f"chunk {index} cannot be retried: its circuits are unknown ({chunk.error})"
                )
            self._reset(chunk)
        self._events.flush()
        self._start()

    def retry_failed(self) -> list[int]:
        """Retry every chunk in error, failed or lost, or with failed experiments (not cancelled
        ones: those were stopped on purpose). Returns the indexes retried."""
        self._require_backend()
        with self._lock:
            retried = [c for c in self._chunks if self._needs_retry(c)]
            for chunk in retried:
                self._reset(chunk)
        self._events.flush()
        if retried:
            self._start()
        return [c.index for c in retried]

    def _needs_retry(self, chunk: ManagedJob) -> bool:
        """What retry_failed() retries: not cancelled chunks, nor those with unknown circuits."""
        failed = chunk.state in _RETRYABLE or (
            chunk.state is ChunkState.DONE and bool(chunk.failed_experiments)
        )
        return failed and chunk.index not in self._unknown_chunks

    def _can_retry(self, chunk: ManagedJob) -> bool:
        """What retry(index) accepts."""
        return (
            self._adapter.can_submit
            and chunk.state.is_final
            and not chunk.succeeded
            and chunk.index not in self._unknown_chunks
        )

    def _require_backend(self) -> None:
        if not self._adapter.can_submit:
            raise JobManagerInvalidStateError(
                f"job set {self._id} was retrieved without a backend: pass backend=... to "
                "JobManager.retrieve_job_set to run chunks again"
            )

    def _reset(self, chunk: ManagedJob) -> None:
        if chunk.job_id:
            chunk.previous_job_ids.append(chunk.job_id)
        chunk.job = None
        chunk.job_id = None
        chunk.job_status = JobStatus.INITIALIZING
        chunk.results = None  # its counts stay merged until the new run replaces them
        chunk.error = None
        chunk.note = "retry requested"
        self._failures.pop(chunk.index, None)
        self._refused_cancels.pop(chunk.index, None)  # that note was about the old job
        self._move(chunk, ChunkState.PENDING)

    def __repr__(self) -> str:
        return (
            f"<ManagedJobSet {self._name!r} id={self._id} backend={self.backend_name} "
            f"chunks={len(self._chunks)}>"
        )
