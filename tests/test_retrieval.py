"""IBMQJobManager's retrieval API: a set found again by its id and a provider alone, ``refresh``,
and the jobs of a retrieved set (the backend's own, or read-only StoredJobs from the store)."""

from __future__ import annotations

import json
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
    StoredJob,
)
from qjm_widget.backends import runtime

SHOTS = 12


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
    # The chunk that was done comes back from the store; the retried one ran a new IBM job.
    kinds = ["RuntimeJobV2" if i in failed else "StoredJob" for i in range(2)]
    assert answer["jobs"] == kinds


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
