"""Fault handling end to end: real backends wrapped by qjm_widget.testing's fault injectors."""

from __future__ import annotations

import random
import threading
from typing import Any

import pytest
from conftest import BackendCase, basis_circuits, expected_key, wait_until
from qiskit.primitives import BaseSamplerV2
from qiskit.providers import JobStatus
from qiskit_aer import AerSimulator

from qjm_widget import (
    ChunkState,
    JobManager,
    JobManagerInvalidStateError,
    JobManagerJobNotFound,
    ManagedJobSet,
    ManagedResultDataNotAvailable,
    RetryPolicy,
)
from qjm_widget.testing import FaultyBackend, FaultySampler, InjectedSubmitError

SHOTS = 32
FAST = RetryPolicy(initial_delay=0.01, max_delay=0.05)
NON_RUNTIME = ["aer", "basic", "fake_manila", "statevector_sampler", "aer_sampler"]
ONCE = RetryPolicy(attempts=1)  # no automatic retry
DONE, ERROR, FAILED, CANCELLED = (ChunkState(s) for s in ("done", "error", "failed", "cancelled"))


def wrap(backend: Any, **faults: Any) -> Any:
    if isinstance(backend, BaseSamplerV2):
        return FaultySampler(backend, **faults)
    return FaultyBackend(backend, **faults)


def start(
    manager: JobManager, backend: Any, circuits: Any, per_job: int | None = None, **options: Any
) -> ManagedJobSet:
    """Run ``circuits`` (a list, or how many basis circuits) with fast retries by default."""
    options = {"shots": SHOTS, "retry_policy": FAST, **options}
    circuits = basis_circuits(circuits) if isinstance(circuits, int) else circuits
    return manager.run(circuits, backend, max_experiments_per_job=per_job, **options)


def starts_at(index: int) -> Any:
    """error_when predicate: the job whose first circuit is experiment ``index``."""
    return lambda circuits: circuits[0].name == f"basis_{index}"


def states(job_set: ManagedJobSet) -> list[ChunkState]:
    return [chunk.state for chunk in job_set.managed_jobs()]


def assert_exact(job_set: ManagedJobSet, num: int, shots: int = SHOTS) -> None:
    merged = job_set.counts()
    assert merged.per_experiment == [{expected_key(i): shots} for i in range(num)], job_set.report()
    assert sum(merged.aggregate.values()) == num * shots


# -- failed submissions -------------------------------------------------------------------
@pytest.mark.parametrize("name", NON_RUNTIME)
def test_transient_submit_failures_are_retried_with_backoff_until_done(
    name: str, manager: JobManager
) -> None:
    case = BackendCase(name)
    policy = RetryPolicy(attempts=3, initial_delay=0.05, factor=2.0)
    backend = wrap(case.backend, fail_submit=2)
    job_set = start(manager, backend, case.circuits(4), retry_policy=policy)
    results = job_set.results(timeout=60)
    assert results.success, job_set.report()
    (chunk,) = job_set.managed_jobs()
    assert (chunk.state, chunk.attempts, chunk.error) == (DONE, 3, None)
    assert job_set.elapsed >= 0.05 + 0.1  # slept 0.05 s, then 0.1 s, between the three tries
    for index in range(4):
        case.assert_counts(results.get_counts(index), index, SHOTS)


def test_submit_failing_more_often_than_attempts_fails_the_chunk_until_retried(
    manager: JobManager,
) -> None:
    backend = FaultyBackend(AerSimulator(), fail_submit=2)
    job_set = start(manager, backend, 3, retry_policy=RetryPolicy(attempts=2, initial_delay=0.01))
    job_set.wait(timeout=30)
    (chunk,) = job_set.managed_jobs()
    assert (chunk.state, chunk.attempts, chunk.job) == (FAILED, 2, None)
    assert "injected fault" in (chunk.error or "")
    assert job_set.statuses() == [None]
    job_set.retry(0)
    job_set.wait(timeout=30)
    assert (chunk.state, chunk.attempts) == (DONE, 3)
    assert_exact(job_set, 3)


def test_failed_submit_leaves_other_chunks_intact_and_names_only_its_chunk(
    manager: JobManager,
) -> None:
    # ONCE: no automatic retry. max_concurrent_jobs=1: chunk 0 makes the first run() call.
    backend = FaultyBackend(AerSimulator(), fail_submit=1)
    job_set = start(manager, backend, 6, 2, max_concurrent_jobs=1, retry_policy=ONCE)
    results = job_set.results(timeout=30)
    assert states(job_set) == [FAILED, DONE, DONE]
    assert [c.attempts for c in job_set.managed_jobs()] == [1, 1, 1]
    assert job_set.statuses() == [None, JobStatus.DONE, JobStatus.DONE]
    assert not results.success
    with pytest.raises(ManagedResultDataNotAvailable, match="injected fault"):
        results.get_counts(1)
    expected = [{}, {}] + [{expected_key(i): SHOTS} for i in range(2, 6)]
    assert job_set.counts().per_experiment == expected
    messages = job_set.error_messages() or ""
    assert len(messages.splitlines()) == 1
    assert messages.startswith("chunk 0 (experiments 0-1")
    assert "injected fault" in messages
    job_set.retry(0)
    assert job_set.results(timeout=30).success
    assert_exact(job_set, 6)
    assert job_set.error_messages() is None


def test_retry_on_predicate_decides_which_failures_are_retried(manager: JobManager) -> None:
    never = RetryPolicy(attempts=5, initial_delay=0.01, retry_on=lambda exc: False)
    backend = FaultyBackend(AerSimulator(), fail_submit=1)
    refused = start(manager, backend, 2, retry_policy=never)
    refused.wait(timeout=30)
    assert [(c.state, c.attempts) for c in refused.managed_jobs()] == [(FAILED, 1)]
    seen: list[BaseException] = []  # the predicate records each failure, then says retry
    recording = RetryPolicy(initial_delay=0.01, attempts=5, retry_on=lambda e: not seen.append(e))
    backend = FaultyBackend(AerSimulator(), fail_submit=3)
    retried = start(manager, backend, 2, retry_policy=recording)
    retried.wait(timeout=30)
    assert [(c.state, c.attempts) for c in retried.managed_jobs()] == [(DONE, 4)]
    assert [type(e) for e in seen] == [InjectedSubmitError] * 3
    assert_exact(retried, 2)


# -- jobs that end in ERROR, failed result fetches, failed experiments ---------------------
@pytest.mark.parametrize("name", ["aer", "statevector_sampler", "aer_sampler"])
def test_job_ending_in_error_waits_for_retry_failed(name: str, manager: JobManager) -> None:
    case = BackendCase(name)
    backend = wrap(case.backend, error_jobs=1, error_when=starts_at(2))
    job_set = start(manager, backend, case.circuits(6), 2)
    results = job_set.results(timeout=30)
    chunks = job_set.managed_jobs()
    assert states(job_set) == [DONE, ERROR, DONE]
    assert chunks[1].attempts == 1, "a job that ended in ERROR must not be retried automatically"
    assert "injected fault" in (chunks[1].error or "")
    assert job_set.statuses()[1] is JobStatus.ERROR
    assert not results.success
    for index in (2, 3):
        with pytest.raises(ManagedResultDataNotAvailable, match="error"):
            results.get_counts(index)
    good = (0, 1, 4, 5)
    assert [results.get_counts(i) for i in good] == [{expected_key(i): SHOTS} for i in good]
    assert (job_set.error_messages() or "").startswith("chunk 1 ")
    assert job_set.retry_failed() == [1]
    assert job_set.results(timeout=30).success
    assert (chunks[1].attempts, len(chunks[1].previous_job_ids)) == (2, 1)
    assert_exact(job_set, 6)


@pytest.mark.parametrize("name", ["aer", "statevector_sampler"])
def test_transient_result_fetch_failure_is_retried_without_double_counting(
    name: str, manager: JobManager
) -> None:
    case = BackendCase(name)
    backend = wrap(case.backend, fail_result=2)
    job_set = start(manager, backend, case.circuits(6), 2)
    assert job_set.results(timeout=30).success, job_set.report()
    assert [c.attempts for c in job_set.managed_jobs()] == [1, 1, 1], "no job was resubmitted"
    assert_exact(job_set, 6)


def test_result_fetch_retry_waits_for_the_policy_backoff(manager: JobManager) -> None:
    # README: "failed submissions and result fetches are retried with exponential back-off".
    backend = FaultyBackend(AerSimulator(), fail_result=1)
    job_set = start(manager, backend, 2, retry_policy=RetryPolicy(initial_delay=0.5))
    assert job_set.results(timeout=30).success
    assert job_set.elapsed >= 0.5, "the fetch was retried without waiting initial_delay"


def test_chunk_whose_result_fetch_failed_for_good_reports_no_in_flight_status(
    manager: JobManager,
) -> None:
    backend = FaultyBackend(AerSimulator(), fail_result=1)
    job_set = start(manager, backend, 2, retry_policy=ONCE)
    job_set.wait(timeout=30)
    (chunk,) = job_set.managed_jobs()
    assert chunk.state is FAILED
    assert "could not fetch results" in (chunk.error or "")
    # The job ran to DONE; only its results could not be read. INITIALIZING means "not submitted".
    assert job_set.statuses()[0] in (JobStatus.DONE, None), job_set.statuses()


def test_failed_experiment_in_done_job_is_reported_and_retried(manager: JobManager) -> None:
    backend = FaultyBackend(
        AerSimulator(), fail_experiments=1, fail_experiment_when=lambda c: c.name == "basis_4"
    )
    job_set = start(manager, backend, 6, 3)
    results = job_set.results(timeout=30)
    chunk = job_set.managed_jobs()[1]
    assert (chunk.state, chunk.succeeded) == (DONE, False)
    assert chunk.failed_experiments == [(4, "injected fault: this experiment failed")]
    assert "experiment 4" in (chunk.error or "")
    messages = (job_set.error_messages() or "").splitlines()
    assert len(messages) == 1
    assert messages[0].startswith("chunk 1 ")
    assert "experiment 4" in messages[0]
    assert not results.success
    assert results.get_counts(0) == {expected_key(0): SHOTS}
    for index in (3, 4, 5):
        with pytest.raises(ManagedResultDataNotAvailable):
            results.get_counts(index)
    partial = job_set.results(partial=True)
    assert [partial.get_counts(i) for i in (3, 5)] == [{"011": SHOTS}, {"101": SHOTS}]
    with pytest.raises(ManagedResultDataNotAvailable, match="experiment failed"):
        partial.get_counts(4)
    assert job_set.counts().per_experiment[3:] == [{"011": SHOTS}, {}, {"101": SHOTS}]
    assert job_set.retry_failed() == [1]
    assert job_set.results(timeout=30).success
    assert job_set.error_messages() is None
    assert_exact(job_set, 6)


def test_chunk_being_retried_stops_reporting_its_old_failed_experiment(
    manager: JobManager,
) -> None:
    when = lambda circuit: circuit.name == "basis_1"  # noqa: E731
    backend = FaultyBackend(
        AerSimulator(), fail_experiments=1, fail_experiment_when=when, hold_queued=0.3
    )
    job_set = start(manager, backend, 3)
    job_set.wait(timeout=30)
    assert job_set.retry_failed() == [0]
    # The new job is held 0.3 s; error_messages() said "chunk 0 (...): queued: no message".
    assert job_set.managed_jobs()[0].failed_experiments == []
    assert job_set.error_messages() is None
    job_set.wait(timeout=30)
    assert_exact(job_set, 3)


# -- pending-job limit and concurrency -----------------------------------------------------
@pytest.mark.parametrize("name", ["aer", "statevector_sampler"])
def test_pending_job_limit_waits_and_resubmits_without_spending_attempts(
    name: str, manager: JobManager
) -> None:
    case = BackendCase(name)
    # The other chunk's job stays queued a while: the refused one waits at least that long,
    # since it goes again as soon as a job of the set ends.
    backend = wrap(case.backend, pending_limit=1, hold_queued=0.5)
    job_set = start(manager, backend, case.circuits(4), 2, retry_policy=ONCE)
    assert wait_until(lambda: ChunkState.WAITING in states(job_set))
    (waiting,) = [c for c in job_set.managed_jobs() if c.state is ChunkState.WAITING]
    assert "3458" in (waiting.note or "")
    assert waiting.error is None
    assert job_set.statuses()[waiting.index] is JobStatus.INITIALIZING
    assert job_set.results(timeout=30).success, job_set.report()
    assert [c.attempts for c in job_set.managed_jobs()] == [1, 1]
    assert_exact(job_set, 4)


class CountingBackend(FaultyBackend):
    """Counts jobs from run() until their result() returns: never more than the manager's."""

    live = peak = 0
    _count_lock = threading.Lock()

    def run(self, run_input: Any, **options: Any) -> Any:
        job = super().run(run_input, **options)
        with self._count_lock:
            self.live += 1
            self.peak = max(self.peak, self.live)
        fetch = job.result

        def result(timeout: float | None = None) -> Any:
            try:
                return fetch(timeout)
            finally:
                with self._count_lock:
                    self.live -= 1

        job.result = result
        return job


def test_max_concurrent_jobs_caps_unfinished_chunks(manager: JobManager) -> None:
    backend = CountingBackend(AerSimulator(), hold_queued=0.1)
    job_set = start(manager, backend, 12, 1, max_concurrent_jobs=3)
    # Events come in the order states changed: an exact view (missed early events lower it).
    seen: dict[int, str] = {}
    unfinished: list[int] = []

    def listen(event: Any) -> None:
        if event.kind == "chunk":
            seen[event.chunk_index] = event.state
            unfinished.append(sum(s in ("submitting", "queued", "running") for s in seen.values()))

    job_set.subscribe(listen)
    assert job_set.results(timeout=30).success
    assert max(unfinished) == 3, unfinished  # reached with 12 held jobs, never passed
    assert backend.peak <= 3
    assert backend.faults.submissions == 12
    assert_exact(job_set, 12)


# -- retries, cancels and the count ledger -------------------------------------------------
def test_no_counts_lost_or_doubled_under_a_seeded_mix_of_faults(manager: JobManager) -> None:
    rng = random.Random(20240611)
    circuits = basis_circuits(60)  # 30 chunks of 2
    thrice_failing = rng.randrange(30) * 2
    bad_experiments = {f"basis_{i}" for i in rng.sample(range(60), 3)}
    backend = FaultyBackend(
        AerSimulator(),
        fail_submit=rng.randint(3, 6),
        fail_result=rng.randint(2, 4),
        error_jobs=3,  # the same chunk ends in ERROR three times: three manual retries
        error_when=starts_at(thrice_failing),
        fail_experiments=3,
        fail_experiment_when=lambda c: c.name in bad_experiments,
        hold_queued=0.05,
    )
    policy = RetryPolicy(attempts=2, initial_delay=0.01, max_delay=0.02)
    job_set = start(manager, backend, circuits, 2, retry_policy=policy)
    overcounted: list[int] = []

    def check(event: Any) -> None:
        if event.kind == "counts":
            overcounted.extend(s for s in job_set.counts().shots if s > SHOTS)

    job_set.subscribe(check)
    for index in rng.sample(range(30), 5):
        job_set.cancel_job(index)
    for _ in range(12):
        job_set.wait(timeout=60)
        if all(c.succeeded for c in job_set.managed_jobs()):
            break
        job_set.retry_failed()
        for chunk in job_set.managed_jobs():
            if chunk.state is CANCELLED:
                job_set.retry(chunk.index)
    assert job_set.results(timeout=60).success, job_set.report()
    assert job_set.managed_jobs()[thrice_failing // 2].attempts >= 4
    assert not overcounted
    kinds = ("fail_submit", "fail_result", "error_jobs", "fail_experiments")
    assert not any(backend.faults.take(kind) for kind in kinds), "every planned fault fired"
    assert_exact(job_set, 60)
    clean = start(manager, AerSimulator(), circuits, 2)
    clean.wait(timeout=60)
    assert job_set.counts() == clean.counts()


def test_split_shots_survive_faults_and_retries(manager: JobManager) -> None:
    backend = FaultyBackend(AerSimulator(), fail_result=2, error_jobs=2, fail_submit=2)
    job_set = start(manager, backend, 4, 2, shots=50, max_shots_per_job=20)
    job_set.wait(timeout=30)
    assert len(job_set.managed_jobs()) == 6  # two slices x (20 + 20 + 10) shots
    unsucceeded = [c.index for c in job_set.managed_jobs() if not c.succeeded]
    assert len(unsucceeded) >= 2  # the two jobs that ended in ERROR, at least
    assert job_set.retry_failed() == unsucceeded
    results = job_set.results(timeout=30)
    assert results.success, job_set.report()
    assert [results.get_counts(i) for i in range(4)] == [{expected_key(i): 50} for i in range(4)]
    assert_exact(job_set, 4, shots=50)


def test_retry_refuses_running_and_successful_chunks_and_unknown_indexes(
    manager: JobManager,
) -> None:
    job_set = start(manager, FaultyBackend(AerSimulator(), hold_queued=1.0), 2)
    assert wait_until(lambda: states(job_set) == [ChunkState.QUEUED])
    with pytest.raises(JobManagerInvalidStateError, match="only a finished chunk"):
        job_set.retry(0)
    job_set.wait(timeout=30)
    with pytest.raises(JobManagerInvalidStateError, match="nothing to retry"):
        job_set.retry(0)
    for index in (1, -1):
        with pytest.raises(JobManagerJobNotFound):
            job_set.retry(index)
        with pytest.raises(JobManagerJobNotFound):
            job_set.cancel_job(index)
    assert job_set.managed_jobs()[0].attempts == 1
    assert_exact(job_set, 2)


@pytest.mark.parametrize("name", ["aer", "statevector_sampler"])
def test_cancelled_queued_chunk_runs_once_when_retried(name: str, manager: JobManager) -> None:
    case = BackendCase(name)
    backend = wrap(case.backend, hold_queued=1.0)
    job_set = start(manager, backend, case.circuits(8), 2)
    assert wait_until(lambda: job_set.managed_jobs()[2].state is ChunkState.QUEUED)
    job_set.cancel_job(2)
    job_set.wait(timeout=30)
    assert states(job_set) == [DONE, DONE, CANCELLED, DONE]
    assert job_set.statuses()[2] is JobStatus.CANCELLED
    assert job_set.counts().per_experiment[4:6] == [{}, {}]
    assert job_set.retry_failed() == [], "a cancelled chunk is retried only on request"
    job_set.retry(2)
    assert job_set.results(timeout=30).success
    assert job_set.managed_jobs()[2].attempts == 2
    assert_exact(job_set, 8)
