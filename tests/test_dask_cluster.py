"""Job sets on a cluster started the way real ones are: a ``dask scheduler`` and two
``dask worker`` processes (no nanny) on 127.0.0.1, started and stopped by PID. A worker killed
with SIGKILL mid-task, and the scheduler killed under running sets."""

from __future__ import annotations

import pathlib
import urllib.request
from collections.abc import Iterator
from typing import Any

import psutil
import pytest
from conftest import basis_circuits, expected_key, wait_until
from dask_support import CliCluster, slow_backend, slow_circuit, slow_key
from qiskit_aer import AerSimulator

from qjm_widget import ChunkState, JobManager

SHOTS = 40
START = 120  # seconds for processes to start on a loaded 2-core machine


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CliCluster]:
    processes = CliCluster(tmp_path_factory.mktemp("dask-logs"))
    try:
        processes.start_scheduler()
        processes.start_worker()
        processes.start_worker()
        yield processes
    finally:
        processes.stop()


@pytest.fixture(scope="module")
def client(cluster: CliCluster) -> Iterator[Any]:
    from distributed import Client

    with Client(cluster.address, timeout=START) as dask_client:
        dask_client.wait_for_workers(2, timeout=START)
        yield dask_client


def worker_names(client: Any) -> dict[str, str]:
    """Worker address -> the name the test gave it."""
    return {a: str(w["name"]) for a, w in client.scheduler_info()["workers"].items()}


def test_a_cli_cluster_runs_a_set_with_exact_counts_and_links_its_live_dashboard(
    manager: JobManager, client: Any
) -> None:
    job_set = manager.run(
        basis_circuits(6), AerSimulator(), executor=client, max_experiments_per_job=2, shots=SHOTS
    )
    results = job_set.results(timeout=120)
    for index in range(6):
        assert results.get_counts(index) == {expected_key(index): SHOTS}, index
    link = job_set._adapter.dashboard_link
    assert link.startswith("http://127.0.0.1:"), link
    with urllib.request.urlopen(link, timeout=30) as page:  # the scheduler serves it
        assert page.status == 200


def test_a_worker_killed_mid_task_runs_the_chunk_again_elsewhere_counted_once(
    manager: JobManager, cluster: CliCluster, client: Any
) -> None:
    shots = 40_000  # ~6 s of one core's work
    job_set = manager.run([slow_circuit(5)], slow_backend(), executor=client, shots=shots)
    (chunk,) = job_set.managed_jobs()
    assert wait_until(lambda: chunk.state is ChunkState.RUNNING, timeout=START), chunk
    first = chunk.job.worker
    victim = worker_names(client)[first]
    # Executing, not only sent there: the worker's process computes. (A call_stack query is no
    # test of it: the worker answered one only once the task had ended, 6 s later, empty.)
    process = psutil.Process(cluster.workers[victim].pid)
    started = sum(process.cpu_times()[:2])
    assert wait_until(lambda: sum(process.cpu_times()[:2]) - started >= 0.5, timeout=60), chunk
    assert chunk.state is ChunkState.RUNNING, chunk
    cluster.kill(cluster.workers[victim])
    job_set.wait(timeout=START)
    assert chunk.state is ChunkState.DONE, chunk
    assert chunk.attempts == 1, "Dask ran it again under the same key: no retry of ours"
    assert chunk.job_id == f"qjm-{job_set.job_set_id()}-c0-a1"
    assert chunk.job.worker not in (None, first), chunk.job
    assert job_set.results().get_counts(0) == {slow_key(5): shots}, "counted once"
    cluster.start_worker()
    client.wait_for_workers(2, timeout=START)


def test_a_scheduler_that_goes_away_leaves_chunks_lost_in_words_and_retry_runs_them(
    manager: JobManager, cluster: CliCluster, client: Any
) -> None:
    from distributed import Client

    shots = 20_000
    live = manager.run([slow_circuit(3)], slow_backend(), executor=client, shots=shots)
    stored = manager.run(
        [slow_circuit(6), slow_circuit(1)],
        slow_backend(),
        executor=client,
        max_experiments_per_job=1,
        shots=shots,
    )
    assert wait_until(lambda: live.managed_jobs()[0].state is ChunkState.RUNNING, timeout=START)
    # Every chunk sent to the cluster (a chunk not yet sent would fail its submits instead).
    assert wait_until(
        lambda: all(c.job_id is not None for s in (live, stored) for c in s.managed_jobs()),
        timeout=START,
    ), stored.report()
    assert cluster.scheduler is not None
    cluster.kill(cluster.scheduler)
    for job_set in (live, stored):
        job_set.wait(timeout=60)
        for chunk in job_set.managed_jobs():
            assert chunk.state is ChunkState.LOST, chunk
            assert chunk.error is not None
            assert "lost its connection to the scheduler" in chunk.error, chunk.error
            assert "retry" in chunk.error, chunk.error
    # Workers close once their scheduler is gone (distributed >= 2022.9); new ones join the new
    # scheduler, as a cluster manager would start them.
    for worker in cluster.workers.values():
        if worker.poll() is None:
            cluster.kill(worker)
    cluster.start_scheduler()
    cluster.start_worker()
    cluster.start_worker()
    assert wait_until(lambda: client.status == "running", timeout=START), client.status
    client.wait_for_workers(2, timeout=START)
    assert live.retry_failed() == [0]
    live.wait(timeout=START)
    (chunk,) = live.managed_jobs()
    assert chunk.state is ChunkState.DONE, chunk
    assert chunk.job_id == f"qjm-{live.job_set_id()}-c0-a2"
    assert live.results().get_counts(0) == {slow_key(3): shots}
    # Another process's manager, with a client of its own, retries the set from the store.
    assert manager.store is not None
    with Client(cluster.address, timeout=START) as other:
        again = JobManager(store=pathlib.Path(manager.store.path))
        retrieved = again.retrieve_job_set(stored.job_set_id(), executor=other)
        assert [c.state for c in retrieved.managed_jobs()] == [ChunkState.LOST] * 2
        assert retrieved.retry_failed() == [0, 1]
        results = retrieved.results(timeout=START)
        assert results.get_counts(0) == {slow_key(6): shots}
        assert results.get_counts(1) == {slow_key(1): shots}
