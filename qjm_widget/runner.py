"""The state machine that moves a job set's chunks from pending to final.

It runs on the manager's scheduler: ``step`` (on the coordinator) decides what to start,
tasks (on the pool) do the slow calls into the backend, and every change of state goes through
``_move`` under one lock, which keeps the indexes, events and waiters in step. This module sends
chunks; polling.py reads what became of their jobs.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from functools import partial
from typing import Any

from qiskit.providers import JobStatus

from .backends import BackendAdapter, describe_exception
from .backends.ibm_errors import is_pending_job_limit, retry_after
from .chunk import ChunkState, ManagedJob
from .counts import CountsLedger
from .events import EventHub, JobSetEvent
from .outcomes import SliceResult
from .policy import RetryPolicy
from .scheduler import Scheduler, Task
from .workload import Experiment, Slice, slices_of

logger = logging.getLogger(__name__)

_LIMIT_DELAY = (1.0, 60.0)


class ChunkRunner:
    """Runs chunks through an adapter; ManagedJobSet adds the public API on top."""

    def __init__(
        self,
        *,
        job_set_id: str,
        experiments: Sequence[Experiment],
        chunks: list[ManagedJob],
        adapter: BackendAdapter,
        scheduler: Scheduler,
        run_config: dict[str, Any],
        max_concurrent_jobs: int | None,
        retry_policy: RetryPolicy,
    ) -> None:
        self._id = job_set_id
        self._experiments = list(experiments)
        self._chunks = chunks
        self._adapter = adapter
        self._scheduler = scheduler
        self._run_config = run_config
        self._max_concurrent = max_concurrent_jobs
        self._policy = retry_policy
        self._lock = threading.RLock()
        self._changed = threading.Condition(self._lock)
        self._events = EventHub()
        self._ledger = CountsLedger(self._experiments)
        # Chunks may arrive in any state (a set restored from the store), not only pending.
        self._pending: deque[int] = deque(c.index for c in chunks if c.state is ChunkState.PENDING)
        self._waiting: dict[int, float] = {}
        self._submitting: set[int] = set()
        self._in_flight: set[int] = {c.index for c in chunks if c.state.in_flight}
        self._cancel_requested: set[int] = set()
        self._failures: dict[int, int] = {}
        self._fetch_after: dict[int, float] = {}
        self._fetching: set[int] = set()
        """DONE chunks whose results a task on the pool is reading."""
        self._refused_cancels: dict[int, str] = {}
        self._unfinished = sum(not c.state.is_final for c in chunks)
        for chunk in chunks:
            if chunk.state is ChunkState.DONE and chunk.results is not None:
                self._merge_counts(chunk, chunk.results)
        self._tasks = 0
        self._polling = False
        self._poll_interval = adapter.capabilities.poll_interval[0]
        self._next_poll = 0.0
        self._limit = scheduler.pending_limits.get(adapter.pending_limit_scope())
        self._limit.adopt(len(self._in_flight))
        self._submit_after = 0.0
        """No submit of the set before this: refused for the pending-job limit while none of
        our jobs was pending to free a slot."""
        self._limit_waits = 0
        self._may_submit: Callable[[ManagedJob], bool] = _always
        """False while a chunk must not go yet: its circuits are not stored (store_writer)."""
        self._why_held: Callable[[], str | None] = _nothing
        """Why chunks are held beyond a moment (the store cannot be written), for their note."""
        self._held_note: str | None = None
        """The note the held chunks show now."""
        self._settle: Callable[[], object] = _nothing
        """What wait() waits for once every chunk is final: the store's writer."""

    def _hold_submits(
        self, until: Callable[[ManagedJob], bool], why: Callable[[], str | None]
    ) -> None:
        """Submit each chunk only once ``until(chunk)``; whoever makes it true calls
        ``_start()`` to have the set look again, and does so too when ``why()`` (the note of
        the chunks held, None while holding them is only a moment's) changes."""
        with self._lock:
            self._may_submit, self._why_held = until, why

    def _settle_with(self, settle: Callable[[], object]) -> None:
        """Have wait() (and results()) also wait for ``settle()`` once every chunk is final."""
        self._settle = settle

    @property
    def pending_job_limit(self) -> int | None:
        """The backend's pending-job limit learned from its refusals (IBM's error 3458) for
        this set's account and backend, shared with the manager's other sets there; None while
        none is learned."""
        return self._limit.limit

    # Hooks the public class fills in.
    def _job_name(self, chunk: ManagedJob) -> str:
        raise NotImplementedError

    def _job_tags(self, chunk: ManagedJob) -> list[str]:
        raise NotImplementedError

    # -- state changes (call with the lock held) -------------------------------------------

    def _move(self, chunk: ManagedJob, state: ChunkState) -> None:
        old = chunk.state
        index = chunk.index
        self._fetch_after.pop(index, None)
        self._submitting.discard(index)
        self._in_flight.discard(index)
        self._waiting.pop(index, None)
        if old.in_flight and not state.in_flight:
            self._limit.ended()
        if state is ChunkState.PENDING:
            self._pending.appendleft(index)
        elif state is ChunkState.SUBMITTING:
            self._submitting.add(index)
        elif state.in_flight:
            self._in_flight.add(index)
        if state.is_final and not old.is_final:
            self._unfinished -= 1
            chunk.finished_at = time.time()
        elif old.is_final and not state.is_final:
            self._unfinished += 1
            chunk.finished_at = None
        chunk.state = state
        self._announce(chunk)
        if self._unfinished == 0 and not old.is_final:
            self._events.post(JobSetEvent("final", self._id))

    def _announce(self, chunk: ManagedJob) -> None:
        self._events.post(JobSetEvent("chunk", self._id, chunk.index, chunk.state.value))
        self._changed.notify_all()

    def _wait_then_resubmit(self, chunk: ManagedJob, delay: float, note: str) -> None:
        self._move(chunk, ChunkState.WAITING)
        self._waiting[chunk.index] = time.monotonic() + delay
        chunk.note = note
        self._scheduler.wake()

    # -- the coordinator's step -----------------------------------------------------------

    def step(self, now: float) -> tuple[list[Task], float | None, bool]:
        tasks: list[Task] = []
        with self._lock:
            for index, due in list(self._waiting.items()):
                if due <= now:
                    self._move(self._chunks[index], ChunkState.PENDING)
            capacity = self._max_concurrent or len(self._chunks)
            while (
                self._pending
                and now >= self._submit_after
                and len(self._submitting) + len(self._in_flight) < capacity
                and self._may_submit(self._chunks[self._pending[0]])
                and self._limit.reserve()
            ):
                chunk = self._chunks[self._pending.popleft()]
                if chunk.state is not ChunkState.PENDING:
                    continue  # cancelled or already taken since it was queued
                chunk.attempts += 1
                self._move(chunk, ChunkState.SUBMITTING)
                tasks.append(self._task(partial(self._submit, chunk)))
            self._note_held()
            if self._in_flight and not self._polling and now >= self._next_poll:
                self._polling = True
                tasks.append(self._task(self._poll))
            wakes = list(self._waiting.values())
            if self._in_flight and not self._polling:
                wakes.append(self._next_poll)
            if self._pending:
                wakes += [at for at in (self._submit_after, self._limit.resume_at) if at > now]
            finished = self._unfinished == 0 and self._tasks == 0
            if finished and self._adapter.holds_resources:
                # A batch or session stays open on the backend until told otherwise.
                tasks.append(self._task(self._adapter.release))
                finished = False
        self._events.flush()
        return tasks, min(wakes) if wakes else None, finished

    def _note_held(self) -> None:
        """Each chunk held for the store shows why, once that is more than a moment (lock
        held); the note goes when the hold does."""
        held = bool(self._pending) and not self._may_submit(self._chunks[self._pending[0]])
        note = self._why_held() if held else None
        if note == self._held_note:
            return
        old, self._held_note = self._held_note, note
        for index in self._pending:
            chunk = self._chunks[index]
            if chunk.state is not ChunkState.PENDING or chunk.note != old:
                continue
            if note is None or not self._may_submit(chunk):
                chunk.note = note
                self._announce(chunk)

    def _task(self, work: Callable[[], None]) -> Task:
        """Wrap ``work`` so the set counts it as running until it returns (lock held)."""
        self._tasks += 1

        def run() -> None:
            try:
                work()
            finally:
                with self._lock:
                    self._tasks -= 1
                self._events.flush()
                self._scheduler.wake()

        return run

    # -- tasks on the pool ----------------------------------------------------------------

    def _slices(self, chunk: ManagedJob) -> list[Slice]:
        return slices_of(self._experiments, chunk.start_index, chunk.end_index, chunk.points)

    def _submit(self, chunk: ManagedJob) -> None:
        if not self._limit.still_fits():
            with self._lock:
                chunk.attempts -= 1
                self._move(chunk, ChunkState.PENDING)
            return
        try:
            job = self._adapter.submit(
                self._slices(chunk),
                shots=chunk.shots,
                run_config=self._run_config,
                name=self._job_name(chunk),
                tags=self._job_tags(chunk),
                job_number=len(chunk.previous_job_ids) + 1,
            )
        except Exception as exc:
            with self._lock:
                self._submit_failed(chunk, exc)
            return
        self._limit.accepted()
        with self._lock:
            self._limit_waits = 0
            self._failures.pop(chunk.index, None)  # fetching gets a budget of its own
            chunk.job = job
            chunk.job_id = self._adapter.job_id(job)
            chunk.job_status = JobStatus.INITIALIZING
            chunk.submitted_at = time.time()
            chunk.error = None
            chunk.note = None
            self._move(chunk, ChunkState.QUEUED)
            self._poll_soon()
            cancel_now = chunk.index in self._cancel_requested
            self._cancel_requested.discard(chunk.index)
        if cancel_now:
            self._cancel_jobs([(chunk, job)])

    def _submit_failed(self, chunk: ManagedJob, exc: Exception) -> None:
        over_limit = is_pending_job_limit(exc)
        if over_limit:
            limit = self._limit.refused()
        else:
            self._limit.released()
        if chunk.index in self._cancel_requested:
            self._cancel_requested.discard(chunk.index)
            chunk.error = f"submit failed: {describe_exception(exc)}"
            self._move(chunk, ChunkState.CANCELLED)
            return
        if over_limit:
            chunk.attempts -= 1  # the backend asked us to wait; that is not a failed try
            self._wait_for_slot(chunk, limit)
            return
        failures = self._failures.get(chunk.index, 0) + 1
        self._failures[chunk.index] = failures
        chunk.error = f"submit failed (try {chunk.attempts}): {describe_exception(exc)}"
        if self._policy.should_retry(exc, failures):
            delay = self._policy.delay(failures)
            note = f"retrying in {delay:.1f} s"
            asked = retry_after(exc)
            if asked is not None:
                # The client waits out a rate limiter's Retry-After only on reads, not on a
                # submit. The limiter counts the account's requests, not this chunk's, so no
                # submit of any set on the account goes sooner than asked: it would only be
                # refused again.
                self._limit.wait_out(asked)
                if asked > delay:
                    delay = asked
                    note = f"retrying in {delay:.1f} s, as IBM Quantum asked (Retry-After)"
            self._wait_then_resubmit(chunk, delay, note)
        else:
            chunk.note = None
            self._move(chunk, ChunkState.FAILED)

    def _wait_for_slot(self, chunk: ManagedJob, limit: int) -> None:
        """The backend refused the chunk's job for its pending-job limit of ``limit``."""
        if self._limit.pending:
            # One of our jobs ending frees a slot; the chunk waits in line for it. Poll soon: a
            # job that ended since the last round still counts as pending until it is seen.
            # Not at once: a refusal often comes right after our last submits, when a listing
            # would find nothing ended and cost a request per refusal for nothing.
            soon = time.monotonic() + self._adapter.capabilities.poll_interval[0]
            self._next_poll = min(self._next_poll, soon)
            chunk.note = (
                f"waiting for a free slot under the pending-job limit: {self._adapter.name} "
                f"takes at most {limit} pending job{'s' * (limit != 1)} from this account "
                "(learned from its error 3458)"
            )
            self._move(chunk, ChunkState.PENDING)
            return
        # Others hold every slot (other programs on the account): none of ours will free one.
        self._limit_waits += 1
        low, high = _LIMIT_DELAY
        delay = min(high, low * 2 ** (self._limit_waits - 1))
        self._submit_after = max(self._submit_after, time.monotonic() + delay)
        self._wait_then_resubmit(
            chunk,
            delay,
            f"the backend's pending-job limit is reached (error 3458) and none of this "
            f"manager's jobs is pending there to free a slot; resubmitting in {delay:.0f} s",
        )

    def _poll_soon(self) -> None:
        self._poll_interval = self._adapter.capabilities.poll_interval[0]
        self._next_poll = time.monotonic() + self._poll_interval
        self._scheduler.wake()

    def _poll(self) -> None:
        """Read the in-flight chunks' jobs once (polling.py)."""
        raise NotImplementedError

    def _merge_counts(self, chunk: ManagedJob, results: list[SliceResult]) -> None:
        """Make ``results`` the chunk's only contribution to the set's counts."""
        self._ledger.replace(chunk.index, self._slices(chunk), results)

    def _cancel_jobs(self, targets: list[tuple[ManagedJob, Any]]) -> None:
        for chunk, job in targets:
            outcome = self._adapter.cancel(job)
            with self._lock:
                if chunk.job is job and chunk.state.in_flight:
                    chunk.note = outcome.note
                    self._announce(chunk)
                    if outcome.cancelled:
                        self._poll_soon()
                    else:
                        self._refused_cancels[chunk.index] = outcome.note
        self._events.flush()


def _always(_chunk: ManagedJob) -> bool:
    return True


def _nothing() -> None:
    return None
