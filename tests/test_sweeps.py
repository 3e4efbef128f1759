"""Parameter sweeps on every kind of backend: circuits with ``parameter_binds`` and PUBs with
parameter values, split across jobs by experiments and by points, put back together exactly.

Every point prepares a known basis state (rx(0 or pi) per qubit, see support.sweep_circuit), so
counts are checked per experiment and per point: none lost, none twice.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pytest
from conftest import basis_circuit, expected_key, wait_until
from qiskit import QuantumCircuit, transpile
from qiskit.primitives import PrimitiveResult, StatevectorSampler
from qiskit.providers.basic_provider import BasicSimulator
from qiskit_aer import AerSimulator
from qiskit_aer.primitives import SamplerV2 as AerSamplerV2
from qiskit_ibm_runtime.fake_provider import FakeManilaV2
from support import sweep_binds, sweep_circuit, sweep_point

from qjm_widget import ChunkState, JobManager, ManagedResultDataNotAvailable
from qjm_widget.testing import FaultyBackend, FaultySampler

SHOTS = 20
STATES = [5, 0, 3, 7, 1, 6, 2, 4, 5, 3]  # the basis state each point of the sweep prepares


def runtime_local_sampler() -> Any:
    from qiskit_ibm_runtime import SamplerV2 as RuntimeSamplerV2

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        return RuntimeSamplerV2(mode=FakeManilaV2())


# name -> (factory, exact, needs ISA circuits)
BACKENDS = {
    "aer": (AerSimulator, True, False),
    "basic": (BasicSimulator, True, False),
    "fake_manila": (FakeManilaV2, False, True),
}
SAMPLERS = {
    "statevector_sampler": (StatevectorSampler, True, False),
    "aer_sampler": (AerSamplerV2, True, False),
    "runtime_local_sampler": (runtime_local_sampler, False, True),
}


def isa(circuits: list[QuantumCircuit], needed: bool) -> list[QuantumCircuit]:
    if not needed:
        return circuits
    return list(transpile(circuits, FakeManilaV2(), optimization_level=0, seed_transpiler=1))


def assert_point(counts: dict[str, int], state: int, shots: int, exact: bool, where: str) -> None:
    assert sum(counts.values()) == shots, f"{where}: {counts}"
    if exact:
        assert counts == {expected_key(state): shots}, f"{where}: {counts}"
    else:
        assert max(counts, key=counts.__getitem__) == expected_key(state), f"{where}: {counts}"


def values_of(states: list[int], shape: tuple[int, ...] | None = None) -> np.ndarray[Any, Any]:
    values = np.array([sweep_point(s) for s in states])
    return values if shape is None else values.reshape(*shape, values.shape[-1])


@pytest.mark.parametrize("name", list(BACKENDS))
def test_parameter_binds_on_a_backend_split_by_experiments_and_points_count_each_point(
    manager: JobManager, name: str
) -> None:
    factory, exact, needs_isa = BACKENDS[name]
    sweep, bound, other = isa(
        [sweep_circuit(), basis_circuit(6), sweep_circuit(name="s2")], needs_isa
    )
    binds = [sweep_binds(STATES, sweep), {}, sweep_binds(STATES[:2], other)]
    # 4 points a job: the 10-point sweep is cut in 3; the bound circuit and the 2-point sweep
    # (3 points in all) share one job.
    job_set = manager.run(
        [sweep, bound, other],
        factory(),
        shots=SHOTS,
        parameter_binds=binds,
        max_executions_per_job=4 * SHOTS,
    )
    results = job_set.results(timeout=120)
    assert results.success, job_set.error_messages()
    plan = [(c.start_index, c.end_index, c.points) for c in job_set.managed_jobs()]
    assert plan == [(0, 0, (0, 0, 3)), (0, 0, (0, 4, 7)), (0, 0, (0, 8, 9)), (1, 2, None)]
    for point, state in enumerate(STATES):
        assert_point(results.get_counts(0, point), state, SHOTS, exact, f"{name} point {point}")
        assert_point(job_set.counts().at(0, point), state, SHOTS, exact, f"{name} at {point}")
    assert_point(results.get_counts(1), 6, SHOTS, exact, f"{name} bound")
    for point, state in enumerate(STATES[:2]):
        assert_point(results.get_counts(2, (point,)), state, SHOTS, exact, f"{name} s2 {point}")
    summed = results.get_counts(0)
    assert sum(summed.values()) == SHOTS * len(STATES)
    if exact:
        expected: dict[str, int] = {}
        for state in STATES:
            expected[expected_key(state)] = expected.get(expected_key(state), 0) + SHOTS
        assert summed == expected
        assert job_set.counts().per_experiment[0] == expected
    assert job_set.counts().shots == [SHOTS * 10, SHOTS, SHOTS * 2]
    assert sum(job_set.counts().aggregate.values()) == SHOTS * 13


def run_sweep(manager: JobManager, backend: Any, sweep: QuantumCircuit, **options: Any) -> Any:
    """The sweep of STATES as parameter_binds, 5 points a job (unless options say otherwise)."""
    settings = {"shots": SHOTS, "max_executions_per_job": 5 * SHOTS, **options}
    return manager.run([sweep], backend, parameter_binds=[sweep_binds(STATES, sweep)], **settings)


def test_aer_gets_each_chunks_slice_of_the_binds_and_others_get_bound_copies(
    manager: JobManager,
) -> None:
    sweep = sweep_circuit()
    job_set = run_sweep(manager, AerSimulator(), sweep)
    job_set.wait(60)
    for chunk in job_set.managed_jobs():
        sent = chunk.job.circuits()
        assert len(sent) == 1, "Aer should get the parameterized circuit once, not copies"
        assert sent[0].parameters, "Aer should bind the values itself"
    basic = run_sweep(manager, BasicSimulator(), sweep)
    # BasicSimulator cannot bind: its jobs ran bound copies, one result per point.
    results = basic.results(timeout=60)
    assert results.success, basic.error_messages()
    assert [results.get_counts(0, p) for p in range(10)] == [
        {expected_key(s): SHOTS} for s in STATES
    ]


def test_combine_results_orders_points_as_one_aer_job_with_the_same_binds(
    manager: JobManager,
) -> None:
    sweep, other = sweep_circuit(), sweep_circuit(name="s2")
    circuits = [sweep, basis_circuit(3), other]
    binds = [sweep_binds(STATES, sweep), {}, sweep_binds([1, 2, 4], other)]
    job_set = manager.run(
        circuits,
        AerSimulator(),
        shots=SHOTS,
        parameter_binds=binds,
        max_executions_per_job=3 * SHOTS,
    )
    combined = job_set.results(timeout=60).combine_results()
    raw = AerSimulator().run(circuits, shots=SHOTS, parameter_binds=binds).result()
    assert len(combined.results) == len(raw.results) == 14
    assert combined.get_counts() == raw.get_counts()
    names = [r.header["name"] if isinstance(r.header, dict) else r.header.name for r in raw.results]
    assert [e.header["name"] for e in combined.results] == names


@pytest.mark.parametrize("name", list(SAMPLERS))
def test_a_pub_split_across_jobs_comes_back_as_one_unsplit_run_gives_it(
    manager: JobManager, name: str
) -> None:
    factory, exact, needs_isa = SAMPLERS[name]
    sweep, bound = isa([sweep_circuit(), basis_circuit(2)], needs_isa)
    values = values_of(STATES[:8], (2, 4))
    sampler = factory()
    job_set = manager.run(
        [(sweep, values), bound, (sweep, values[0], 30)],
        sampler,
        shots=SHOTS,
        max_executions_per_job=3 * SHOTS,
    )
    results = job_set.results(timeout=120)
    assert results.success, job_set.error_messages()
    plan = [(c.start_index, c.end_index, c.points, c.shots) for c in job_set.managed_jobs()]
    assert plan == [
        (0, 0, (0, 0, 2), SHOTS),
        (0, 0, (0, 3, 5), SHOTS),
        (0, 0, (0, 6, 7), SHOTS),
        (1, 1, None, SHOTS),
        (2, 2, (2, 0, 1), 30),  # its own shots: 4 points x 30 > 60 executions
        (2, 2, (2, 2, 3), 30),
    ]
    for flat, state in enumerate(STATES[:8]):
        loc = divmod(flat, 4)
        assert_point(results.get_counts(0, loc), state, SHOTS, exact, f"{name} {loc}")
        assert_point(job_set.counts().at(0, loc), state, SHOTS, exact, f"{name} at {loc}")
    for point, state in enumerate(STATES[:4]):
        assert_point(results.get_counts(2, point), state, 30, exact, f"{name} own shots {point}")
    assert_point(results.get_counts(1), 2, SHOTS, exact, f"{name} bound")

    split = results.pub_result(0)
    whole = sampler.run([(sweep, values)], shots=SHOTS).result()[0]
    assert split.data.shape == whole.data.shape == (2, 4)
    assert list(split.data.keys()) == list(whole.data.keys())
    for register in whole.data.keys():  # noqa: SIM118 - DataBin is no dict
        ours, theirs = getattr(split.data, register), getattr(whole.data, register)
        assert (ours.shape, ours.num_shots, ours.num_bits) == (
            theirs.shape,
            theirs.num_shots,
            theirs.num_bits,
        )
        if exact:
            assert np.array_equal(ours.array, theirs.array)
    assert split.metadata.get("shots", SHOTS) == SHOTS
    combined = results.combine_results()
    assert isinstance(combined, PrimitiveResult)
    assert [p.data.shape for p in combined] == [(2, 4), (), (4,)]


def test_a_pub_runs_on_a_backend_and_binds_run_on_a_sampler(manager: JobManager) -> None:
    sweep = sweep_circuit()
    values = values_of(STATES[:6], (3, 2))
    on_backend = manager.run(
        [(sweep, values)], BasicSimulator(), shots=SHOTS, max_executions_per_job=2 * SHOTS
    ).results(timeout=60)
    on_sampler = manager.run(
        [sweep],
        StatevectorSampler(),
        shots=SHOTS,
        parameter_binds=[sweep_binds(STATES[:6], sweep)],
        max_executions_per_job=4 * SHOTS,
    ).results(timeout=60)
    for flat, state in enumerate(STATES[:6]):
        assert on_backend.get_counts(0, divmod(flat, 2)) == {expected_key(state): SHOTS}
        assert on_sampler.get_counts(0, flat) == {expected_key(state): SHOTS}
    assert on_sampler.pub_result(0).data.c.shape == (6,)
    with pytest.raises(ManagedResultDataNotAvailable, match="pub_result is for sets run on a"):
        on_backend.pub_result(0)


def test_memory_of_one_point_and_of_all_points(manager: JobManager) -> None:
    sweep = sweep_circuit()
    for backend in (AerSimulator(), StatevectorSampler()):
        results = manager.run(
            [sweep],
            backend,
            shots=4,
            memory=True,
            parameter_binds=[sweep_binds([3, 6], sweep)],
            max_executions_per_job=4,
        ).results(timeout=60)
        assert results.get_memory(0, 1) == [expected_key(6)] * 4
        assert results.get_memory(0) == [expected_key(3)] * 4 + [expected_key(6)] * 4


def test_retrying_a_chunk_that_held_part_of_a_pub_replaces_only_its_points(
    manager: JobManager,
) -> None:
    sweep = sweep_circuit()
    values = values_of(STATES)
    sampler = FaultySampler(StatevectorSampler(), error_jobs=1)
    job_set = manager.run(
        [(sweep, values), basis_circuit(1)],
        sampler,
        shots=SHOTS,
        max_executions_per_job=4 * SHOTS,
        max_concurrent_jobs=1,
    )
    job_set.wait(60)
    states = [c.state for c in job_set.managed_jobs()]
    assert states == [ChunkState.ERROR, ChunkState.DONE, ChunkState.DONE, ChunkState.DONE]
    counts = job_set.counts()
    assert [counts.at(0, p) for p in range(4)] == [{}] * 4, "the failed job counted"
    for point in range(4, 10):
        assert counts.at(0, point) == {expected_key(STATES[point]): SHOTS}
    with pytest.raises(ManagedResultDataNotAvailable, match="chunk 0 is error"):
        job_set.results().get_counts(0, 5)
    messages = job_set.error_messages() or ""
    assert messages.startswith("chunk 0 (experiment 0, points 0-3, job "), messages
    assert "    points: 0-3" in job_set.report()
    assert job_set.results().get_counts(1) == {expected_key(1): SHOTS}

    job_set.retry(0)
    results = job_set.results(timeout=60)
    assert results.success
    assert job_set.counts().shots == [SHOTS * 10, SHOTS], "a point counted twice or not at all"
    for point, state in enumerate(STATES):
        assert results.get_counts(0, point) == {expected_key(state): SHOTS}
    assert np.array_equal(
        results.pub_result(0).data.c.array,
        StatevectorSampler().run([(sweep, values)], shots=SHOTS).result()[0].data.c.array,
    )


def test_shots_split_and_points_split_together_count_every_shot_once(manager: JobManager) -> None:
    sweep = sweep_circuit()
    job_set = manager.run(
        [(sweep, values_of(STATES[:6]))],
        AerSamplerV2(),
        shots=50,
        max_shots_per_job=20,
        max_executions_per_job=40,
    )
    results = job_set.results(timeout=60)
    plan = [(c.points, c.shots) for c in job_set.managed_jobs()]
    assert plan == [((0, p, p + 1), s) for p in (0, 2, 4) for s in (20, 20, 10)]
    for point, state in enumerate(STATES[:6]):
        assert results.get_counts(0, point) == {expected_key(state): 50}
    pub = results.pub_result(0)
    assert (pub.data.c.shape, pub.data.c.num_shots) == ((6,), 50)
    assert pub.metadata["shots"] == 50


def test_cancel_mid_sweep_keeps_the_points_that_ran(manager: JobManager) -> None:
    sweep = sweep_circuit()
    # Each job held a second: the cancel comes while the second chunk waits in the queue.
    backend = FaultyBackend(AerSimulator(), hold_queued=1.0)
    job_set = run_sweep(
        manager, backend, sweep, max_executions_per_job=2 * SHOTS, max_concurrent_jobs=1
    )
    assert wait_until(lambda: job_set.managed_jobs()[0].state is ChunkState.DONE, 30)
    job_set.cancel()
    job_set.wait(30)
    done = [c for c in job_set.managed_jobs() if c.state is ChunkState.DONE]
    assert done, "the first chunk was DONE before the cancel"
    assert len(done) < 5, "the cancel came too late to stop any chunk"
    assert {c.state for c in job_set.managed_jobs()} <= {ChunkState.DONE, ChunkState.CANCELLED}
    counts = job_set.counts()
    for chunk in job_set.managed_jobs():
        assert chunk.points is not None
        _, first, last = chunk.points
        for point in range(first, last + 1):
            expected = {expected_key(STATES[point]): SHOTS} if chunk in done else {}
            assert counts.at(0, point) == expected, (chunk, point)
    assert counts.shots == [SHOTS * 2 * len(done)]
    with pytest.raises(ManagedResultDataNotAvailable, match="cancelled"):
        job_set.results().get_counts(0, 9)
