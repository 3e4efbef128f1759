"""One listing per poll round on IBM Quantum: a set's in-flight jobs are read with one
``GET /jobs`` per page, through the real qiskit-ibm-runtime 0.51 client and the stand-in."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from conftest import basis_circuits, expected_key, wait_until
from ibm_standin import RuntimeStandIn
from qiskit.providers import JobStatus

from qjm_widget import JobManager, ManagedJobSet, RetryPolicy
from qjm_widget.backends import ibm_listing, runtime

SHOTS = 16
LISTING = ("GET", "/api/v1/jobs")
FAST = RetryPolicy(initial_delay=0.05, max_delay=0.2)


@pytest.fixture
def api(monkeypatch: pytest.MonkeyPatch) -> Iterator[RuntimeStandIn]:
    monkeypatch.setattr(runtime, "REMOTE_POLL_INTERVAL", (0.05, 0.2))
    with RuntimeStandIn(backends=("fake_manila",), noise=False) as standin:
        yield standin


@pytest.fixture
def backend(api: RuntimeStandIn) -> object:
    return api.service().backend("fake_manila")


def read_once(job_set: ManagedJobSet) -> bool:
    """The set has read the status of every job it submitted (the stand-in holds them)."""
    chunks = job_set.managed_jobs()
    return all(c.job_status is JobStatus.QUEUED for c in chunks)


def test_the_installed_client_is_one_the_listing_was_checked_against() -> None:
    # Fails when qiskit-ibm-runtime changes: check ibm_listing's private names against the new
    # release, then add it to ibm_listing.CHECKED.
    import qiskit_ibm_runtime

    assert ibm_listing.listing_for("qiskit_ibm_runtime") is not None, (
        f"qiskit-ibm-runtime {qiskit_ibm_runtime.__version__} is not in ibm_listing.CHECKED"
    )


def test_a_poll_round_reads_every_queued_job_with_one_request_a_page(
    api: RuntimeStandIn, backend: object, manager: JobManager, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(ibm_listing, "PAGE_SIZE", 8)  # 30 jobs: 4 pages a round
    api.hold()
    job_set = manager.run(basis_circuits(30), backend, max_experiments_per_job=1, shots=SHOTS)
    assert wait_until(lambda: len(api.jobs) == 30 and read_once(job_set), 60), job_set.report()
    seen = len(api.requests)

    def first_pages() -> int:
        window = zip(api.requests[seen:], api.queries[seen:], strict=False)
        return sum(1 for r, q in window if r[:2] == LISTING and "offset=" not in q)

    assert wait_until(lambda: first_pages() >= 5, 60)
    while_queued = list(zip(api.requests[seen:], api.queries[seen:], strict=False))
    api.release()
    results = job_set.results(timeout=60)
    assert [results.get_counts(i) for i in range(30)] == [
        {expected_key(i): SHOTS} for i in range(30)
    ]
    assert {r[:2] for r, _ in while_queued} == {LISTING}, "a job was read on its own"
    pages = [q for _, q in while_queued]
    rounds = sum("offset=" not in q for q in pages)
    # The window may cut one round short at each end; a whole round is exactly 4 pages.
    assert 4 * (rounds - 1) <= len(pages) <= 4 * (rounds + 1), pages
    assert all(f"tags=qjm_jobset_{job_set.job_set_id()}" in q for q in pages), pages[:3]


def test_a_rate_limited_listing_waits_the_retry_after_it_names(
    api: RuntimeStandIn, backend: object, manager: JobManager
) -> None:
    # The client's urllib3 Retry honours Retry-After on a 429 (for any method, with its own
    # budget of 5 tries); the set sees one slow poll round, not a failure.
    api.hold()
    job_set = manager.run(
        basis_circuits(2), backend, max_experiments_per_job=1, shots=SHOTS, retry_policy=FAST
    )
    assert wait_until(lambda: len(api.jobs) == 2 and read_once(job_set), 60), job_set.report()
    api.faults.http_error(status=429, count=1, method="GET", path=LISTING[1], retry_after=2)
    assert wait_until(lambda: (*LISTING, 429) in api.requests, 30)
    api.release()
    results = job_set.results(timeout=60)
    assert [results.get_counts(i) for i in range(2)] == [{expected_key(i): SHOTS} for i in range(2)]
    listings = [t for r, t in zip(api.requests, api.times, strict=False) if r[:2] == LISTING]
    statuses = [r.status for r in api.requests if r[:2] == LISTING]
    refused = statuses.index(429)
    assert statuses.count(429) == 1
    assert listings[refused + 1] - listings[refused] >= 1.9, "Retry-After was not waited"
    assert [c.attempts for c in job_set.managed_jobs()] == [1, 1]
    assert all(c.error is None for c in job_set.managed_jobs()), job_set.report()


def test_usage_comes_with_the_listing_without_a_metrics_request_per_job(
    api: RuntimeStandIn, backend: object, manager: JobManager
) -> None:
    api.job_seconds = 0.2  # each job holds the device a while: a usage worth reading
    job_set = manager.run(basis_circuits(3), backend, max_experiments_per_job=1, shots=SHOTS)
    assert job_set.results(timeout=60).success, job_set.report()
    billed = {v.id: v.quantum_seconds for v in api.jobs.values()}
    for chunk in job_set.managed_jobs():
        assert chunk.job_id is not None
        assert chunk.usage_seconds == pytest.approx(billed[chunk.job_id]), job_set.report()
        assert chunk.usage_seconds >= 0.2
    assert not [r for r in api.requests if r.path.endswith("/metrics")]
