"""Job sets on a Dask cluster: a real LocalCluster of two worker processes (one thread each),
each chunk one task that rebuilds the backend on its worker. Counts are exact per experiment
and per point (basis states, rx(0 or pi) sweeps); nothing is mocked."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
from conftest import basis_circuit, basis_circuits, expected_key, wait_until
from dask_support import slow_backend, slow_circuit, slow_key
from ibm_standin import RuntimeStandIn
from qiskit import QuantumCircuit, transpile
from qiskit.primitives import StatevectorSampler
from qiskit.providers.basic_provider import BasicSimulator
from qiskit.providers.fake_provider import GenericBackendV2
from qiskit_aer import AerSimulator
from qiskit_aer.noise import NoiseModel, ReadoutError
from qiskit_aer.primitives import SamplerV2 as AerSampler
from qiskit_ibm_runtime.fake_provider import FakeManilaV2
from support import sweep_binds, sweep_circuit, sweep_point

from qjm_widget import ChunkState, JobManager, JobManagerInvalidInputError
from qjm_widget.backends import DaskAdapter
from qjm_widget.backends.dask import CANNOT_CANCEL, KILLED_WORKER_HINT, DaskTask
from qjm_widget.backends.shipping import describe, rebuild
from qjm_widget.outcomes import job_results_of
from qjm_widget.testing import FaultyBackend
from qjm_widget.widget import JobSetWidget

SHOTS = 40


@pytest.fixture(scope="module")
def client() -> Iterator[Any]:
    from distributed import Client, LocalCluster

    with (
        LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            dashboard_address="127.0.0.1:0",
        ) as cluster,
        Client(cluster) as dask_client,
    ):
        yield dask_client


def our_keys(client: Any) -> set[str]:
    return {str(k) for k in client.futures if str(k).startswith("qjm-")}


def test_importing_qjm_widget_imports_no_dask() -> None:
    code = (
        "import sys, qjm_widget, qjm_widget.backends.dask, qjm_widget.backends.shipping\n"
        "print([m for m in sys.modules if m.split('.')[0] in ('dask', 'distributed')])"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]", out.stdout


def test_each_chunk_is_a_task_named_for_its_set_chunk_and_attempt_with_exact_counts(
    manager: JobManager, client: Any
) -> None:
    job_set = manager.run(
        basis_circuits(7), AerSimulator(), executor=client, max_experiments_per_job=3, shots=SHOTS
    )
    results = job_set.results(timeout=120)
    assert job_set.backend_name == "aer_simulator on Dask (2 workers)"
    workers = set(client.nthreads())
    for chunk in job_set.managed_jobs():
        assert chunk.state is ChunkState.DONE, chunk
        assert chunk.job_id == f"qjm-{job_set.job_set_id()}-c{chunk.index}-a1"
        assert isinstance(chunk.job, DaskTask)
        assert chunk.job.worker in workers, chunk.job
    for index in range(7):
        assert results.get_counts(index) == {expected_key(index): SHOTS}, index
    # Each task's results decode to one list, which combining hands over whole.
    cuts = [job_results_of(chunk.results or ()) for chunk in job_set.managed_jobs()]
    assert [len(cut or ()) for cut in cuts] == [3, 3, 1]
    joined = [e for cut in cuts for e in cut or ()]
    assert all(a is b for a, b in zip(results.combine_results().results, joined, strict=True))
    assert our_keys(client) == set(), "a fetched result is released on the cluster"


def test_sweeps_ship_each_chunk_its_points_and_count_every_point_exactly(
    manager: JobManager, client: Any
) -> None:
    circuit = sweep_circuit()
    states = [5, 0, 7, 2, 3, 6]
    binds = manager.run(
        [circuit, basis_circuit(4)],
        AerSimulator(),
        executor=client,
        parameter_binds=[sweep_binds(states, circuit), {}],
        max_executions_per_job=2 * SHOTS,
        shots=SHOTS,
    )
    values = np.array([[sweep_point(s) for s in states[:3]], [sweep_point(s) for s in states[3:]]])
    pubs = manager.run(
        [(circuit, values), (basis_circuit(1),)],
        StatevectorSampler(seed=3),
        executor=client,
        max_executions_per_job=4 * SHOTS,
        shots=SHOTS,
    )
    on_backend, on_sampler = binds.results(timeout=120), pubs.results(timeout=120)
    assert len(binds.managed_jobs()) == 4, "six points in 2-point chunks, and the bound circuit"
    for point, state in enumerate(states):
        assert on_backend.get_counts(0, point) == {expected_key(state): SHOTS}, point
        loc = divmod(point, 3)
        assert on_sampler.get_counts(0, loc) == {expected_key(state): SHOTS}, loc
    assert on_backend.get_counts(1) == {expected_key(4): SHOTS}
    assert on_sampler.get_counts(1) == {expected_key(1): SHOTS}


@pytest.mark.parametrize(
    "backend",
    [
        BasicSimulator(),
        StatevectorSampler(default_shots=SHOTS, seed=11),
        AerSampler(default_shots=SHOTS, seed=11),
    ],
    ids=["BasicSimulator", "StatevectorSampler", "AerSamplerV2"],
)
def test_simulators_and_samplers_are_rebuilt_on_the_workers(
    manager: JobManager, client: Any, backend: Any
) -> None:
    job_set = manager.run(
        basis_circuits(5),
        backend,
        executor=client,
        max_experiments_per_job=2,
        memory=True,
        shots=None if isinstance(backend, AerSampler) else SHOTS,  # its default_shots, shipped
    )
    results = job_set.results(timeout=120)
    assert job_set.backend_name.endswith(" on Dask (2 workers)"), job_set.backend_name
    for index in range(5):
        assert results.get_counts(index) == {expected_key(index): SHOTS}, index
        assert results.get_memory(index) == [expected_key(index)] * SHOTS, index


def test_a_fake_device_and_aer_from_backend_give_the_counts_of_a_local_run(
    manager: JobManager, client: Any
) -> None:
    fake = FakeManilaV2()
    circuits = transpile(basis_circuits(4), fake, seed_transpiler=1)
    from_backend = AerSimulator.from_backend(fake)
    description = describe(from_backend)
    assert description["from_backend"].endswith(":FakeManilaV2")
    assert description["noise_model"] is None, "the worker rebuilds the device's noise itself"
    assert len(json.dumps(description)) < 1000, description
    for backend in (fake, from_backend):
        on_dask = manager.run(
            circuits,
            backend,
            executor=client,
            max_experiments_per_job=2,
            shots=500,
            seed_simulator=7,
        )
        got = on_dask.results(timeout=120)
        for first in (0, 2):  # Aer seeds each circuit of a job by its place in the job
            here = backend.run(circuits[first : first + 2], shots=500, seed_simulator=7).result()
            for offset in (0, 1):
                counts = got.get_counts(first + offset)
                assert counts == here.get_counts(offset), (backend, first + offset)


def test_a_noise_model_is_shipped_with_the_simulator(manager: JobManager, client: Any) -> None:
    flip = NoiseModel()
    flip.add_all_qubit_readout_error(ReadoutError([[0, 1], [1, 0]]))  # every bit reads flipped
    job_set = manager.run(
        basis_circuits(4), AerSimulator(noise_model=flip), executor=client, shots=SHOTS
    )
    results = job_set.results(timeout=120)
    for index in range(4):
        flipped = format(7 - index, "03b")
        assert results.get_counts(index) == {flipped: SHOTS}, index
    assert rebuild(describe(AerSimulator(noise_model=flip))).options.noise_model == flip
    # A retrieved set describes a backend rebuilt from the store: its noise ships again.
    twice = rebuild(describe(rebuild(describe(slow_backend()))))
    assert twice.options.noise_model == slow_backend().options.noise_model


def test_backends_workers_cannot_rebuild_are_refused_before_anything_is_submitted(
    manager: JobManager, client: Any
) -> None:
    before = our_keys(client)
    with RuntimeStandIn(backends=("fake_manila",), noise=False) as api:
        ibm = api.service().backend("fake_manila")
        with pytest.raises(JobManagerInvalidInputError, match="IBM Quantum, whose cloud is its"):
            manager.run(basis_circuits(2), ibm, executor=client, shots=SHOTS)
        assert api.jobs == {}, "nothing reached IBM"
    refused = [
        (FaultyBackend(AerSimulator()), "cannot be sent to Dask workers"),
        (GenericBackendV2(2, seed=1), "cannot be sent to Dask workers"),
        (AerSimulator.from_backend(GenericBackendV2(3, seed=1)), "only the fake backends"),
    ]
    for backend, words in refused:
        with pytest.raises(JobManagerInvalidInputError, match=words):
            manager.run(basis_circuits(2), backend, executor=client, shots=SHOTS)
    with pytest.raises(JobManagerInvalidInputError, match=r"must be a dask distributed\.Client"):
        manager.run(basis_circuits(2), AerSimulator(), executor=object(), shots=SHOTS)
    with pytest.raises(JobManagerInvalidInputError, match="execution_mode applies to IBM"):
        manager.run(basis_circuits(2), AerSimulator(), executor=client, execution_mode="batch")
    assert our_keys(client) == before
    assert manager.job_sets() == []


def test_an_error_on_the_worker_ends_its_chunk_in_error_with_the_workers_traceback(
    manager: JobManager, client: Any
) -> None:
    job_set = manager.run(
        basis_circuits(2), AerSimulator(), executor=client, shots=SHOTS, method="bogus"
    )
    job_set.wait(timeout=120)
    (chunk,) = job_set.managed_jobs()
    assert chunk.state is ChunkState.ERROR, chunk
    assert chunk.error is not None
    assert "the task failed on worker tcp://127.0.0.1:" in chunk.error, chunk.error
    assert "Traceback" in chunk.error, chunk.error
    assert "run_chunk" in chunk.error, chunk.error
    assert "Invalid simulation method (bogus)" in chunk.error, chunk.error


def test_cancel_removes_queued_tasks_running_ones_end_and_a_retry_runs_attempt_two(
    manager: JobManager, client: Any
) -> None:
    shots = 4000  # about half a second a chunk
    job_set = manager.run(
        [slow_circuit(i) for i in range(10)],
        slow_backend(),
        executor=client,
        max_experiments_per_job=1,
        shots=shots,
    )
    assert wait_until(
        lambda: any(c.state is ChunkState.RUNNING for c in job_set.managed_jobs()), 60
    )
    job_set.cancel()
    job_set.wait(timeout=120)
    chunks = job_set.managed_jobs()
    done = [c for c in chunks if c.state is ChunkState.DONE]
    cancelled = [c for c in chunks if c.state is ChunkState.CANCELLED]
    assert len(done) + len(cancelled) == 10, [c.state for c in chunks]
    assert len(cancelled) >= 10 - 2 * 2 - 1, "two slots a worker; one may have started since"
    results = job_set.results()
    for chunk in done:
        assert results.get_counts(chunk.index) == {slow_key(chunk.index): shots}, chunk
    refused = [c for c in done if c.note and CANNOT_CANCEL in c.note]
    assert refused, [c.note for c in done]
    assert not set(client.processing().get(w, ()) for w in client.nthreads()) - {()}
    retried = cancelled[0]
    job_set.retry(retried.index)
    job_set.wait(timeout=120)
    assert retried.state is ChunkState.DONE, retried
    assert retried.job_id == f"qjm-{job_set.job_set_id()}-c{retried.index}-a2"
    counts = job_set.results().get_counts(retried.index)
    assert counts == {slow_key(retried.index): shots}


def test_a_chunk_longer_than_the_worker_ttl_ends_in_error_saying_why_and_what_to_do(
    manager: JobManager,
) -> None:
    # Aer holds the GIL for a whole chunk, so its worker sends no heartbeat until the chunk
    # ends: with a TTL of 2 s the scheduler restarts the worker of a chunk of several seconds,
    # runs the task again, and gives up after one more death.
    import dask
    from distributed import Client, LocalCluster

    config = {"distributed.scheduler.worker-ttl": "2s", "distributed.scheduler.allowed-failures": 1}
    with (
        dask.config.set(config),
        LocalCluster(
            n_workers=1,
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            dashboard_address=None,
        ) as cluster,
        Client(cluster) as short_ttl_client,
    ):
        job_set = manager.run(
            [slow_circuit(5)], slow_backend(), executor=short_ttl_client, shots=60_000
        )
        job_set.wait(timeout=300)
    (chunk,) = job_set.managed_jobs()
    assert chunk.state is ChunkState.ERROR, chunk
    assert chunk.error is not None
    assert KILLED_WORKER_HINT in chunk.error, chunk.error
    assert "KilledWorker" in chunk.error, chunk.error


def test_an_aer_simulator_holding_a_dask_client_runs_there_cut_by_its_max_job_size(
    manager: JobManager, client: Any
) -> None:
    backend = AerSimulator(executor=client, max_job_size=2)
    job_set = manager.run(basis_circuits(5), backend, shots=SHOTS)
    results = job_set.results(timeout=120)
    assert isinstance(job_set._adapter, DaskAdapter)
    assert [(c.start_index, c.end_index) for c in job_set.managed_jobs()] == [
        (0, 1),
        (2, 3),
        (4, 4),
    ]
    for index in range(5):
        assert results.get_counts(index) == {expected_key(index): SHOTS}
    given = manager.run(basis_circuits(5), backend, max_experiments_per_job=5, shots=SHOTS)
    given.wait(timeout=120)
    assert len(given.managed_jobs()) == 1, "the user's max_experiments_per_job wins"
    assert "executor" not in describe(backend)["options"]


def test_a_dask_set_round_trips_through_the_store_and_is_retried_with_executor(
    manager: JobManager, client: Any
) -> None:
    job_set = manager.run(
        basis_circuits(4),
        AerSimulator(),
        executor=client,
        max_experiments_per_job=2,
        shots=SHOTS,
        method="bogus",
    )
    job_set.wait(timeout=120)
    assert {c.state for c in job_set.managed_jobs()} == {ChunkState.ERROR}
    assert manager.store is not None
    stored = manager.store.load(job_set.job_set_id())
    assert stored is not None
    assert stored.options["dask"]["backend"] == describe(AerSimulator())
    again = JobManager(store=manager.store.path)
    detached = again.retrieve_job_set(job_set.job_set_id())
    assert detached.backend_name == "aer_simulator on Dask (2 workers)"
    assert not detached._adapter.can_submit
    from distributed import Client

    # A client of its own, as a new kernel's: it holds none of the first run's futures (the
    # first client still does, and the scheduler keeps those tasks under their keys).
    with Client(client.scheduler.address) as own_client:
        revived = again.retrieve_job_set(job_set.job_set_id(), executor=own_client)
        assert isinstance(revived._adapter, DaskAdapter)
        assert revived._adapter.description == describe(AerSimulator())
        errors = [c.error for c in job_set.managed_jobs()]
        assert [c.error for c in revived.managed_jobs()] == errors
        revived.retry_failed()
        revived.wait(timeout=120)
    chunk = revived.managed_jobs()[0]
    assert chunk.state is ChunkState.ERROR, "the stored run options still hold the bad method"
    assert chunk.previous_job_ids == [f"qjm-{job_set.job_set_id()}-c0-a1"]
    assert chunk.job_id == f"qjm-{job_set.job_set_id()}-c0-a2", "attempts count on"


def test_the_widget_links_the_dashboard_and_names_each_chunks_worker(
    manager: JobManager, client: Any
) -> None:
    job_set = manager.run(basis_circuits(2), AerSimulator(), executor=client, shots=SHOTS)
    job_set.wait(timeout=120)
    widget = JobSetWidget(job_set)
    try:
        assert widget.backend_name == "aer_simulator on Dask (2 workers)"
        assert widget.dashboard_link == client.dashboard_link
        assert widget.dashboard_link.startswith("http://127.0.0.1:")
        widget._on_message(widget, {"type": "select", "index": 0}, [])
        assert widget.selected_detail["worker"] in set(client.nthreads())
    finally:
        widget.close()
    here = manager.run([basis_circuit(0)], AerSimulator(), shots=SHOTS)
    here.wait(timeout=60)
    local = JobSetWidget(here)
    try:
        assert local.dashboard_link == ""
        local._on_message(local, {"type": "select", "index": 0}, [])
        assert local.selected_detail["worker"] is None
    finally:
        local.close()


def test_a_circuit_in_qpy_comes_back_with_its_registers_and_metadata(
    manager: JobManager, client: Any
) -> None:
    circuit = QuantumCircuit(3, name="two registers")
    from qiskit.circuit import ClassicalRegister

    low, high = ClassicalRegister(1, "low"), ClassicalRegister(2, "high")
    circuit.add_register(low)
    circuit.add_register(high)
    circuit.x([0, 2])
    circuit.measure(0, low[0])
    circuit.measure([1, 2], high)
    circuit.metadata = {"kind": "registers"}
    job_set = manager.run([circuit], AerSimulator(), executor=client, shots=SHOTS)
    result = job_set.results(timeout=120).combine_results()
    assert result.get_counts(0) == {"10 1": SHOTS}
    assert result.results[0].header["metadata"] == {"kind": "registers"}
