"""Getting a set on IBM Quantum back: after a kill -9, by job id from the store; with the store
gone, from IBM alone by the tags on its jobs. The real qiskit-ibm-runtime client talks to the
stand-in of the API in tests/ibm_standin, which runs the jobs on a noiseless Aer, so every
count is exact.
"""

from __future__ import annotations

import json
import pathlib
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from conftest import basis_circuits, expected_key, qjm_threads, wait_until
from ibm_standin import JobView, RuntimeStandIn
from qiskit_ibm_runtime.runtime_job_v2 import RuntimeJobV2
from store_workers.support import Worker, rows, standin_json, wait_for, write_circuits

from qjm_widget import (
    ChunkState,
    JobManager,
    JobManagerInvalidStateError,
    JobManagerUnknownJobSet,
    ManagedJobSet,
    ManagedResultDataNotAvailable,
)
from qjm_widget.stored_job import StoredJob

SHOTS = 50
DONE, QUEUED, LOST = ChunkState.DONE, ChunkState.QUEUED, ChunkState.LOST


@pytest.fixture(scope="module")
def api() -> Iterator[RuntimeStandIn]:
    with RuntimeStandIn(backends=("fake_manila",), noise=False) as standin:
        yield standin
    left = [t.name for t in threading.enumerate() if t.name.startswith("ibm-standin")]
    assert not left, f"stand-in threads outlived it: {left}"


@pytest.fixture
def backend(api: RuntimeStandIn) -> Any:
    api.faults.clear()
    api.release()
    return api.service().backend("fake_manila")


@pytest.fixture
def managers(tmp_path: pathlib.Path) -> Iterator[Callable[[str], JobManager]]:
    """JobManagers on store files of tmp_path; their threads must be gone once all is final."""
    made: list[JobManager] = []

    def make(name: str) -> JobManager:
        made.append(JobManager(store=tmp_path / name))
        return made[-1]

    yield make
    for manager in made:
        for job_set in manager.job_sets():
            job_set.cancel()
            job_set.wait(timeout=60)
    assert wait_until(lambda: not qjm_threads(), timeout=15), f"threads left: {qjm_threads()}"


def jobs_of(api: RuntimeStandIn, job_set_id: str) -> dict[str, JobView]:
    tag = f"qjm_jobset_{job_set_id}"
    return {job_id: job for job_id, job in api.jobs.items() if tag in job.tags}


def chunk_of(job: JobView) -> int:
    (tag,) = (t for t in job.tags if t.startswith("qjm_chunk_"))
    return int(tag.removeprefix("qjm_chunk_"))


def requests_about(api: RuntimeStandIn, job_id: str, since: int) -> list[Any]:
    return [r for r in api.requests[since:] if job_id in r.path]


def assert_exact(job_set: ManagedJobSet, shots: int, partial: bool = False) -> None:
    results = job_set.results(timeout=60, partial=partial)
    for index in range(job_set.num_experiments):
        counts = results.get_counts(index)
        assert counts == {expected_key(index): shots}, (
            f"experiment {index} read {counts}\n{job_set.report()}"
        )


def finish_one_job_then_hold(api: RuntimeStandIn, monkeypatch: pytest.MonkeyPatch) -> None:
    """Release the held queue for exactly one job: the stand-in holds again as it starts it."""
    store = api._store  # the stand-in's job runner; its worker runs one job at a time
    execute = store._execute
    fired = threading.Event()

    def run_one(job: Any) -> str:
        if not fired.is_set():
            fired.set()
            api.hold()
        return execute(job)

    monkeypatch.setattr(store, "_execute", run_one)
    api.release()


@pytest.fixture
def status_gate(monkeypatch: pytest.MonkeyPatch) -> Iterator[threading.Event]:
    """Holds every client status() call until set, so a retrieved set's chunks can be read
    before their first poll replaces the note they came back with."""
    gate = threading.Event()
    status = RuntimeJobV2.status

    def gated(self: RuntimeJobV2) -> Any:
        gate.wait(30)
        return status(self)

    monkeypatch.setattr(RuntimeJobV2, "status", gated)
    yield gate
    gate.set()


# -- A. kill -9 mid-run, then re-attach by job id ---------------------------------------------


@dataclass
class Killed:
    store: pathlib.Path
    job_set_id: str
    job_ids: list[str]
    """Each chunk's job id, as the killed process stored it."""
    done: int
    """The one chunk the store holds as done, with its counts."""


def stored_chunks(store: pathlib.Path, job_set_id: str) -> list[tuple[str, str | None, bool]]:
    """(state, job id, results stored) of each chunk, by index; [] before the rows exist."""
    try:
        found = rows(
            store,
            "SELECT state, job_id, results IS NOT NULL FROM chunks WHERE job_set_id=? ORDER BY idx",
            job_set_id,
        )
    except Exception:
        return []
    return [(state, job_id, bool(has)) for state, job_id, has in found]


def kill_mid_run(
    api: RuntimeStandIn, tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> Killed:
    """A worker process runs 8 experiments, 2 per job, into a store; once its 4 jobs wait at
    the held stand-in and one of them has finished and been stored, it is SIGKILLed."""
    store = tmp_path / "store.sqlite3"
    circuits = write_circuits(tmp_path / "circuits.qpy", basis_circuits(8))
    options = {"max_experiments_per_job": 2, "shots": SHOTS, "job_tags": ["recover"]}
    api.hold()
    worker = Worker(
        "run_on_standin.py",
        store,
        circuits,
        standin_json(api),
        json.dumps(options),
        log=tmp_path / "worker.log",
    )
    try:
        job_set_id = worker.line(timeout=90)
        wait_for(
            lambda: (
                len(jobs_of(api, job_set_id)) == 4
                and [(s, bool(j)) for s, j, _ in stored_chunks(store, job_set_id)]
                == [("queued", True)] * 4
            ),
            "4 jobs queued at the stand-in and their ids in the store",
        )
        finish_one_job_then_hold(api, monkeypatch)
        wait_for(
            lambda: [s for s, _, has in stored_chunks(store, job_set_id) if has] == ["done"],
            "the first finished chunk to be stored done with its counts",
        )
    except BaseException:
        worker.kill()
        raise
    worker.kill()
    chunks = stored_chunks(store, job_set_id)
    assert sorted(s for s, _, _ in chunks) == ["done", "queued", "queued", "queued"], chunks
    assert [j.status for j in jobs_of(api, job_set_id).values()].count("COMPLETED") == 1
    job_ids = [job_id for _, job_id, _ in chunks if job_id]
    assert len(job_ids) == 4, chunks
    done = next(i for i, (state, _, _) in enumerate(chunks) if state == "done")
    return Killed(store, job_set_id, job_ids, done)


def test_a_killed_runs_unfinished_jobs_are_reattached_by_id_and_the_done_chunk_is_not_fetched(
    api: RuntimeStandIn,
    backend: Any,
    tmp_path: pathlib.Path,
    monkeypatch: pytest.MonkeyPatch,
    status_gate: threading.Event,
) -> None:
    killed = kill_mid_run(api, tmp_path, monkeypatch)
    since = len(api.requests)

    job_set = JobManager(store=killed.store).retrieve_job_set(killed.job_set_id, backend=backend)
    chunks = job_set.managed_jobs()
    assert [c.job_id for c in chunks] == killed.job_ids
    for chunk in chunks:
        if chunk.index == killed.done:
            assert chunk.state is DONE, chunk
            # What the store kept, read-only: IBM is not asked for it (see below).
            assert isinstance(chunk.job, StoredJob), chunk.job
            assert chunk.job.job_id() == chunk.job_id
        else:
            assert chunk.state is QUEUED, chunk
            assert chunk.note == "re-attached after a restart", chunk.note
            assert chunk.job is not None
            assert chunk.job.job_id() == chunk.job_id
    # The done chunk's counts are in before any job ran again: they came from the store.
    done = chunks[killed.done]
    assert job_set.merged_counts(done.start_index) == {expected_key(done.start_index): SHOTS}

    status_gate.set()
    api.release()
    assert_exact(job_set, SHOTS)
    aggregate = job_set.counts().aggregate  # 8 experiments, 8 different basis states
    assert aggregate == {expected_key(i): SHOTS for i in range(8)}, "counts merged twice"
    assert sorted(jobs_of(api, killed.job_set_id)) == sorted(killed.job_ids), "a job was resent"
    assert all(j.status == "COMPLETED" for j in jobs_of(api, killed.job_set_id).values())
    asked = requests_about(api, killed.job_ids[killed.done], since)
    assert asked == [], f"the stored chunk's job was asked for again: {asked}"
    assert wait_until(lambda: not qjm_threads(), timeout=15), f"threads left: {qjm_threads()}"


def test_a_job_deleted_at_ibm_after_the_kill_is_lost_and_retry_failed_runs_it_again(
    api: RuntimeStandIn, backend: Any, tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    killed = kill_mid_run(api, tmp_path, monkeypatch)
    gone = (killed.done + 1) % 4
    api.delete_job(killed.job_ids[gone])

    job_set = JobManager(store=killed.store).retrieve_job_set(killed.job_set_id, backend=backend)
    lost = job_set.managed_jobs()[gone]
    assert lost.state is LOST, lost
    assert f"job {killed.job_ids[gone]} cannot be looked up" in (lost.error or ""), lost.error
    others = [c for c in job_set.managed_jobs() if c.index not in (gone, killed.done)]
    assert all(c.state in (QUEUED, ChunkState.RUNNING, DONE) for c in others), others

    assert job_set.retry_failed() == [gone]
    api.release()
    assert_exact(job_set, SHOTS)
    lost = job_set.managed_jobs()[gone]
    assert lost.previous_job_ids == [killed.job_ids[gone]]
    jobs = jobs_of(api, killed.job_set_id)
    assert len(jobs) == 4, f"expected the 3 kept jobs and one new: {jobs}"
    assert chunk_of(jobs[lost.job_id]) == gone  # type: ignore[index]
    assert wait_until(lambda: not qjm_threads(), timeout=15), f"threads left: {qjm_threads()}"


# -- B. Rebuild by tag when the local store is gone -------------------------------------------


def run_to_end(manager: JobManager, backend: Any, num: int, **options: Any) -> ManagedJobSet:
    job_set = manager.run(basis_circuits(num), backend, job_tags=["mine", "sweep"], **options)
    job_set.wait(timeout=60)
    return job_set


def test_a_set_no_store_knows_is_rebuilt_from_its_tags_with_exact_counts_and_no_new_jobs(
    api: RuntimeStandIn, backend: Any, managers: Callable[[str], JobManager]
) -> None:
    first = run_to_end(managers("a.sqlite3"), backend, 7, max_experiments_per_job=3, shots=SHOTS)
    assert_exact(first, SHOTS)
    before = dict(api.jobs)

    rebuilt = managers("fresh.sqlite3").retrieve_job_set(first.job_set_id(), backend=backend)
    assert [(c.start_index, c.end_index, c.shots) for c in rebuilt.managed_jobs()] == [
        (c.start_index, c.end_index, c.shots) for c in first.managed_jobs()
    ]
    assert [c.job_id for c in rebuilt.managed_jobs()] == [c.job_id for c in first.managed_jobs()]
    assert rebuilt.tags() == ["mine", "sweep"]
    assert_exact(rebuilt, SHOTS)
    assert api.jobs.keys() == before.keys(), "rebuilding submitted jobs"


def test_a_rebuilt_sets_deleted_job_is_lost_not_retryable_and_the_rest_is_exact(
    api: RuntimeStandIn, backend: Any, managers: Callable[[str], JobManager]
) -> None:
    first = run_to_end(managers("a.sqlite3"), backend, 6, max_experiments_per_job=2, shots=SHOTS)
    api.delete_job(first.managed_jobs()[1].job_id)  # type: ignore[arg-type]

    rebuilt = managers("fresh.sqlite3").retrieve_job_set(first.job_set_id(), backend=backend)
    results = rebuilt.results(timeout=60, partial=True)
    lost = rebuilt.managed_jobs()[1]
    assert lost.state is LOST, rebuilt.report()
    assert "no job tagged" in (lost.error or ""), lost.error
    assert "circuits are unknown" in (lost.error or ""), lost.error
    with pytest.raises(JobManagerInvalidStateError, match="circuits are unknown"):
        rebuilt.retry(1)
    assert rebuilt.retry_failed() == []
    assert rebuilt.managed_jobs()[1].state is LOST
    for index in (0, 1, 4, 5):
        assert results.get_counts(index) == {expected_key(index): SHOTS}, index
    for index in (2, 3):
        with pytest.raises(ManagedResultDataNotAvailable):
            results.get_counts(index)
    assert "chunk 1" in (rebuilt.error_messages() or "")


def test_a_rebuilt_sets_cancelled_job_is_a_cancelled_chunk_and_the_rest_is_exact(
    api: RuntimeStandIn, backend: Any, managers: Callable[[str], JobManager]
) -> None:
    api.hold()
    first = managers("a.sqlite3").run(
        basis_circuits(6), backend, max_experiments_per_job=2, shots=SHOTS
    )
    assert wait_until(lambda: len(jobs_of(api, first.job_set_id())) == 3, 30), first.report()
    assert wait_until(lambda: all(c.job_id for c in first.managed_jobs()), 10)
    first.cancel_job(1)
    cancelled = first.managed_jobs()[1].job_id
    assert wait_until(lambda: api.jobs[cancelled].status == "CANCELLED", 30)  # type: ignore[index]
    api.release()
    first.wait(timeout=60)

    rebuilt = managers("fresh.sqlite3").retrieve_job_set(first.job_set_id(), backend=backend)
    results = rebuilt.results(timeout=60, partial=True)
    assert [c.state for c in rebuilt.managed_jobs()] == [DONE, ChunkState.CANCELLED, DONE]
    for index in (0, 1, 4, 5):
        assert results.get_counts(index) == {expected_key(index): SHOTS}, index
    with pytest.raises(ManagedResultDataNotAvailable):
        results.get_counts(2)


def test_a_lost_shot_part_is_retried_from_its_siblings_circuits_to_exact_totals(
    api: RuntimeStandIn, backend: Any, managers: Callable[[str], JobManager]
) -> None:
    first = run_to_end(
        managers("a.sqlite3"),
        backend,
        4,
        max_experiments_per_job=2,
        shots=100,
        max_shots_per_job=50,
    )
    chunks = [(c.start_index, c.shots) for c in first.managed_jobs()]
    assert chunks == [(0, 50), (0, 50), (2, 50), (2, 50)], chunks
    api.delete_job(first.managed_jobs()[3].job_id)  # type: ignore[arg-type]
    before = set(api.jobs)

    rebuilt = managers("fresh.sqlite3").retrieve_job_set(first.job_set_id(), backend=backend)
    rebuilt.wait(timeout=60)
    lost = rebuilt.managed_jobs()[3]
    assert lost.state is LOST, rebuilt.report()
    assert "retry to run it again" in (lost.error or ""), lost.error
    assert rebuilt.retry_failed() == [3]
    assert_exact(rebuilt, 100)
    (new,) = set(api.jobs) - before
    assert rebuilt.managed_jobs()[3].job_id == new
    assert chunk_of(api.jobs[new]) == 3


def test_a_rebuilt_failed_job_is_an_error_that_retries_and_a_rebuild_takes_the_newest_job(
    api: RuntimeStandIn, backend: Any, managers: Callable[[str], JobManager]
) -> None:
    api.faults.fail_job(count=1, reason="Qubit 3 lost calibration")
    first = run_to_end(managers("a.sqlite3"), backend, 4, max_experiments_per_job=2, shots=SHOTS)
    (failed,) = [c.index for c in first.managed_jobs() if c.state is ChunkState.ERROR]

    rebuilt = managers("fresh.sqlite3").retrieve_job_set(first.job_set_id(), backend=backend)
    rebuilt.wait(timeout=60)
    chunk = rebuilt.managed_jobs()[failed]
    assert chunk.state is ChunkState.ERROR, rebuilt.report()
    assert "Qubit 3 lost calibration" in (chunk.error or ""), chunk.error
    assert rebuilt.retry_failed() == [failed]  # its circuits came back with its failed job
    assert_exact(rebuilt, SHOTS)

    # IBM lists newest first: the chunk's retried job, not the failed one, is the chunk.
    before = set(api.jobs)
    again = managers("fresh2.sqlite3").retrieve_job_set(first.job_set_id(), backend=backend)
    assert again.managed_jobs()[failed].job_id == rebuilt.managed_jobs()[failed].job_id
    assert_exact(again, SHOTS)
    assert set(api.jobs) == before, "rebuilding submitted jobs"


def test_a_set_rebuilt_while_its_jobs_are_queued_reattaches_them_and_they_finish(
    api: RuntimeStandIn,
    backend: Any,
    managers: Callable[[str], JobManager],
    status_gate: threading.Event,
) -> None:
    api.hold()
    first = managers("a.sqlite3").run(
        basis_circuits(4), backend, max_experiments_per_job=2, shots=SHOTS, job_tags=["q"]
    )
    assert wait_until(lambda: len(jobs_of(api, first.job_set_id())) == 2, 30), first.report()
    assert wait_until(lambda: all(c.job_id for c in first.managed_jobs()), 10)
    before = set(api.jobs)

    rebuilt = managers("fresh.sqlite3").retrieve_job_set(first.job_set_id(), backend=backend)
    chunks = rebuilt.managed_jobs()
    assert [(c.state, c.note) for c in chunks] == [(QUEUED, "found on the backend by its tag")] * 2
    assert [c.job_id for c in chunks] == [c.job_id for c in first.managed_jobs()]
    assert rebuilt.tags() == ["q"]
    assert not rebuilt.done()
    status_gate.set()
    api.release()
    assert_exact(rebuilt, SHOTS)
    assert set(api.jobs) == before, "rebuilding submitted jobs"
    first.wait(timeout=60)


def test_an_unknown_set_id_names_the_tag_it_looked_for(
    backend: Any, managers: Callable[[str], JobManager]
) -> None:
    with pytest.raises(JobManagerUnknownJobSet, match="qjm_jobset_feedc0ffee"):
        managers("fresh.sqlite3").retrieve_job_set("feedc0ffee", backend=backend)
