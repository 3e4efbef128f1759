"""The job manager on IBM Quantum's cloud path: the real qiskit-ibm-runtime client, talking to
the stand-in of the API in tests/ibm_standin (no network here), which runs jobs on Aer."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from conftest import basis_circuits, expected_key, wait_until
from ibm_standin import RuntimeStandIn
from qiskit import QuantumCircuit
from qiskit.providers import JobStatus
from qiskit_aer import AerSimulator
from qiskit_ibm_runtime import Batch, SamplerV2

from qjm_widget import ChunkState, JobManager, JobManagerInvalidInputError, RetryPolicy, runner
from qjm_widget.backends import RuntimeAdapter, describe_exception
from qjm_widget.chunk import plan_chunks

SHOTS = 40


@pytest.fixture(scope="module")
def api() -> Iterator[RuntimeStandIn]:
    with RuntimeStandIn(backends=("fake_manila",), noise=False) as standin:
        yield standin


@pytest.fixture
def backend(api: RuntimeStandIn) -> object:
    api.faults.clear()
    api.release()
    return api.service().backend("fake_manila")


def jobs_of(api: RuntimeStandIn, job_set_id: str) -> list[object]:
    tag = f"qjm_jobset_{job_set_id}"
    return [job for job in api.jobs.values() if tag in job.tags]


def session_requests(api: RuntimeStandIn, method: str, session_id: str) -> int:
    path = f"/sessions/{session_id}"
    return sum(1 for r in api.requests if r.method == method and r.path.endswith(path))


def test_each_chunk_is_one_tagged_job_in_one_batch_that_is_closed_at_the_end(
    api: RuntimeStandIn, backend: object, manager: JobManager
) -> None:
    job_set = manager.run(
        basis_circuits(6),
        backend,
        name="sweep",
        max_experiments_per_job=2,
        shots=SHOTS,
        job_tags=["mine"],
    )
    results = job_set.results(timeout=90)
    for i in range(6):
        assert results.get_counts(i) == {expected_key(i): SHOTS}, i
    assert job_set.statuses() == [JobStatus.DONE] * 3
    jobs = jobs_of(api, job_set.job_set_id())
    assert sorted(j.tags[2] for j in jobs) == [f"qjm_chunk_{i}" for i in range(3)]
    assert all(j.tags[0] == "mine" for j in jobs)
    assert all(j.tags[3:] == ("qjm_plan_6_2_40_-", "qjm_name_sweep") for j in jobs)
    assert {j.id for j in jobs} == {c.job_id for c in job_set.managed_jobs()}
    sessions = {j.session_id for j in jobs}
    assert len(sessions) == 1, sessions
    (session_id,) = sessions
    assert api.sessions[session_id] == "batch"
    # Closed by the set's last step, just after its last chunk turned final.
    assert wait_until(lambda: session_requests(api, "PATCH", session_id) >= 1, 10)
    assert session_requests(api, "PATCH", session_id) == 1, "the batch was closed twice"


@pytest.mark.parametrize(("mode", "kind"), [("session", "dedicated"), ("job", None)])
def test_execution_mode_session_or_plain_jobs_on_request(
    api: RuntimeStandIn, backend: object, manager: JobManager, mode: str, kind: str | None
) -> None:
    job_set = manager.run(
        basis_circuits(4), backend, max_experiments_per_job=2, shots=SHOTS, execution_mode=mode
    )
    results = job_set.results(timeout=90)
    assert [results.get_counts(i) for i in range(4)] == [{expected_key(i): SHOTS} for i in range(4)]
    sessions = {j.session_id for j in jobs_of(api, job_set.job_set_id())}
    if kind is None:
        assert sessions == {None}
    else:
        (session_id,) = sessions
        assert api.sessions[session_id] == kind


def test_a_users_runtime_sampler_keeps_its_batch_and_options(
    api: RuntimeStandIn, backend: object, manager: JobManager
) -> None:
    batch = Batch(backend=backend)
    sampler = SamplerV2(mode=batch, options={"default_shots": 30})
    sampler.options.environment.job_tags = ["theirs"]
    job_set = manager.run(basis_circuits(4), sampler, max_experiments_per_job=2)
    results = job_set.results(timeout=90)
    assert [results.get_counts(i) for i in range(4)] == [{expected_key(i): 30} for i in range(4)]
    jobs = jobs_of(api, job_set.job_set_id())
    assert {j.session_id for j in jobs} == {batch.session_id}
    assert sampler.options.environment.job_tags == ["theirs"], "the user's options changed"
    # The user's batch is theirs to close.
    assert session_requests(api, "PATCH", batch.session_id) == 0
    batch.close()


def test_execution_mode_is_refused_where_it_cannot_apply(
    api: RuntimeStandIn, backend: object, manager: JobManager
) -> None:
    before = len(api.jobs)
    with pytest.raises(JobManagerInvalidInputError, match="execution_mode must be one of"):
        manager.run(basis_circuits(2), backend, shots=10, execution_mode="dedicated")
    sampler = SamplerV2(mode=backend)
    with pytest.raises(JobManagerInvalidInputError, match="already has its mode"):
        manager.run(basis_circuits(2), sampler, shots=10, execution_mode="batch")
    with pytest.raises(JobManagerInvalidInputError, match="IBM Quantum backends"):
        manager.run(basis_circuits(2), AerSimulator(), shots=10, execution_mode="batch")
    assert len(api.jobs) == before


def bell_on_far_qubits() -> list[QuantumCircuit]:
    """H and CX on qubits 0 and 4, which are not coupled on fake_manila (and H is no basis
    gate there): not ISA until transpiled. Either outcome of |00> + |11> appears."""
    circuit = QuantumCircuit(5, 2, name="bell_0_4")
    circuit.h(0)
    circuit.cx(0, 4)
    circuit.measure([0, 4], [0, 1])
    return [circuit, *basis_circuits(2)]


def test_non_isa_circuits_are_refused_before_anything_is_submitted(
    api: RuntimeStandIn, backend: object, manager: JobManager
) -> None:
    posts = sum(1 for r in api.requests if r.method == "POST")
    with pytest.raises(JobManagerInvalidInputError) as caught:
        manager.run(bell_on_far_qubits(), backend, shots=SHOTS)
    message = str(caught.value)
    assert "not ISA circuits for fake_manila" in message
    assert "experiment 0 ('bell_0_4')" in message
    assert "transpile=True" in message
    assert sum(1 for r in api.requests if r.method == "POST") == posts


def test_transpile_true_transpiles_each_job_and_keeps_the_users_circuits(
    api: RuntimeStandIn, backend: object, manager: JobManager
) -> None:
    circuits = bell_on_far_qubits()
    job_set = manager.run(circuits, backend, shots=SHOTS, transpile=True, max_experiments_per_job=1)
    results = job_set.results(timeout=90)
    bell = results.get_counts(0)
    assert set(bell) <= {"00", "11"}
    assert sum(bell.values()) == SHOTS
    assert results.get_counts(1) == {expected_key(0): SHOTS}
    assert results.get_counts(2) == {expected_key(1): SHOTS}
    assert results.get_counts("bell_0_4") == bell  # found by the user's circuit name


def test_ibm_caps_a_job_at_ten_million_executions(backend: object) -> None:
    assert RuntimeAdapter(backend).executions_per_job_limit() == 10_000_000
    chunks = plan_chunks([1] * 25, [1_000_000] * 25, 25, 10_000_000)
    assert [c.num_experiments for c in chunks] == [10, 10, 5]


def test_a_backend_ibm_does_not_know_is_described_in_words(api: RuntimeStandIn) -> None:
    with pytest.raises(Exception) as caught:  # noqa: PT011 - the client's own error type
        api.service().backend("ibm_nowhere")
    assert describe_exception(caught.value).startswith("IBM Quantum does not know this backend")


def test_a_job_deleted_on_ibm_while_it_runs_ends_lost_and_retry_runs_it_again(
    api: RuntimeStandIn, backend: object, manager: JobManager
) -> None:
    api.hold()
    job_set = manager.run(basis_circuits(4), backend, max_experiments_per_job=2, shots=SHOTS)
    queued = ChunkState.QUEUED

    def chunk_states() -> list[ChunkState]:
        return [c.state for c in job_set.managed_jobs()]

    assert wait_until(lambda: chunk_states() == [queued, queued], 20), job_set.report()
    gone = job_set.managed_jobs()[1].job_id
    api.delete_job(gone)
    assert wait_until(lambda: chunk_states()[1] is ChunkState.LOST, 20), job_set.report()
    assert f"job {gone} no longer exists on fake_manila" in (job_set.managed_jobs()[1].error or "")
    api.release()
    job_set.wait(timeout=60)
    assert job_set.retry_failed() == [1]
    results = job_set.results(timeout=60)
    assert [results.get_counts(i) for i in range(4)] == [{expected_key(i): SHOTS} for i in range(4)]


def test_update_tags_reaches_the_jobs_already_sent(
    api: RuntimeStandIn, backend: object, manager: JobManager
) -> None:
    job_set = manager.run(
        basis_circuits(4), backend, max_experiments_per_job=2, shots=SHOTS, job_tags=["a", "b"]
    )
    job_set.wait(timeout=60)
    assert job_set.update_tags(additional_tags=["late"], removal_tags=["a"]) == ["b", "late"]

    def server_tags() -> list[set[str]]:
        return [set(job.tags) for job in jobs_of(api, job_set.job_set_id())]

    assert wait_until(lambda: all("late" in tags for tags in server_tags()), 20), server_tags()
    for tags in server_tags():
        assert "a" not in tags
        assert {"b", f"qjm_jobset_{job_set.job_set_id()}", "qjm_plan_4_2_40_-"} <= tags
    assert all(c.note is None for c in job_set.managed_jobs())


def close_on_ibm(api: RuntimeStandIn, session_id: str) -> None:
    """Close a session on IBM's side only, as its expiry does: the client still thinks it open."""
    Batch.from_id(session_id, service=api.service()).close()


def test_a_batch_that_ends_on_ibm_mid_set_is_replaced_by_a_new_one(
    api: RuntimeStandIn, backend: object, manager: JobManager
) -> None:
    api.hold()
    job_set = manager.run(
        basis_circuits(4), backend, max_experiments_per_job=1, shots=SHOTS, max_concurrent_jobs=1
    )
    assert wait_until(lambda: len(jobs_of(api, job_set.job_set_id())) == 1, 20)
    (first,) = {j.session_id for j in jobs_of(api, job_set.job_set_id())}
    close_on_ibm(api, first)
    api.release()
    results = job_set.results(timeout=90)
    assert [results.get_counts(i) for i in range(4)] == [{expected_key(i): SHOTS} for i in range(4)]
    sessions = [j.session_id for j in jobs_of(api, job_set.job_set_id())]
    assert len(sessions) == 4, "a chunk was submitted twice or not at all"
    assert sessions.count(first) == 1
    assert len(set(sessions)) == 2, f"one new batch should carry the rest: {sessions}"
    assert job_set.managed_jobs()[1].attempts == 2


def test_a_users_closed_batch_fails_the_chunks_in_words(
    api: RuntimeStandIn, backend: object, manager: JobManager
) -> None:
    batch = Batch(backend=backend)
    batch.close()
    sampler = SamplerV2(mode=batch)
    job_set = manager.run(
        basis_circuits(2), sampler, shots=SHOTS, retry_policy=RetryPolicy(attempts=1)
    )
    job_set.wait(timeout=60)
    (chunk,) = job_set.managed_jobs()
    assert chunk.state is ChunkState.FAILED
    assert "batch or session the job was sent to is closed" in (chunk.error or ""), chunk.error


def test_chunks_held_back_by_the_pending_job_limit_go_as_soon_as_one_of_the_sets_jobs_ends(
    api: RuntimeStandIn, backend: object, manager: JobManager, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A back-off far longer than the whole set takes: only a freed slot can explain an early end.
    monkeypatch.setattr(runner, "_LIMIT_DELAY", (60.0, 60.0))
    api.max_pending = 1
    api.hold()  # the first job stays queued, so the others meet the limit

    def refused() -> list[object]:
        return [r for r in api.requests if r.method == "POST" and r.status == 409]

    try:
        job_set = manager.run(basis_circuits(3), backend, max_experiments_per_job=1, shots=SHOTS)
        assert wait_until(lambda: len(refused()) >= 1, 20), "no 3458 answer came"
        api.release()
        job_set.wait(timeout=40)  # a 60 s back-off would time this out
    finally:
        api.max_pending = None
        api.release()
    results = job_set.results()
    assert [results.get_counts(i) for i in range(3)] == [{expected_key(i): SHOTS} for i in range(3)]
    assert [c.attempts for c in job_set.managed_jobs()] == [1, 1, 1]
    # Submits start one at a time on IBM, so only the second met the limit, and it was learned.
    assert len(refused()) == 1, refused()


def test_a_rate_limited_status_read_is_tried_again_beyond_the_retry_budget(
    api: RuntimeStandIn, backend: object, manager: JobManager
) -> None:
    # 429 is not retried by the client; the job still runs, so the manager keeps asking. The
    # set reads its jobs' statuses with one listing of them (GET /jobs) per poll round.
    api.faults.http_error(status=429, count=3, method="GET", path="/api/v1/jobs")
    job_set = manager.run(
        basis_circuits(2),
        backend,
        shots=SHOTS,
        retry_policy=RetryPolicy(attempts=1, initial_delay=0.05, max_delay=0.2),
    )
    results = job_set.results(timeout=60)
    assert [results.get_counts(i) for i in range(2)] == [{expected_key(i): SHOTS} for i in range(2)]
    throttled = [r for r in api.requests if r.status == 429]
    assert len(throttled) == 3, throttled
    assert [c.attempts for c in job_set.managed_jobs()] == [1]
