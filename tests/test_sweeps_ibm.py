"""Sweeps on IBM Quantum's cloud path, through the real qiskit-ibm-runtime client and the stand-in
of IBM's API: PUBs go to IBM as PUBs with their values (one circuit, never bound copies), and
IBM's limit on circuit executions per job cuts a sweep along its points."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
from conftest import basis_circuit, expected_key
from ibm_standin import RuntimeStandIn
from qiskit import transpile
from qiskit_ibm_runtime import SamplerV2
from support import sweep_binds, sweep_circuit, sweep_point

from qjm_widget import ChunkState, JobManager, JobManagerInvalidStateError
from qjm_widget.backends import runtime

SHOTS = 10
STATES = [6, 1, 0, 7, 3, 5, 2, 4, 1, 6]


@pytest.fixture(scope="module")
def api() -> Iterator[RuntimeStandIn]:
    with RuntimeStandIn(backends=("fake_manila",), noise=False) as standin:
        yield standin


@pytest.fixture
def backend(api: RuntimeStandIn) -> Iterator[Any]:
    api.faults.clear()
    api.release()
    api.max_executions = None
    yield api.service().backend("fake_manila")
    api.max_executions = None


def isa(circuits: Any, backend: Any) -> Any:
    """A circuit, or a list of them, as the backend runs it (the same layout every time)."""
    return transpile(circuits, backend, optimization_level=0, seed_transpiler=1)


def jobs_of(api: RuntimeStandIn, job_set_id: str) -> list[Any]:
    tag = f"qjm_jobset_{job_set_id}"
    return sorted(
        (job for job in api.jobs.values() if tag in job.tags),
        key=lambda job: next(t for t in job.tags if t.startswith("qjm_chunk_")),
    )


def run_sweep(
    manager: JobManager, runner: Any, backend: Any, points_per_job: int, **options: Any
) -> Any:
    """The sweep of STATES as parameter_binds on ``runner`` (``backend`` or a sampler on it),
    at most ``points_per_job`` points a job."""
    sweep = isa(sweep_circuit(), backend)
    return manager.run(
        [sweep],
        runner,
        parameter_binds=[sweep_binds(STATES, sweep)],
        max_executions_per_job=points_per_job * SHOTS,
        **options,
    )


def test_pubs_reach_ibm_as_pubs_and_ibms_limit_cuts_them_along_their_points(
    api: RuntimeStandIn, backend: Any, manager: JobManager, monkeypatch: pytest.MonkeyPatch
) -> None:
    limit = 4 * SHOTS
    api.max_executions = limit  # IBM's 10 million, set low
    monkeypatch.setattr(runtime, "MAX_EXECUTIONS_PER_JOB", limit)
    sweep = isa(sweep_circuit(), backend)
    values = np.array([sweep_point(s) for s in STATES])
    job_set = manager.run([(sweep, values), isa(basis_circuit(5), backend)], backend, shots=SHOTS)
    results = job_set.results(timeout=120)
    assert results.success, job_set.error_messages()
    assert [c.points for c in job_set.managed_jobs()] == [(0, 0, 3), (0, 4, 7), (0, 8, 9), None]
    for point, state in enumerate(STATES):
        assert results.get_counts(0, point) == {expected_key(state): SHOTS}, point
    assert results.get_counts(1) == {expected_key(5): SHOTS}
    assert results.pub_result(0).data.c.shape == (10,)

    jobs = jobs_of(api, job_set.job_set_id())
    assert len(jobs) == 4
    for job, points in zip(jobs[:3], ([0, 1, 2, 3], [4, 5, 6, 7], [8, 9]), strict=True):
        ((circuit, sent, _shots),) = job.pubs  # one PUB: the circuit once, with its values
        assert circuit.num_parameters == 3, "the circuit was bound before it was sent"
        assert np.allclose(np.asarray(sent), values[points])


def test_a_job_over_ibms_limit_is_refused_by_ibm_in_words(
    api: RuntimeStandIn, backend: Any, manager: JobManager
) -> None:
    api.max_executions = 4 * SHOTS
    job_set = run_sweep(manager, backend, backend, 10, shots=SHOTS)  # more than IBM takes
    job_set.wait(60)
    (chunk,) = job_set.managed_jobs()
    assert chunk.state is ChunkState.FAILED
    assert "a job may hold at most 40" in (chunk.error or ""), chunk.error


def test_a_users_runtime_sampler_sends_parameter_binds_as_one_pub_a_job(
    api: RuntimeStandIn, backend: Any, manager: JobManager
) -> None:
    sampler = SamplerV2(mode=backend, options={"default_shots": SHOTS})
    job_set = run_sweep(manager, sampler, backend, 5)
    results = job_set.results(timeout=120)
    assert [results.get_counts(0, p) for p in range(10)] == [
        {expected_key(s): SHOTS} for s in STATES
    ]
    assert [len(job.pubs) for job in jobs_of(api, job_set.job_set_id())] == [1, 1]


def test_a_sweep_set_no_store_knows_is_not_rebuilt_from_tags_but_said_why(
    backend: Any, manager: JobManager, tmp_path: Any
) -> None:
    job_set = run_sweep(manager, backend, backend, 5, shots=SHOTS)
    job_set.wait(60)
    fresh = JobManager(store=tmp_path / "fresh.sqlite3")
    with pytest.raises(JobManagerInvalidStateError, match="qjm_plan_custom"):
        fresh.retrieve_job_set(job_set.job_set_id(), backend=backend)
