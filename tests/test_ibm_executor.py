"""The executor-based Sampler on IBM Quantum's cloud path, and the legacy SamplerV2 it replaces
where the client has none: the real qiskit-ibm-runtime 0.51 client against the stand-in of the
API (tests/ibm_standin), which runs the ``executor`` and ``sampler`` programs on a noiseless Aer,
so every count is exact. Which program a job went to is read from the stand-in's job records.
"""

from __future__ import annotations

import pathlib
import sys
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import pytest
from conftest import basis_circuit, basis_circuits, expected_key, qjm_threads, wait_until
from ibm_standin import JobView, RuntimeStandIn
from qiskit_ibm_runtime import Batch
from qiskit_ibm_runtime.executor_sampler import Sampler
from qiskit_ibm_runtime.fake_provider import FakeManilaV2
from qiskit_ibm_runtime.runtime_job_v2 import RuntimeJobV2
from support import sweep_circuit, sweep_point
from test_ibm_runtime import session_requests
from test_ibm_runtime_faults import (
    CREDENTIALS_WORDS,
    JOBS_PATH,
    TIMEOUT,
    assert_exact,
    once_chunk_done,
    one_completed_job_per_chunk,
    requests_to,
    standin_threads,
    start,
    statuses_by_chunk,
)
from test_ibm_runtime_recovery import kill_mid_run
from test_sweeps_ibm import isa

from qjm_widget import ChunkState, JobManager, JobManagerInvalidInputError, RetryPolicy
from qjm_widget.backends import RuntimeAdapter, SamplerAdapter, adapter_for, executor, runtime

SHOTS = 20
DONE, ERROR, FAILED = ChunkState.DONE, ChunkState.ERROR, ChunkState.FAILED


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


@pytest.fixture(params=["executor", "sampler"], ids=["executor", "legacy-fallback"])
def program(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """The program a set on an IBMBackend must go to: ``sampler`` where the client is made to
    look as if it had no ``executor_sampler`` module (as clients before 0.50 have none)."""
    if request.param == "sampler":
        monkeypatch.setitem(sys.modules, executor.MODULE, None)
    return str(request.param)


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


def jobs_of(api: RuntimeStandIn, job_set_id: str) -> list[JobView]:
    """The stand-in's jobs of a set, by chunk index (then oldest first)."""
    tag = f"qjm_jobset_{job_set_id}"

    def chunk(job: JobView) -> int:
        (found,) = (t for t in job.tags if t.startswith("qjm_chunk_"))
        return int(found.removeprefix("qjm_chunk_"))

    found = [job for job in api.jobs.values() if tag in job.tags]
    return sorted(found, key=lambda job: (chunk(job), job.created))


def programs_of(api: RuntimeStandIn, job_set_id: str) -> list[str]:
    return [job.program_id for job in jobs_of(api, job_set_id)]


def exact(results: Any, count: int, shots: int = SHOTS) -> None:
    got = [results.get_counts(i) for i in range(count)]
    assert got == [{expected_key(i): shots} for i in range(count)]


# -- the three execution modes, on either program ---------------------------------------------
@pytest.mark.parametrize(
    ("mode", "kind"), [("batch", "batch"), ("session", "dedicated"), ("job", None)]
)
def test_each_chunk_is_one_tagged_job_of_the_program_in_each_execution_mode(
    api: RuntimeStandIn,
    backend: Any,
    manager: JobManager,
    program: str,
    mode: str,
    kind: str | None,
) -> None:
    job_set = manager.run(
        basis_circuits(6),
        backend,
        name="sweep",
        max_experiments_per_job=2,
        shots=SHOTS,
        job_tags=["mine"],
        execution_mode=mode,
    )
    exact(job_set.results(timeout=90), 6)
    set_id = job_set.job_set_id()
    jobs = jobs_of(api, set_id)
    assert [j.program_id for j in jobs] == [program] * 3
    assert [j.num_pubs for j in jobs] == [2, 2, 2]
    assert [j.id for j in jobs] == [c.job_id for c in job_set.managed_jobs()]
    for index, job in enumerate(jobs):
        assert job.tags == (
            "mine",
            f"qjm_jobset_{set_id}",
            f"qjm_chunk_{index}",
            f"qjm_plan_6_2_{SHOTS}_-",
            "qjm_name_sweep",
        ), job.tags
    sessions = {j.session_id for j in jobs}
    if kind is None:
        assert sessions == {None}
        return
    (session_id,) = sessions
    assert session_id is not None
    assert api.sessions[session_id] == kind
    # Closed by the set's last step, just after its last chunk turned final.
    assert wait_until(lambda: session_requests(api, "PATCH", session_id) >= 1, 10)
    assert session_requests(api, "PATCH", session_id) == 1


def test_the_executor_sampler_is_used_where_the_client_has_it_the_legacy_one_where_not(
    backend: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert executor.sampler_class() is Sampler
    monkeypatch.setitem(sys.modules, executor.MODULE, None)
    assert executor.sampler_class() is None
    assert isinstance(adapter_for(backend), RuntimeAdapter)  # built without the module


# -- sweeps -------------------------------------------------------------------------------------
STATES = [6, 1, 0, 7, 3, 5, 2, 4, 1, 6]


def test_a_pub_sweep_goes_as_one_pub_with_its_values_cut_along_its_points_exactly(
    api: RuntimeStandIn,
    backend: Any,
    manager: JobManager,
    program: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    limit = 4 * SHOTS
    api.max_executions = limit  # IBM's 10 million, set low: the stand-in counts executor jobs too
    monkeypatch.setattr(runtime, "MAX_EXECUTIONS_PER_JOB", limit)
    (sweep, basis) = isa([sweep_circuit(), basis_circuit(5)], backend)
    values = np.array([sweep_point(s) for s in STATES])
    job_set = manager.run([(sweep, values), basis], backend, shots=SHOTS)
    results = job_set.results(timeout=120)
    assert results.success, job_set.error_messages()
    assert [c.points for c in job_set.managed_jobs()] == [(0, 0, 3), (0, 4, 7), (0, 8, 9), None]
    assert [results.get_counts(0, p) for p in range(10)] == [
        {expected_key(s): SHOTS} for s in STATES
    ]
    assert results.get_counts(1) == {expected_key(5): SHOTS}
    assert results.pub_result(0).data.c.shape == (10,)

    jobs = jobs_of(api, job_set.job_set_id())
    assert [j.program_id for j in jobs] == [program] * 4
    for job, points in zip(jobs[:3], ([0, 1, 2, 3], [4, 5, 6, 7], [8, 9]), strict=True):
        ((circuit, sent, shots),) = job.pubs  # one PUB: the circuit once, with its values
        assert circuit.num_parameters == 3, "the circuit was bound before it was sent"
        assert np.allclose(np.asarray(sent), values[points])
        assert shots in (SHOTS, None)


# -- a user's own executor Sampler ------------------------------------------------------------
def test_a_users_executor_sampler_keeps_its_batch_and_options_and_gets_our_tags_too(
    api: RuntimeStandIn, backend: Any, manager: JobManager
) -> None:
    batch = Batch(backend=backend)
    sampler = Sampler(mode=batch, options={"default_shots": 30})
    sampler.options.environment.job_tags = ["theirs"]
    options = sampler.options.model_dump()
    assert isinstance(adapter_for(sampler), RuntimeAdapter)
    job_set = manager.run(basis_circuits(4), sampler, max_experiments_per_job=2, job_tags=["mine"])
    exact(job_set.results(timeout=90), 4, shots=30)
    set_id = job_set.job_set_id()
    jobs = jobs_of(api, set_id)
    assert [j.program_id for j in jobs] == ["executor"] * 2
    assert {j.session_id for j in jobs} == {batch.session_id}
    for index, job in enumerate(jobs):
        # The sampler's shots are its own: the plan names none.
        ours = ("mine", f"qjm_jobset_{set_id}", f"qjm_chunk_{index}", "qjm_plan_4_2_-_-")
        assert job.tags[:4] == ours, job.tags
        assert job.tags[4].startswith("qjm_name_"), job.tags
        assert job.tags[5:] == ("theirs",), job.tags
    assert sampler.options.model_dump() == options, "the user's options changed"
    assert sampler.mode is batch
    # The user's batch is theirs to close.
    assert session_requests(api, "PATCH", batch.session_id) == 0
    batch.close()
    with pytest.raises(JobManagerInvalidInputError, match="already has its mode"):
        manager.run(basis_circuits(2), Sampler(mode=backend), shots=10, execution_mode="batch")


def test_a_local_mode_executor_sampler_stays_on_the_generic_sampler_adapter(
    manager: JobManager,
) -> None:
    fake = FakeManilaV2()
    sampler = Sampler(mode=fake)
    sampler.options.simulator.seed_simulator = 7
    adapter = adapter_for(sampler)
    assert type(adapter) is SamplerAdapter
    job_set = manager.run(
        isa(basis_circuits(4), fake), sampler, shots=200, max_experiments_per_job=2
    )
    results = job_set.results(timeout=120)
    for index in range(4):
        counts = results.get_counts(index)
        assert sum(counts.values()) == 200, counts
        assert max(counts, key=counts.__getitem__) == expected_key(index), counts  # noisy


# -- getting a set back: by tag with no store, by job id after a kill -------------------------
def test_a_set_no_store_knows_is_rebuilt_by_tag_with_its_circuits_read_from_its_jobs(
    api: RuntimeStandIn, backend: Any, managers: Callable[[str], JobManager], program: str
) -> None:
    circuits = basis_circuits(6)
    for index, circuit in enumerate(circuits):
        circuit.metadata = {"index": index}
    api.faults.fail_job(count=1, reason="Qubit 3 lost calibration")
    first = managers("a.sqlite3").run(
        circuits, backend, max_experiments_per_job=2, shots=SHOTS, job_tags=["mine"]
    )
    first.wait(timeout=60)
    (failed,) = [c.index for c in first.managed_jobs() if c.state is ERROR]
    before = set(api.jobs)

    rebuilt = managers("fresh.sqlite3").retrieve_job_set(first.job_set_id(), backend=backend)
    rebuilt.wait(timeout=60)
    assert [(c.start_index, c.end_index, c.shots) for c in rebuilt.managed_jobs()] == [
        (c.start_index, c.end_index, c.shots) for c in first.managed_jobs()
    ]
    assert [c.job_id for c in rebuilt.managed_jobs()] == [c.job_id for c in first.managed_jobs()]
    assert rebuilt.tags() == ["mine"]
    # The circuits came back from the jobs' own inputs, the failed job's included.
    back = [e.circuit for e in rebuilt.experiments()]
    assert [(c.name, c.metadata) for c in back] == [(c.name, c.metadata) for c in circuits]
    assert rebuilt.managed_jobs()[failed].state is ERROR
    assert set(api.jobs) == before, "rebuilding submitted jobs"

    assert rebuilt.retry_failed() == [failed]
    exact(rebuilt.results(timeout=60), 6)
    (new,) = set(api.jobs) - before
    assert api.jobs[new].program_id == program
    assert programs_of(api, first.job_set_id()) == [program] * 4


def test_executor_inputs_the_client_left_raw_are_decoded_with_its_own_converters() -> None:
    # What the client posts; its RuntimeDecoder decodes it when it reads a job, and leaves it
    # raw (with a warning) where it cannot.
    from qiskit_ibm_runtime.executor_sampler.prepare import prepare
    from qiskit_ibm_runtime.options_models import SamplerOptions
    from qiskit_ibm_runtime.quantum_program.params_converters import (
        QUANTUM_PROGRAM_PARAMS_CONVERTERS,
    )

    circuits = [basis_circuit(3), sweep_circuit()]
    circuits[0].metadata = {"kept": True}
    program, options = prepare([(circuits[0],), (circuits[1], [sweep_point(5)])], SamplerOptions())
    converter = QUANTUM_PROGRAM_PARAMS_CONVERTERS["v2.0"]
    raw = converter.encoder(program, options).model_dump(mode="json")
    back = executor.program_circuits(raw)
    assert back is not None
    assert [(c.name, c.metadata, c.num_parameters) for c in back] == [
        ("basis_3", {"kept": True}, 0),
        ("sweep", {}, 3),
    ]
    assert executor.program_circuits({**raw, "schema_version": "v9.9"}) is None


def test_a_killed_runs_executor_jobs_are_reattached_by_id_by_a_new_manager_and_store(
    api: RuntimeStandIn, backend: Any, tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    killed = kill_mid_run(api, tmp_path, monkeypatch)  # its worker ran on this same client
    assert programs_of(api, killed.job_set_id) == ["executor"] * 4
    manager = JobManager(store=killed.store)
    try:
        job_set = manager.retrieve_job_set(killed.job_set_id, backend=backend)
        chunks = job_set.managed_jobs()
        assert [c.job_id for c in chunks] == killed.job_ids
        for chunk in chunks:
            if chunk.index != killed.done:
                assert isinstance(chunk.job, RuntimeJobV2), chunk.job
                assert chunk.job.primitive_id == "executor"
        api.release()
        results = job_set.results(timeout=60)
        assert [results.get_counts(i) for i in range(8)] == [
            {expected_key(i): 50} for i in range(8)
        ]
        assert sorted(j.id for j in jobs_of(api, killed.job_set_id)) == sorted(killed.job_ids)
    finally:
        api.release()
        for job_set in manager.job_sets():
            job_set.cancel()
            job_set.wait(timeout=60)
    assert wait_until(lambda: not qjm_threads(), timeout=15), f"threads left: {qjm_threads()}"


# -- faults, on either program --------------------------------------------------------------
@pytest.fixture
def fresh_api() -> Iterator[RuntimeStandIn]:
    """A stand-in of the test's own (a revoked token stays revoked). Ask for it before
    ``manager`` so that the manager's sets are final before the stand-in stops."""
    others = set(standin_threads())  # the module's stand-in's, if it runs

    def left() -> set[Any]:
        return set(standin_threads()) - others

    with RuntimeStandIn(backends=("fake_manila",), noise=False) as standin:
        yield standin
    assert wait_until(lambda: not left(), 5), f"left: {left()}"


def pending_limit(api: RuntimeStandIn, manager: JobManager, backend: Any) -> Any:
    api.faults.pending_limit(2)
    job_set = start(manager, backend, 6, 2)
    assert_exact(job_set, range(6), 6)
    assert requests_to(api, "POST", JOBS_PATH, 409) == 2, "the stand-in did not refuse twice"
    assert [c.attempts for c in job_set.managed_jobs()] == [1, 1, 1]
    one_completed_job_per_chunk(api, job_set)
    return job_set


def server_errors(api: RuntimeStandIn, manager: JobManager, backend: Any) -> Any:
    api.faults.http_error(status=503, count=3, method="POST", path_contains="/jobs")
    job_set = start(manager, backend, 6, 2)
    assert_exact(job_set, range(6), 6)
    assert [r.status for r in api.requests].count(503) == 3
    assert [c.attempts for c in job_set.managed_jobs()] == [1, 1, 1]
    assert len(api.jobs) == 3, "a 503 answer must not have made a job"
    one_completed_job_per_chunk(api, job_set)
    return job_set


def failed_job(api: RuntimeStandIn, manager: JobManager, backend: Any) -> Any:
    reason = "Qubit 3 calibration failed"
    api.faults.fail_job(count=1, reason=reason)
    job_set = start(manager, backend, 6, 2)
    job_set.wait(timeout=TIMEOUT)
    (bad,) = [c for c in job_set.managed_jobs() if c.state is not DONE]
    assert (bad.state, bad.attempts) == (ERROR, 1), job_set.report()
    assert reason in (bad.error or ""), bad.error
    bad_experiments = range(bad.start_index, bad.end_index + 1)
    assert_exact(job_set, [i for i in range(6) if i not in bad_experiments], 6)
    job_set.retry(bad.index)
    assert_exact(job_set, range(6), 6)
    expected = {c.index: ["COMPLETED"] for c in job_set.managed_jobs()}
    expected[bad.index] = ["FAILED", "COMPLETED"]
    assert statuses_by_chunk(api, job_set) == expected
    return job_set


def revoked_token(api: RuntimeStandIn, manager: JobManager, backend: Any) -> Any:
    policy = RetryPolicy(attempts=3, initial_delay=0.05, max_delay=0.2)
    job_set = start(manager, backend, 6, 2, max_concurrent_jobs=1, retry_policy=policy)
    once_chunk_done(job_set, 0, api.revoke_tokens)
    job_set.wait(timeout=TIMEOUT)
    chunks = job_set.managed_jobs()
    assert [(c.state, c.attempts) for c in chunks] == [(DONE, 1), (FAILED, 1), (FAILED, 1)]
    assert all(CREDENTIALS_WORDS in (c.error or "") for c in chunks[1:]), job_set.report()
    assert_exact(job_set, [0, 1], 6)
    assert statuses_by_chunk(api, job_set) == {0: ["COMPLETED"]}
    return job_set


FAULTS = {f.__name__: f for f in (pending_limit, server_errors, failed_job, revoked_token)}


@pytest.mark.parametrize("fault", list(FAULTS))
def test_a_fault_is_handled_the_same_on_either_program(
    fresh_api: RuntimeStandIn, manager: JobManager, program: str, fault: str
) -> None:
    backend = fresh_api.service().backend("fake_manila")
    job_set = FAULTS[fault](fresh_api, manager, backend)
    jobs = jobs_of(fresh_api, job_set.job_set_id())
    assert jobs
    assert {j.program_id for j in jobs} == {program}
