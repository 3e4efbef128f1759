"""Re-attaching unfinished chunks by job id, on a backend that can look its jobs up."""

from __future__ import annotations

import pathlib
from typing import Any

from conftest import basis_circuits, expected_key, wait_until
from qiskit_aer import AerSimulator

from qjm_widget import ChunkState, JobManager, Store
from qjm_widget.testing import FaultyBackend, FaultyJob


class LookupBackend(FaultyBackend):
    """A real Aer backend, held queued, that finds its jobs again by id (as remote ones do)."""

    def __init__(self) -> None:
        super().__init__(AerSimulator(), hold_queued=1.0)
        self.jobs: dict[str, FaultyJob] = {}
        self.lookups: list[str] = []

    def run(self, run_input: Any, **options: Any) -> FaultyJob:
        job = super().run(run_input, **options)
        self.jobs[job.job_id()] = job
        return job

    def retrieve_job(self, job_id: str) -> FaultyJob:
        self.lookups.append(job_id)
        return self.jobs[job_id]


def stored_job_ids(path: pathlib.Path, job_set_id: str) -> list[str | None]:
    """The job ids the store file holds: what a new process would re-attach by."""
    stored = Store(path).load(job_set_id)
    return [] if stored is None else [c.job_id for c in stored.chunks]


def test_unfinished_chunks_are_reattached_by_job_id_and_finish(tmp_path: pathlib.Path) -> None:
    store = tmp_path / "store.sqlite3"
    backend = LookupBackend()
    first = JobManager(store=store).run(
        basis_circuits(6), backend, max_experiments_per_job=2, shots=20
    )
    # The store is written from the set's events, after the job ids are known in memory.
    assert wait_until(lambda: all(stored_job_ids(store, first.job_set_id())), 10)
    job_ids = [c.job_id for c in first.managed_jobs()]

    # A second manager on the same file stands in for a new process after a restart.
    again = JobManager(store=store).retrieve_job_set(first.job_set_id(), backend=backend)
    assert again is not first
    assert sorted(backend.lookups) == sorted(job_ids)
    assert {c.state for c in again.managed_jobs()} <= {
        ChunkState.QUEUED,
        ChunkState.RUNNING,
        ChunkState.DONE,
    }
    results = again.results(timeout=60)
    assert results.success, again.report()
    for index in range(6):
        assert results.get_counts(index) == {expected_key(index): 20}
    assert [c.job_id for c in again.managed_jobs()] == job_ids  # the same jobs, not new ones
    first.wait(timeout=60)


def test_a_job_that_cannot_be_found_again_is_lost(tmp_path: pathlib.Path) -> None:
    store = tmp_path / "store.sqlite3"
    backend = LookupBackend()
    first = JobManager(store=store).run(basis_circuits(2), backend, shots=20)
    assert wait_until(lambda: all(stored_job_ids(store, first.job_set_id())), 10)
    backend.jobs.clear()  # the service forgot it
    again = JobManager(store=store).retrieve_job_set(first.job_set_id(), backend=backend)
    (chunk,) = again.managed_jobs()
    assert chunk.state is ChunkState.LOST
    assert "cannot be looked up" in (chunk.error or "")
    first.wait(timeout=60)
