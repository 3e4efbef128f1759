"""IBMQJobManager's retrieval API: a set found again by its id and a provider alone, ``refresh``,
and the jobs of a retrieved set (the backend's own, or read-only StoredJobs from the store).

A new JobManager on the store, with a service of its own, stands in for a new process where a
test counts the stand-in's requests; the first test runs a real one.
"""

from __future__ import annotations

import json
import logging
import pathlib
from collections.abc import Iterator
from typing import Any

import pytest
from conftest import basis_circuits, expected_key
from ibm_standin import RuntimeStandIn
from qiskit.primitives import PrimitiveResult, StatevectorSampler
from qiskit.providers import JobStatus
from qiskit_aer import AerSimulator
from store_workers.support import Worker, standin_json

from qjm_widget import (
    ChunkState,
    JobManager,
    JobManagerInvalidInputError,
    JobManagerInvalidStateError,
    JobManagerTimeoutError,
    ManagedJobSet,
    StoredJob,
)
from qjm_widget.backends import runtime
from qjm_widget.testing import FaultyBackend

SHOTS = 12
JOBS = "/api/v1/jobs"
LISTING = ("GET", JOBS)


@pytest.fixture(scope="module")
def api() -> Iterator[RuntimeStandIn]:
    with RuntimeStandIn(backends=("fake_manila",), noise=False) as standin:
        yield standin


@pytest.fixture
def service(api: RuntimeStandIn) -> Any:
    api.faults.clear()
    api.release()
    return api.service()


def test_a_set_is_retrieved_in_a_new_process_by_its_id_and_the_service_alone(
    api: RuntimeStandIn, service: Any, tmp_path: pathlib.Path
) -> None:
    store = tmp_path / "store.sqlite3"
    api.faults.fail_job(1, reason="the device was recalibrated")
    job_set = JobManager(store=store).run(
        basis_circuits(4), service.backend("fake_manila"), max_experiments_per_job=2, shots=SHOTS
    )
    job_set.wait(90)
    failed = [c.index for c in job_set.managed_jobs() if c.state is ChunkState.ERROR]
    assert len(failed) == 1, job_set.report()

    worker = Worker(
        "retrieve_on_standin.py",
        store,
        job_set.job_set_id(),
        standin_json(api),
        log=tmp_path / "worker.log",
    )
    answer = json.loads(worker.line(timeout=120))
    worker.finish()
    assert answer["backend"] == "fake_manila"
    assert answer["retried"] == failed
    assert answer["success"] is True
    assert answer["counts"] == [{expected_key(i): SHOTS} for i in range(4)]
    # The retried chunk ran a new IBM job; the one that was done is IBM's job, looked up.
    assert answer["jobs"] == ["RuntimeJobV2", "RuntimeJobV2"]


def finished_on_ibm(manager: JobManager, service: Any, num: int) -> ManagedJobSet:
    """A set of ``num`` chunks (one circuit each) that ended on the stand-in."""
    job_set = manager.run(
        basis_circuits(num), service.backend("fake_manila"), max_experiments_per_job=1, shots=SHOTS
    )
    job_set.wait(90)
    return job_set


def job_requests(api: RuntimeStandIn, since: int) -> list[tuple[str, str]]:
    """(method, path) of each request about jobs (listings, one job's GET) after the first
    ``since`` requests; the set's batch, IAM and backends are left out."""
    return [(r.method, r.path) for r in api.requests[since:] if r.path.startswith(JOBS)]


def pub_counts(job: Any) -> list[dict[str, int]]:
    return [pub.join_data().get_counts() for pub in job.result()]


def test_a_retrieved_sets_finished_jobs_are_ibms_own_found_by_one_listing_on_first_need(
    api: RuntimeStandIn, service: Any, manager: JobManager
) -> None:
    api.faults.fail_job(1, reason="the device was recalibrated")
    job_set = finished_on_ibm(manager, service, 4)
    job_ids = [c.job_id for c in job_set.managed_jobs()]
    (failed,) = [c.index for c in job_set.managed_jobs() if c.state is ChunkState.ERROR]
    seen = len(api.requests)
    again = JobManager(store=manager.store).retrieve_job_set(
        job_set.job_set_id(), provider=api.service()
    )
    assert job_requests(api, seen) == [], "the retrieval looked jobs up"
    # Reading a chunk's job is a plain attribute read: the widget and the poller do it.
    assert [type(c.job) for c in again.managed_jobs()] == [StoredJob] * 4
    seen = len(api.requests)
    jobs = again.jobs()
    assert job_requests(api, seen) == [LISTING], "not one listing of the set's jobs"
    assert [type(job).__name__ for job in jobs] == ["RuntimeJobV2"] * 4
    assert [job.job_id() for job in jobs] == job_ids
    assert all(c.job is job for c, job in zip(again.managed_jobs(), jobs, strict=True))
    seen = len(api.requests)
    assert again.jobs() == jobs
    assert again.job(failed) == (jobs[failed], 0)
    assert job_requests(api, seen) == [], "the jobs were looked up again"
    assert jobs[failed].status() == "ERROR"
    for i, job in enumerate(jobs):
        if i != failed:
            assert pub_counts(job) == [{expected_key(i): SHOTS}], f"job of chunk {i}"


def test_a_job_deleted_at_ibm_comes_back_as_its_stored_job_with_its_counts(
    api: RuntimeStandIn, service: Any, manager: JobManager, caplog: pytest.LogCaptureFixture
) -> None:
    job_set = finished_on_ibm(manager, service, 3)
    gone = job_set.managed_jobs()[1].job_id
    assert gone is not None
    api.delete_job(gone)
    again = JobManager(store=manager.store).retrieve_job_set(
        job_set.job_set_id(), provider=api.service()
    )
    with caplog.at_level(logging.INFO, logger="qjm_widget.job_lookup"):
        jobs = again.jobs()
    assert [type(job).__name__ for job in jobs] == ["RuntimeJobV2", "StoredJob", "RuntimeJobV2"]
    assert jobs[1].job_id() == gone
    assert jobs[1].status() is JobStatus.DONE
    assert pub_counts(jobs[1]) == [{expected_key(1): SHOTS}]
    assert f"jobs {gone} are not listed on fake_manila" in caplog.text


def test_a_failed_listing_leaves_the_stored_jobs_and_is_logged_not_raised(
    api: RuntimeStandIn, service: Any, manager: JobManager, caplog: pytest.LogCaptureFixture
) -> None:
    job_set = finished_on_ibm(manager, service, 2)
    again = JobManager(store=manager.store).retrieve_job_set(
        job_set.job_set_id(), provider=api.service()
    )
    api.faults.http_error(403, method="GET", path=JOBS)
    with caplog.at_level(logging.WARNING, logger="qjm_widget.job_lookup"):
        jobs = again.jobs()
    assert [type(job) for job in jobs] == [StoredJob, StoredJob]
    assert [pub_counts(job) for job in jobs] == [[{expected_key(i): SHOTS}] for i in (0, 1)]
    assert "could not be listed on fake_manila" in caplog.text, caplog.text
    assert "refresh=True" in caplog.text


def test_a_provider_of_another_kind_or_a_backend_it_lacks_is_refused_in_words(
    service: Any, manager: JobManager
) -> None:
    job_set = manager.run(basis_circuits(2), AerSimulator(), shots=SHOTS)
    job_set.wait(30)
    fresh = JobManager(store=manager.store)
    with pytest.raises(JobManagerInvalidInputError, match="QiskitRuntimeService or qiskit-ibm"):
        fresh.retrieve_job_set(job_set.job_set_id(), provider=object())
    with pytest.raises(JobManagerInvalidInputError, match="its backends: fake_manila") as caught:
        fresh.retrieve_job_set(job_set.job_set_id(), provider=service)
    assert "'aer_simulator'" in str(caught.value)
    for refresh in (1, "yes", None):
        with pytest.raises(JobManagerInvalidInputError, match="refresh must be True or False"):
            fresh.retrieve_job_set(job_set.job_set_id(), refresh=refresh)
        with pytest.raises(JobManagerInvalidInputError, match="refresh must be True or False"):
            job_set.results(refresh=refresh)
    # backend= wins over the provider; and a backend passed where the provider goes still works.
    assert fresh.retrieve_job_set(job_set.job_set_id(), service, backend=AerSimulator()).done()
    assert JobManager(store=manager.store).retrieve_job_set(job_set.job_set_id(), AerSimulator())


def test_the_jobs_of_a_set_retrieved_on_aer_are_stored_jobs_with_their_results(
    manager: JobManager,
) -> None:
    job_set = manager.run(basis_circuits(5), AerSimulator(), max_experiments_per_job=2, shots=SHOTS)
    sampled = manager.run(basis_circuits(3), StatevectorSampler(), shots=SHOTS)
    job_set.wait(30)
    sampled.wait(30)
    again = JobManager(store=manager.store).retrieve_job_set(job_set.job_set_id())
    jobs = again.jobs()
    assert [type(job) for job in jobs] == [StoredJob] * 3
    assert [job.job_id() for job in jobs] == [c.job_id for c in job_set.managed_jobs()]
    assert all(job.status() is JobStatus.DONE for job in jobs)
    for chunk, job in zip(again.managed_jobs(), jobs, strict=True):
        result = job.result()
        counts = [result.get_counts(i) for i in range(chunk.num_experiments)]
        assert counts == [
            {expected_key(i): SHOTS} for i in range(chunk.start_index, chunk.end_index + 1)
        ]
    with pytest.raises(JobManagerInvalidStateError, match="nothing to cancel"):
        jobs[0].cancel()
    (pub_job,) = JobManager(store=manager.store).retrieve_job_set(sampled.job_set_id()).jobs()
    pubs = pub_job.result()
    assert isinstance(pubs, PrimitiveResult)
    assert [p.join_data().get_counts() for p in pubs] == [
        {expected_key(i): SHOTS} for i in range(3)
    ]


def test_refresh_reads_a_finished_set_again_from_the_store(manager: JobManager) -> None:
    job_set = manager.run(basis_circuits(2), AerSimulator(), shots=SHOTS)
    job_set.wait(30)
    assert manager.retrieve_job_set(job_set.job_set_id()) is job_set
    again = manager.retrieve_job_set(job_set.job_set_id(), refresh=True)
    assert again is not job_set
    assert again.counts() == job_set.counts()
    assert manager.retrieve_job_set(job_set.job_set_id()) is again


def test_a_set_read_again_with_refresh_keeps_its_backend_and_can_be_retried(
    manager: JobManager,
) -> None:
    job_set = manager.run(
        basis_circuits(2),
        FaultyBackend(AerSimulator(), error_jobs=1),
        max_experiments_per_job=1,
        shots=SHOTS,
    )
    job_set.wait(30)
    assert [c.state for c in job_set.managed_jobs()] == [ChunkState.ERROR, ChunkState.DONE]
    again = manager.retrieve_job_set(job_set.job_set_id(), refresh=True)
    assert again is not job_set
    assert again.retry_failed() == [0]
    assert again.results(timeout=60).get_counts() == [{expected_key(i): SHOTS} for i in range(2)]


def test_results_refresh_reads_unfinished_jobs_at_once_not_at_the_next_poll(
    api: RuntimeStandIn, service: Any, manager: JobManager, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(runtime, "REMOTE_POLL_INTERVAL", (60.0, 60.0))  # polls a minute apart
    api.hold()
    job_set = manager.run(basis_circuits(2), service.backend("fake_manila"), shots=SHOTS)
    # A running set asked for with refresh=True is the same set (polled at once).
    assert manager.retrieve_job_set(job_set.job_set_id(), refresh=True) is job_set
    api.release()
    assert api.wait_idle(60), "the stand-in did not run the job"
    with pytest.raises(JobManagerTimeoutError):
        job_set.results(timeout=2)  # the job is done at IBM, but the set polls in a minute
    results = job_set.results(timeout=30, refresh=True)
    assert [results.get_counts(i) for i in range(2)] == [{expected_key(i): SHOTS} for i in (0, 1)]
