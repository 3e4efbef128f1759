"""The job manager's behaviours on each of the six real backends of the ``case`` fixture.

Every job runs on a real backend; the only fault (a job held QUEUED) comes from qjm_widget.testing's
wrappers around that backend. Basis-state circuits make every experiment's counts checkable by
index.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from conftest import BackendCase, basis_circuits, expected_key, qjm_threads, wait_until
from qiskit.providers import BackendV2, JobStatus
from qiskit.providers.basic_provider import BasicSimulator

from qjm_widget import (
    ChunkState,
    JobManager,
    JobManagerTimeoutError,
    JobSetEvent,
    ManagedJobSet,
    ManagedResultDataNotAvailable,
)
from qjm_widget.testing import FaultyBackend, FaultySampler

# Enough shots that a noisy backend's most frequent outcome is always the prepared state.
SHOTS = 100

# What a chunk's note says when the backend cannot cancel its already finished job.
REFUSED_CANCEL_WORDS = {
    "aer": "cannot stop a job once it has started",
    "basic": "nothing left to cancel",
    "fake_manila": "cannot stop a job once it has started",
    "statevector_sampler": "cannot be stopped",
    "aer_sampler": "cannot be stopped",
    "runtime_local_sampler": "cannot be stopped",
}


def faulty(case: BackendCase, **faults: Any) -> Any:
    """The case's real backend inside the fault-injecting wrapper of its kind."""
    if isinstance(case.backend, BackendV2):
        return FaultyBackend(case.backend, **faults)
    return FaultySampler(case.backend, **faults)


def assert_all_counts(case: BackendCase, job_set: ManagedJobSet, count: int, shots: int) -> None:
    results = job_set.results(timeout=60)
    assert results.success, f"{case.name}: the set did not succeed:\n{job_set.report()}"
    for index in range(count):
        case.assert_counts(results.get_counts(index), index, shots)


class EventLog:
    """Records every event with the chunk's note at that moment."""

    def __init__(self, job_set: ManagedJobSet) -> None:
        self.job_set = job_set
        self.events: list[JobSetEvent] = []
        self.notes: list[str | None] = []
        self.unsubscribe = job_set.subscribe(self)

    def __call__(self, event: JobSetEvent) -> None:
        self.events.append(event)
        if event.chunk_index is not None:
            self.notes.append(self.job_set.managed_jobs()[event.chunk_index].note)

    def of_kind(self, kind: str) -> list[JobSetEvent]:
        return [e for e in self.events if e.kind == kind]


@pytest.fixture
def make_manager() -> Iterator[Callable[[int], JobManager]]:
    """JobManagers with a chosen number of workers; all their threads must be gone at the end."""
    made: list[JobManager] = []

    def make(max_workers: int) -> JobManager:
        made.append(JobManager(max_workers=max_workers))
        return made[-1]

    yield make
    for job_manager in made:
        for job_set in job_manager.job_sets():
            job_set.cancel()
            job_set.wait(timeout=60)
    assert wait_until(lambda: not qjm_threads(), timeout=5), f"threads left: {qjm_threads()}"


# -- run() and waiting ------------------------------------------------------------------------


def test_run_returns_before_the_jobs_finish_then_results_are_exact(
    case: BackendCase, manager: JobManager
) -> None:
    job_set = manager.run(
        case.circuits(6), faulty(case, hold_queued=0.5), max_experiments_per_job=2, shots=SHOTS
    )
    statuses = job_set.statuses()
    assert not job_set.done(), f"{case.name}: done() is True although every job is held QUEUED"
    assert set(statuses) <= {JobStatus.INITIALIZING, JobStatus.QUEUED}, (
        f"{case.name}: statuses right after run(): {statuses}"
    )
    assert_all_counts(case, job_set, 6, SHOTS)
    assert job_set.done()
    assert job_set.statuses() == [JobStatus.DONE] * 3


def test_results_and_wait_time_out_on_a_held_set(case: BackendCase, manager: JobManager) -> None:
    job_set = manager.run(case.circuits(2), faulty(case, hold_queued=30), shots=10)
    with pytest.raises(JobManagerTimeoutError):
        job_set.results(timeout=0.05)
    with pytest.raises(JobManagerTimeoutError):
        job_set.wait(timeout=0)
    assert not job_set.done(), f"{case.name}: done() is True on a set held for 30 s"
    job_set.cancel()
    job_set.wait(timeout=10)
    assert job_set.done()


# -- chunking ---------------------------------------------------------------------------------


def test_without_a_limit_every_experiment_goes_in_one_job(
    case: BackendCase, manager: JobManager
) -> None:
    job_set = manager.run(case.circuits(5), case.backend, shots=SHOTS)
    assert_all_counts(case, job_set, 5, SHOTS)
    chunks = job_set.managed_jobs()
    assert [(c.index, c.start_index, c.end_index) for c in chunks] == [(0, 0, 4)]
    assert chunks[0].job is not None, f"{case.name}: the one chunk has no job"
    assert job_set.jobs() == [chunks[0].job]


def test_chunks_are_contiguous_inclusive_slices_and_job_finds_each_experiment(
    case: BackendCase, manager: JobManager
) -> None:
    circuits = case.circuits(7)
    job_set = manager.run(circuits, case.backend, max_experiments_per_job=3, shots=SHOTS)
    assert_all_counts(case, job_set, 7, SHOTS)
    chunks = job_set.managed_jobs()
    assert [(c.index, c.start_index, c.end_index) for c in chunks] == [
        (0, 0, 2),
        (1, 3, 5),
        (2, 6, 6),
    ]
    jobs = job_set.jobs()
    assert len({id(job) for job in jobs if job is not None}) == 3, f"{case.name}: jobs: {jobs}"
    assert jobs == [c.job for c in chunks]
    assert [c.job_id for c in chunks] == [str(job.job_id()) for job in jobs]
    assert job_set.statuses() == [JobStatus.DONE] * 3
    assert all(c.state is ChunkState.DONE and c.attempts == 1 for c in chunks)
    for index, circuit in enumerate(circuits):
        expected = (jobs[index // 3], index % 3)
        assert job_set.job(index) == expected, f"{case.name}: job({index})"
        assert job_set.job(f"basis_{index}") == expected, f"{case.name}: job('basis_{index}')"
        assert job_set.job(circuit) == expected, f"{case.name}: job(circuit {index})"


def test_max_shots_per_job_splits_shots_and_merges_counts_and_memory(
    case: BackendCase, manager: JobManager
) -> None:
    job_set = manager.run(
        case.circuits(4),
        case.backend,
        max_experiments_per_job=2,
        max_shots_per_job=30,
        shots=100,
        memory=True,
    )
    results = job_set.results(timeout=60)
    assert results.success, job_set.report()
    chunks = job_set.managed_jobs()
    assert [(c.start_index, c.end_index, c.shots) for c in chunks] == [
        (start, start + 1, shots) for start in (0, 2) for shots in (30, 30, 30, 10)
    ]
    merged = job_set.counts()
    for index in range(4):
        counts = results.get_counts(index)
        case.assert_counts(counts, index, 100)
        assert merged.per_experiment[index] == counts
        memory = results.get_memory(index)
        assert len(memory) == 100, f"{case.name}: experiment {index}: {len(memory)} memory shots"
        assert dict(Counter(memory)) == counts, f"{case.name}: memory disagrees with counts"
        if case.exact:
            assert set(memory) == {expected_key(index)}
    assert merged.shots == [100] * 4


def test_concurrent_jobs_on_one_basic_simulator_keep_their_own_shots(manager: JobManager) -> None:
    """BasicSimulator.run() stores each run's options (shots, memory, seed) on the instance and
    simulates inside run(); jobs submitted from several worker threads must not swap shots."""
    backend = BasicSimulator()
    job_sets = [
        manager.run(
            basis_circuits(400), backend, max_experiments_per_job=1, max_shots_per_job=2, shots=3
        )
        for _ in range(2)
    ]
    wrong: dict[tuple[int, int], int] = {}
    for number, job_set in enumerate(job_sets):
        results = job_set.results(timeout=60)
        assert results.success, job_set.report()
        for index in range(400):
            total = sum(results.get_counts(index).values())
            if total != 3:
                wrong[(number, index)] = total
    assert not wrong, (
        f"{len(wrong)} of 800 experiments ran with the shots of another job (a 2-shot and a "
        f"1-shot job each, 3 expected): {dict(list(wrong.items())[:5])}"
    )


# -- counts and events ------------------------------------------------------------------------


def test_counts_and_events_follow_each_chunk(case: BackendCase, manager: JobManager) -> None:
    job_set = manager.run(
        case.circuits(5), faulty(case, hold_queued=0.3), max_experiments_per_job=2, shots=SHOTS
    )
    log = EventLog(job_set)
    assert_all_counts(case, job_set, 5, SHOTS)
    assert wait_until(lambda: len(log.of_kind("counts")) == 3, timeout=5), log.events
    results = job_set.results()
    merged = job_set.counts()
    assert merged.per_experiment == [results.get_counts(i) for i in range(5)]
    aggregate: Counter[str] = Counter()
    for counts in merged.per_experiment:
        aggregate.update(counts)
    assert merged.aggregate == dict(aggregate)
    assert sum(merged.aggregate.values()) == 5 * SHOTS
    assert sorted(e.chunk_index for e in log.of_kind("counts")) == [0, 1, 2], log.events
    assert len(log.of_kind("final")) == 1, f"{case.name}: final events: {log.of_kind('final')}"
    assert all(e.job_set_id == job_set.job_set_id() for e in log.events)
    for index in range(3):
        states = [e.state for e in log.of_kind("chunk") if e.chunk_index == index]
        assert states[-1:] == ["done"], f"{case.name}: chunk {index} went {states}"
        assert set(states) <= {"submitting", "queued", "running", "done"}, states


def test_final_is_the_last_event(case: BackendCase, manager: JobManager) -> None:
    """A listener that stops at "final" must not miss the last chunk's "counts" event."""
    job_set = manager.run(
        case.circuits(4), faulty(case, hold_queued=0.3), max_experiments_per_job=2, shots=10
    )
    log = EventLog(job_set)
    job_set.wait(timeout=60)
    assert wait_until(lambda: len(log.of_kind("counts")) == 2 and log.of_kind("final"), 5), (
        f"{case.name}: expected 2 counts events and a final one: {log.events}"
    )
    kinds = [e.kind for e in log.events]
    after = kinds[kinds.index("final") + 1 :]
    assert not after, f"{case.name}: events delivered after 'final': {after}"


def test_unsubscribe_stops_delivery_and_a_failing_listener_breaks_nothing(
    case: BackendCase, manager: JobManager
) -> None:
    job_set = manager.run(
        case.circuits(4), faulty(case, hold_queued=0.3), max_experiments_per_job=2, shots=SHOTS
    )
    calls: list[JobSetEvent] = []

    def broken(event: JobSetEvent) -> None:
        calls.append(event)
        raise RuntimeError("listener bug")

    job_set.subscribe(broken)
    gone = EventLog(job_set)
    gone.unsubscribe()
    log = EventLog(job_set)
    assert_all_counts(case, job_set, 4, SHOTS)
    assert wait_until(lambda: len(log.of_kind("counts")) == 2 and log.of_kind("final"), 5), (
        f"{case.name}: expected 2 counts events and a final one: {log.events}"
    )
    late = gone.of_kind("counts") + gone.of_kind("final")
    assert not late, f"{case.name}: an unsubscribed listener still got {late}"
    assert any(e.kind == "final" for e in calls), "the raising listener was dropped"


# -- cancel -----------------------------------------------------------------------------------


def test_cancel_on_a_held_set_cancels_every_chunk(case: BackendCase, manager: JobManager) -> None:
    job_set = manager.run(
        case.circuits(5), faulty(case, hold_queued=30), max_experiments_per_job=2, shots=10
    )
    job_set.cancel()
    results = job_set.results(timeout=10)
    assert [c.state for c in job_set.managed_jobs()] == [ChunkState.CANCELLED] * 3, job_set.report()
    assert job_set.statuses() == [JobStatus.CANCELLED] * 3
    assert not results.success
    for index in range(5):
        with pytest.raises(ManagedResultDataNotAvailable):
            results.get_counts(index)
    assert job_set.counts().aggregate == {}


def test_cancel_after_the_first_chunk_keeps_its_counts_and_cancels_the_rest(
    case: BackendCase, manager: JobManager
) -> None:
    """One job at a time, each held 0.3 s: cancel() once chunk 0's counts are in."""
    job_set = manager.run(
        case.circuits(6),
        faulty(case, hold_queued=0.3),
        max_experiments_per_job=2,
        max_concurrent_jobs=1,
        shots=SHOTS,
    )

    def cancel_after_chunk_0(event: JobSetEvent) -> None:
        if event.kind == "counts" and event.chunk_index == 0:
            job_set.cancel()

    job_set.subscribe(cancel_after_chunk_0)
    results = job_set.results(timeout=60)
    states = [c.state for c in job_set.managed_jobs()]
    assert states == [ChunkState.DONE, ChunkState.CANCELLED, ChunkState.CANCELLED], job_set.report()
    assert job_set.statuses() == [JobStatus.DONE, JobStatus.CANCELLED, JobStatus.CANCELLED]
    assert not results.success
    merged = job_set.counts()
    for index in (0, 1):
        case.assert_counts(results.get_counts(index), index, SHOTS)
        assert merged.per_experiment[index] == results.get_counts(index)
    for index in range(2, 6):
        with pytest.raises(ManagedResultDataNotAvailable, match="cancelled"):
            results.get_counts(index)
        assert merged.per_experiment[index] == {}, f"{case.name}: cancelled {index} has counts"
    assert sum(merged.aggregate.values()) == 2 * SHOTS


def cancel_a_finished_backend_job(
    case: BackendCase, make_manager: Callable[[int], JobManager]
) -> tuple[ManagedJobSet, EventLog]:
    """Cancel a chunk still in flight whose (unwrapped) backend job has certainly finished.

    With one worker, a listener subscribed before the chunk is submitted cancels on its "queued"
    event once the backend job is DONE: no poll can start while an event is being delivered, so
    the cancel task is queued ahead of the poll that would collect the results. A held set on
    the same manager keeps the coordinator or the worker busy until the listener is subscribed.
    """
    job_manager = make_manager(1)
    blocked, gate = threading.Event(), threading.Event()

    def hold(_event: JobSetEvent) -> None:
        if not blocked.is_set():
            blocked.set()
            gate.wait(10)

    blocker = job_manager.run(
        basis_circuits(1), FaultyBackend(BasicSimulator(), hold_queued=0.5), shots=10
    )
    blocker.subscribe(hold)
    try:
        assert blocked.wait(5), "the held set on the same manager sent no event"
        job_set = job_manager.run(case.circuits(3), case.backend, shots=SHOTS)
        cancelled = threading.Event()

        def cancel_once_the_job_finished(event: JobSetEvent) -> None:
            if event.kind == "chunk" and event.state == "queued" and not cancelled.is_set():
                cancelled.set()
                job = job_set.managed_jobs()[0].job
                wait_until(lambda: job.status() is JobStatus.DONE, timeout=10)
                job_set.cancel()

        job_set.subscribe(cancel_once_the_job_finished)
        log = EventLog(job_set)
    finally:
        gate.set()
    job_set.wait(timeout=60)
    blocker.wait(timeout=60)
    assert cancelled.is_set(), f"{case.name}: the chunk was never seen queued: {log.events}"
    return job_set, log


def test_cancel_of_a_finished_backend_job_is_refused_with_a_note_and_counts_kept(
    case: BackendCase, make_manager: Callable[[int], JobManager]
) -> None:
    job_set, log = cancel_a_finished_backend_job(case, make_manager)
    words = REFUSED_CANCEL_WORDS[case.name]
    assert any(words in (note or "") for note in log.notes), (
        f"{case.name}: no note saying {words!r}; notes seen: {log.notes}"
    )
    assert job_set.managed_jobs()[0].state is ChunkState.DONE, job_set.report()
    assert_all_counts(case, job_set, 3, SHOTS)
    assert job_set.counts().shots == [SHOTS] * 3


def test_refused_cancel_note_survives_the_job_finishing(
    case: BackendCase, make_manager: Callable[[int], JobManager]
) -> None:
    """README: where the backend cannot cancel, "the chunk's note says so and the job runs to its
    end, its counts kept" -- the note must still be there once the set is done."""
    job_set, log = cancel_a_finished_backend_job(case, make_manager)
    words = REFUSED_CANCEL_WORDS[case.name]
    assert any(words in (note or "") for note in log.notes), log.notes
    note = job_set.managed_jobs()[0].note
    assert words in (note or ""), (
        f"{case.name}: the refused-cancel note was lost when the job finished: note={note!r}"
    )


# -- threads ----------------------------------------------------------------------------------


def test_threads_stay_within_max_workers_plus_coordinator_and_writer(
    case: BackendCase, make_manager: Callable[[int], JobManager]
) -> None:
    job_set = make_manager(2).run(
        case.circuits(20), case.backend, max_experiments_per_job=1, shots=SHOTS
    )
    seen = [len(qjm_threads())]
    job_set.subscribe(lambda _event: seen.append(len(qjm_threads())))
    while not job_set.done():
        seen.append(len(qjm_threads()))
        time.sleep(0.001)
    assert_all_counts(case, job_set, 20, SHOTS)
    # Two workers, the coordinator and the writer of the (default) store.
    assert max(seen) <= 4, f"{case.name}: up to {max(seen)} qjm threads with max_workers=2"
    assert wait_until(lambda: not qjm_threads(), timeout=5), f"threads left: {qjm_threads()}"
