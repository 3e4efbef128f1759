"""The fault-injecting wrappers of qjm_widget.testing, used directly (no job manager)."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from conftest import basis_circuit, basis_circuits, expected_key, wait_until
from qiskit.primitives import StatevectorSampler
from qiskit.providers import JobError, JobStatus, JobTimeoutError
from qiskit.providers.basic_provider import BasicSimulator
from qiskit_aer import AerSimulator
from qiskit_aer.primitives import SamplerV2 as AerSamplerV2
from qiskit_ibm_runtime.fake_provider import FakeManilaV2

from qjm_widget.backends.ibm_errors import PENDING_JOB_LIMIT_CODE, is_pending_job_limit
from qjm_widget.testing import (
    FaultyBackend,
    FaultyJob,
    FaultySampler,
    InjectedJobError,
    InjectedResultError,
    InjectedSubmitError,
    PendingJobLimitError,
)

SHOTS = 16


def finished(job: Any) -> Any:
    """The job's status once it is final (a held or running job is polled until then)."""
    final = (JobStatus.DONE, JobStatus.ERROR, JobStatus.CANCELLED)
    assert wait_until(lambda: job.status() in final), job.status()
    return job.status()


def sampler_counts(result: Any, index: int = 0) -> dict[str, int]:
    return dict(result[index].join_data().get_counts())


def wrapper(kind: str, **faults: Any) -> Any:
    if kind == "sampler":
        return FaultySampler(StatevectorSampler(), **faults)
    return FaultyBackend(AerSimulator(), **faults)


def run_one(wrapped: Any, index: int) -> Any:
    """Run basis circuit ``index`` alone, on a FaultyBackend or a FaultySampler."""
    if isinstance(wrapped, FaultySampler):
        return wrapped.run([(basis_circuit(index),)], shots=SHOTS)
    return wrapped.run([basis_circuit(index)], shots=SHOTS)


def counts_of(job: Any) -> dict[str, int]:
    result = job.result()
    return result.get_counts() if hasattr(result, "get_counts") else sampler_counts(result)


# -- delegation ---------------------------------------------------------------------------


@pytest.mark.parametrize("factory", [FakeManilaV2, BasicSimulator])
def test_faulty_backend_delegates_target_and_limits_to_the_real_backend(factory: Any) -> None:
    real = factory()
    faulty = FaultyBackend(real)
    assert faulty.target is real.target
    assert faulty.num_qubits == real.num_qubits
    assert faulty.max_circuits == real.max_circuits
    assert faulty.options is real.options
    assert faulty.name == f"faulty_{real.name}"
    assert faulty.inner is real


def test_faulty_backend_follows_aer_options_and_target() -> None:
    real = AerSimulator()
    faulty = FaultyBackend(real)
    assert faulty.num_qubits == real.num_qubits
    assert faulty.max_circuits == real.max_circuits
    assert set(faulty.target.operation_names) == set(real.target.operation_names)
    real.set_options(shots=77)
    assert faulty.options.shots == 77


def test_faulty_sampler_delegates_default_shots_and_mode() -> None:
    assert FaultySampler(StatevectorSampler(default_shots=123)).default_shots == 123
    assert FaultySampler(StatevectorSampler()).mode is None
    aer = AerSamplerV2()
    assert FaultySampler(aer).mode is aer._backend
    assert FaultySampler(aer).default_shots == aer.default_shots


def test_job_without_faults_runs_on_the_real_backend() -> None:
    job = FaultyBackend(AerSimulator()).run(basis_circuits(3), shots=SHOTS)
    assert finished(job) is JobStatus.DONE
    assert job.result().get_counts() == [{expected_key(i): SHOTS} for i in range(3)]
    assert job.inner_job is not None
    assert job.error_message() is None
    assert job.job_id().startswith("faulty-")
    with pytest.raises(NotImplementedError):
        job.submit()


# -- hold_queued and cancel ---------------------------------------------------------------


@pytest.mark.parametrize("kind", ["backend", "sampler"])
def test_held_job_reports_queued_then_done(kind: str) -> None:
    job = run_one(wrapper(kind, hold_queued=0.3), 5)
    assert job.status() is JobStatus.QUEUED
    assert job.inner_job is None, "the real job must not start while held"
    assert finished(job) is JobStatus.DONE
    assert counts_of(job) == {expected_key(5): SHOTS}


@pytest.mark.parametrize("kind", ["backend", "sampler"])
def test_result_of_a_held_job_times_out_as_a_timeout_then_runs_once_released(kind: str) -> None:
    release = threading.Event()
    job = run_one(wrapper(kind, release=release), 3)
    with pytest.raises(JobTimeoutError, match=r"still queued after 0\.2 s"):
        job.result(timeout=0.2)
    assert job.status() is JobStatus.QUEUED
    assert job.inner_job is None
    release.set()
    assert counts_of(job) == {expected_key(3): SHOTS}


@pytest.mark.parametrize("kind", ["backend", "sampler"])
def test_cancel_while_held_returns_true_and_never_starts_the_real_job(kind: str) -> None:
    job = run_one(wrapper(kind, hold_queued=0.3), 2)
    assert job.cancel() is True
    assert job.status() is JobStatus.CANCELLED
    with pytest.raises(JobError, match="cancelled"):
        job.result()
    assert job.status() is JobStatus.CANCELLED, "still cancelled after the hold ran out"
    assert job.inner_job is None


# -- counted faults fire exactly N times ----------------------------------------------------


def test_fail_submit_refuses_exactly_the_first_n_runs() -> None:
    backend = FaultyBackend(AerSimulator(), fail_submit=2)
    for _ in range(2):
        with pytest.raises(InjectedSubmitError, match="injected fault"):
            backend.run(basis_circuits(1), shots=SHOTS)
    jobs = [backend.run(basis_circuits(1), shots=SHOTS) for _ in range(3)]
    assert [finished(job) for job in jobs] == [JobStatus.DONE] * 3
    assert backend.faults.submissions == 5


def test_pending_limit_refuses_the_first_n_runs_with_code_3458() -> None:
    sampler = FaultySampler(StatevectorSampler(), pending_limit=2)
    for _ in range(2):
        with pytest.raises(PendingJobLimitError) as caught:
            sampler.run([(basis_circuit(0),)], shots=SHOTS)
        assert caught.value.code == PENDING_JOB_LIMIT_CODE == 3458
        assert "injected fault" in str(caught.value)
        assert is_pending_job_limit(caught.value)
    assert finished(sampler.run([(basis_circuit(0),)], shots=SHOTS)) is JobStatus.DONE


def test_pending_limit_comes_before_fail_submit_and_both_are_counted() -> None:
    backend = FaultyBackend(BasicSimulator(), pending_limit=1, fail_submit=1)
    with pytest.raises(PendingJobLimitError):
        backend.run(basis_circuits(1), shots=SHOTS)
    with pytest.raises(InjectedSubmitError):
        backend.run(basis_circuits(1), shots=SHOTS)
    assert finished(backend.run(basis_circuits(1), shots=SHOTS)) is JobStatus.DONE


@pytest.mark.parametrize("kind", ["backend", "sampler"])
def test_error_jobs_end_only_the_first_n_matching_jobs_in_error(kind: str) -> None:
    wrapped = wrapper(kind, error_jobs=1, error_when=lambda cs: cs[0].name == "basis_2")
    other = run_one(wrapped, 1)  # does not match: runs, and does not use up the fault
    failing = run_one(wrapped, 2)
    again = run_one(wrapped, 2)
    assert [finished(job) for job in (other, failing, again)] == [
        JobStatus.DONE,
        JobStatus.ERROR,
        JobStatus.DONE,
    ]
    assert failing.error_message() == "injected fault: the job ended in ERROR"
    with pytest.raises(InjectedJobError, match="injected fault"):
        failing.result()
    assert failing.inner_job is None, "a job that ends in ERROR never reaches the backend"
    assert again.error_message() is None
    assert counts_of(again) == {expected_key(2): SHOTS}


def test_error_jobs_without_predicate_hit_any_job() -> None:
    backend = FaultyBackend(AerSimulator(), error_jobs=2)
    jobs = [backend.run(basis_circuits(1), shots=SHOTS) for _ in range(3)]
    assert [finished(job) for job in jobs] == [JobStatus.ERROR] * 2 + [JobStatus.DONE]


def test_fail_result_raises_on_exactly_the_first_n_result_calls() -> None:
    backend = FaultyBackend(AerSimulator(), fail_result=2)
    job = backend.run(basis_circuits(2), shots=SHOTS)
    for _ in range(2):
        with pytest.raises(InjectedResultError, match="injected fault"):
            job.result()
    assert job.result().get_counts() == [{expected_key(i): SHOTS} for i in range(2)]
    second = backend.run(basis_circuits(1), shots=SHOTS)
    assert second.result().get_counts() == {expected_key(0): SHOTS}


def test_sampler_fail_result_is_transient() -> None:
    sampler = FaultySampler(AerSamplerV2(), fail_result=1)
    job = sampler.run([(basis_circuit(3),)], shots=SHOTS)
    with pytest.raises(InjectedResultError):
        job.result()
    assert sampler_counts(job.result()) == {expected_key(3): SHOTS}


def test_fail_experiments_fails_only_matching_experiments_of_the_first_n_jobs() -> None:
    when = lambda circuit: circuit.name == "basis_1"  # noqa: E731
    backend = FaultyBackend(AerSimulator(), fail_experiments=1, fail_experiment_when=when)
    clean = backend.run([basis_circuit(0)], shots=SHOTS)  # no match: the fault is not used up
    assert clean.result().results[0].success
    first = backend.run(basis_circuits(3), shots=SHOTS)
    assert finished(first) is JobStatus.DONE
    result = first.result()
    assert [r.success for r in result.results] == [True, False, True]
    assert result.results[1].status == "injected fault: this experiment failed"
    assert result.results[1].data.counts is None
    assert result.get_counts(2) == {expected_key(2): SHOTS}
    second = backend.run(basis_circuits(3), shots=SHOTS)
    assert second.result().get_counts() == [{expected_key(i): SHOTS} for i in range(3)]


def test_each_wrapper_has_its_own_fault_counters() -> None:
    first = FaultyBackend(AerSimulator(), fail_submit=1)
    second = FaultyBackend(AerSimulator(), fail_submit=1)
    with pytest.raises(InjectedSubmitError):
        first.run(basis_circuits(1))
    with pytest.raises(InjectedSubmitError):
        second.run(basis_circuits(1))
    assert isinstance(first.run(basis_circuits(1)), FaultyJob)


# -- invalid arguments --------------------------------------------------------------------

INVALID = [
    ("fail_submit", -1),
    ("pending_limit", 1.5),
    ("error_jobs", True),
    ("fail_result", "1"),
    ("fail_submit", None),
    ("hold_queued", -0.1),
]


@pytest.mark.parametrize(("name", "value"), INVALID)
def test_invalid_fault_arguments_raise_value_error(name: str, value: Any) -> None:
    with pytest.raises(ValueError, match=name):
        FaultyBackend(AerSimulator(), **{name: value})
    with pytest.raises(ValueError, match=name):
        FaultySampler(StatevectorSampler(), **{name: value})


@pytest.mark.parametrize("count", [-1, 2.0, False])
def test_invalid_fail_experiments_raises_value_error(count: Any) -> None:
    with pytest.raises(ValueError, match="fail_experiments"):
        FaultyBackend(AerSimulator(), fail_experiments=count, fail_experiment_when=bool)
