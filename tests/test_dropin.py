"""What qiskit-ibmq-provider's own IBMQJobManager tests pinned, on real Qiskit 2.x backends."""

from __future__ import annotations

import datetime
from inspect import getfullargspec, isfunction
from typing import Any

import numpy as np
import pytest
from conftest import basis_circuits, wait_until
from qiskit import ClassicalRegister, QuantumCircuit, QuantumRegister
from qiskit.primitives import StatevectorSampler
from qiskit.providers import JobStatus
from qiskit.result import Result
from qiskit_aer import AerSimulator

import qjm_widget
from qjm_widget import ChunkState, JobManager, ManagedResults
from qjm_widget.testing import FaultyBackend

OLD_EXCEPTION_NAMES = {
    "IBMQJobManagerError": "JobManagerError",
    "IBMQJobManagerInvalidStateError": "JobManagerInvalidStateError",
    "IBMQJobManagerTimeoutError": "JobManagerTimeoutError",
    "IBMQJobManagerJobNotFound": "JobManagerJobNotFound",
    "IBMQManagedResultDataNotAvailable": "ManagedResultDataNotAvailable",
    "IBMQJobManagerUnknownJobSet": "JobManagerUnknownJobSet",
}


class FourPerJobBackend(FaultyBackend):
    """AerSimulator behind a BackendV2 that takes at most four circuits per job."""

    @property
    def max_circuits(self) -> int:
        return 4


def spans(job_set: Any) -> list[tuple[int, int]]:
    return [(chunk.start_index, chunk.end_index) for chunk in job_set.managed_jobs()]


def test_ibmq_job_manager_is_job_manager() -> None:
    from qjm_widget import IBMQJobManager

    assert IBMQJobManager is JobManager


@pytest.mark.parametrize(("old", "new"), sorted(OLD_EXCEPTION_NAMES.items()))
def test_old_exception_names_are_aliases_deriving_from_job_manager_error(
    old: str, new: str
) -> None:
    assert getattr(qjm_widget, old) is getattr(qjm_widget, new)
    assert issubclass(getattr(qjm_widget, old), qjm_widget.JobManagerError)


@pytest.mark.parametrize("bad", [{"job_share_level": "invalid_job_share_level"}, {"job_tags": "t"}])
def test_invalid_share_level_or_tags_raise_the_old_invalid_state_error(
    manager: JobManager, bad: dict[str, Any]
) -> None:
    """IBMQJobManager raised IBMQJobManagerInvalidStateError for these (its suite pinned it for
    the share level); code catching that name must still catch them (package bug)."""
    with pytest.raises(qjm_widget.IBMQJobManagerInvalidStateError):
        manager.run(basis_circuits(2), AerSimulator(), **bad)


def test_run_takes_ibmq_job_manager_positional_arguments(manager: JobManager) -> None:
    job_set = manager.run(basis_circuits(3), AerSimulator(), "positional", 2, "project", ["t"])
    assert (job_set.name(), job_set.tags(), job_set.job_share_level) == (
        "positional",
        ["t"],
        "project",
    )
    assert spans(job_set) == [(0, 1), (2, 2)]
    assert job_set.results(timeout=30).success


# -- chunking -------------------------------------------------------------------------------


def test_default_chunk_size_is_the_backends_max_circuits(manager: JobManager) -> None:
    job_set = manager.run(basis_circuits(10), FourPerJobBackend(AerSimulator()), shots=10)
    assert spans(job_set) == [(0, 3), (4, 7), (8, 9)]
    assert job_set.results(timeout=30).success
    assert job_set.statuses() == [JobStatus.DONE] * 3


def test_one_job_when_neither_backend_nor_caller_sets_a_limit(manager: JobManager) -> None:
    job_set = manager.run(basis_circuits(10), AerSimulator(), shots=10)
    assert spans(job_set) == [(0, 9)]
    assert len(job_set.jobs()) == 1


@pytest.mark.parametrize(
    ("per_job", "expected"),
    [
        (10, [(0, 3), (4, 7), (8, 9)]),
        (5, [(0, 3), (4, 7), (8, 9)]),
        (3, [(0, 2), (3, 5), (6, 8), (9, 9)]),
    ],
)
def test_max_experiments_per_job_is_capped_by_the_backends_limit(
    manager: JobManager, per_job: int, expected: list[tuple[int, int]]
) -> None:
    backend = FourPerJobBackend(AerSimulator())
    job_set = manager.run(basis_circuits(10), backend, max_experiments_per_job=per_job, shots=10)
    assert spans(job_set) == expected
    assert job_set.results(timeout=30).success
    assert backend.faults.submissions == len(expected)


# -- statuses, waiting, failures ------------------------------------------------------------


def test_a_chunk_not_yet_submitted_reports_initializing(manager: JobManager) -> None:
    backend = FaultyBackend(AerSimulator(), hold_queued=30)  # chunk 0 stays queued
    job_set = manager.run(
        basis_circuits(3), backend, max_experiments_per_job=1, max_concurrent_jobs=1, shots=10
    )
    assert wait_until(lambda: job_set.managed_jobs()[0].state is ChunkState.QUEUED)
    later = job_set.managed_jobs()[1:]
    assert [chunk.state for chunk in later] == [ChunkState.PENDING] * 2
    assert job_set.statuses()[1:] == [JobStatus.INITIALIZING] * 2
    assert job_set.jobs()[1:] == [None, None]
    assert backend.faults.submissions == 1
    job_set.cancel()
    job_set.wait(timeout=30)
    assert job_set.statuses() == [JobStatus.CANCELLED] * 3
    assert backend.faults.submissions == 1


def test_results_raise_only_on_timeout(manager: JobManager) -> None:
    backend = FaultyBackend(AerSimulator(), hold_queued=1.0)
    job_set = manager.run(basis_circuits(2), backend, shots=10)
    with pytest.raises(qjm_widget.IBMQJobManagerTimeoutError, match="unfinished chunks"):
        job_set.results(timeout=0.05)
    with pytest.raises(qjm_widget.JobManagerTimeoutError):
        job_set.results(timeout=0.01, partial=True)
    results = job_set.results(timeout=30)
    assert results.success
    assert job_set.error_messages() is None


def test_failed_and_cancelled_chunks_make_results_unsuccessful(manager: JobManager) -> None:
    backend = FaultyBackend(
        AerSimulator(),
        hold_queued=0.5,
        error_jobs=1,
        error_when=lambda circuits: circuits[0].name == "basis_0",
    )
    job_set = manager.run(
        basis_circuits(6), backend, max_experiments_per_job=2, max_concurrent_jobs=1, shots=10
    )
    job_set.cancel_job(2)  # still pending: chunks 0 and 1 take at least 1 s
    results = job_set.results(timeout=30)  # no exception: failures are reported, not raised
    assert not results.success
    assert job_set.statuses() == [JobStatus.ERROR, JobStatus.DONE, JobStatus.CANCELLED]
    for index in (0, 1):
        with pytest.raises(qjm_widget.IBMQManagedResultDataNotAvailable, match="chunk 0 is error"):
            results.get_counts(index)
    for index in (4, 5):
        with pytest.raises(qjm_widget.ManagedResultDataNotAvailable, match="chunk 2 is cancelled"):
            results.get_counts(index)
    assert results.get_counts(2) == {"010": 10}
    assert results.get_counts(3) == {"011": 10}
    messages = job_set.error_messages()
    assert messages is not None
    assert "chunk 0 (experiments 0-1" in messages
    assert "injected fault" in messages
    with pytest.raises(qjm_widget.ManagedResultDataNotAvailable, match="cannot combine"):
        results.combine_results()


def test_partial_results_return_the_good_experiments_of_a_job_with_failed_ones(
    manager: JobManager,
) -> None:
    backend = FaultyBackend(
        AerSimulator(), fail_experiments=1, fail_experiment_when=lambda c: c.name == "basis_1"
    )
    job_set = manager.run(basis_circuits(4), backend, max_experiments_per_job=2, shots=10)
    strict = job_set.results(timeout=30)
    partial = job_set.results(timeout=30, partial=True)
    assert not strict.success
    assert not partial.success
    with pytest.raises(qjm_widget.ManagedResultDataNotAvailable, match="partial=True"):
        strict.get_counts(0)
    assert partial.get_counts(0) == {"000": 10}
    for results in (strict, partial):
        with pytest.raises(qjm_widget.ManagedResultDataNotAvailable, match="experiment failed"):
            results.get_counts(1)
        assert results.get_counts(2) == {"010": 10}
    assert "experiment 1 failed" in (job_set.error_messages() or "")


# -- ManagedResults mirrors Result ----------------------------------------------------------


def test_managed_results_methods_take_the_same_arguments_as_result() -> None:
    def methods(cls: type) -> dict[str, Any]:
        return {n: f for n, f in vars(cls).items() if isfunction(f) and not n.startswith("_")}

    shared = methods(Result).keys() & methods(ManagedResults).keys()
    assert {"data", "get_counts", "get_memory", "get_statevector", "get_unitary"} <= shared
    for name in shared:
        ours = getfullargspec(methods(ManagedResults)[name])
        theirs = getfullargspec(methods(Result)[name]).args
        # Result's arguments in Result's order; ours may add optional ones after them (loc).
        assert ours.args[: len(theirs)] == theirs, name
        added = ours.args[len(theirs) :]
        assert added == ["loc"][: len(added)], name
        assert len(ours.defaults or ()) >= len(added), name


def test_counts_by_index_name_and_circuit_match_each_jobs_own_result(
    manager: JobManager,
) -> None:
    circuits = basis_circuits(10)
    job_set = manager.run(circuits, AerSimulator(), max_experiments_per_job=4, shots=20)
    results = job_set.results(timeout=30)
    assert results.success
    assert results.backend_name == "aer_simulator"
    jobs = job_set.jobs()
    for index in (0, 3, 4, 9):
        own = jobs[index // 4].result().get_counts(index % 4)
        assert results.get_counts(index) == own == {f"{index % 8:03b}": 20}
        assert results.get_counts(f"basis_{index}") == own
        assert results.get_counts(circuits[index]) == own
    assert results.get_counts() == [{f"{i % 8:03b}": 20} for i in range(10)]
    assert job_set.error_messages() is None


def test_get_counts_without_argument_on_a_single_experiment_returns_its_dict(
    manager: JobManager,
) -> None:
    results = manager.run(basis_circuits(1), AerSimulator(), shots=5).results(timeout=30)
    assert results.get_counts() == {"000": 5}


@pytest.mark.parametrize("experiment", [10, -1, "basis_99", 1.5])
def test_an_unknown_experiment_raises_job_not_found(manager: JobManager, experiment: Any) -> None:
    job_set = manager.run(basis_circuits(10), AerSimulator(), max_experiments_per_job=4, shots=5)
    results = job_set.results(timeout=30)
    with pytest.raises(qjm_widget.IBMQJobManagerJobNotFound):
        results.get_counts(experiment)
    with pytest.raises(qjm_widget.JobManagerJobNotFound):
        job_set.job(experiment)


def test_memory_and_data_as_on_result(manager: JobManager) -> None:
    results = manager.run(basis_circuits(3), AerSimulator(), shots=6, memory=True).results(30)
    assert results.get_memory(2) == ["010"] * 6
    assert results.get_memory("basis_1") == ["001"] * 6
    assert results.data(2) == {"counts": {"0x2": 6}, "memory": ["0x2"] * 6}


def test_statevector_and_unitary_match_a_plain_aer_run(manager: JobManager) -> None:
    bell = QuantumCircuit(2, name="bell")
    bell.h(0)
    bell.cx(0, 1)
    saved_state = bell.copy("bell_state")
    saved_state.save_statevector()
    saved_unitary = bell.copy("bell_unitary")
    saved_unitary.save_unitary()

    states = manager.run([saved_state], AerSimulator(), shots=1).results(timeout=30)
    plain_state = AerSimulator().run(saved_state, shots=1).result().get_statevector(0)
    assert np.allclose(np.asarray(states.get_statevector("bell_state")), np.asarray(plain_state))
    rounded = np.asarray(states.get_statevector(0, decimals=2))
    assert np.allclose(rounded, [0.71, 0, 0, 0.71])

    unitary_sim = AerSimulator(method="unitary")
    unitaries = manager.run([saved_unitary], unitary_sim).results(timeout=30)
    plain_unitary = AerSimulator(method="unitary").run(saved_unitary).result().get_unitary(0)
    assert np.allclose(np.asarray(unitaries.get_unitary(0)), np.asarray(plain_unitary))
    assert unitaries.backend_name == unitary_sim.name


def test_combine_results_is_a_qiskit_result_with_every_experiment(manager: JobManager) -> None:
    job_set = manager.run(basis_circuits(7), AerSimulator(), max_experiments_per_job=3, shots=9)
    results = job_set.results(timeout=30)
    combined = results.combine_results()
    assert isinstance(combined, Result)
    assert combined.success
    assert len(combined.results) == 7
    for index in range(7):
        assert combined.get_counts(index) == results.get_counts(index)
    assert combined.get_counts("basis_5") == {"101": 9}


def test_counts_of_several_registers_are_space_separated_like_qiskit(
    manager: JobManager,
) -> None:
    qubits = QuantumRegister(4)
    first, second, third = (
        ClassicalRegister(1, "a"),
        ClassicalRegister(2, "b"),
        ClassicalRegister(1, "c"),
    )
    circuit = QuantumCircuit(qubits, first, second, third, name="registers")
    circuit.x([0, 2])
    circuit.measure([0, 1, 2, 3], [first[0], second[0], second[1], third[0]])
    qiskit_counts = AerSimulator().run(circuit, shots=8).result().get_counts()
    assert qiskit_counts == {"0 10 1": 8}

    backend_results = manager.run([circuit], AerSimulator(), shots=8, memory=True).results(30)
    sampler_results = manager.run([circuit], StatevectorSampler(), shots=8, memory=True).results(30)
    assert backend_results.get_counts(0) == sampler_results.get_counts(0) == qiskit_counts
    assert backend_results.get_memory(0) == sampler_results.get_memory(0) == ["0 10 1"] * 8


# -- the job set's identity -----------------------------------------------------------------


def test_update_tags_replaces_then_adds_then_removes(manager: JobManager) -> None:
    job_set = manager.run(basis_circuits(2), AerSimulator(), job_tags=["a", "b"], shots=5)
    assert job_set.update_tags(additional_tags=["c", "a"]) == ["a", "b", "c"]
    assert job_set.update_tags(removal_tags=["b", "missing"]) == ["a", "c"]
    updated = job_set.update_tags(
        replacement_tags=["x", "y"], additional_tags=["z", "y"], removal_tags=["x", "z"]
    )
    assert updated == ["y"]  # z was added, then removed: removal comes last
    assert job_set.tags() == ["y"]
    assert job_set.update_tags(replacement_tags=[]) == []
    with pytest.raises(qjm_widget.IBMQJobManagerInvalidStateError, match="update_tags needs"):
        job_set.update_tags()
    job_set.results(timeout=30)


def test_tags_returns_a_copy(manager: JobManager) -> None:
    job_set = manager.run(basis_circuits(2), AerSimulator(), job_tags=["keep"], shots=5)
    job_set.tags().append("intruder")
    assert job_set.tags() == ["keep"]
    job_set.results(timeout=30)


def test_names_ids_and_lookup_of_job_sets(manager: JobManager) -> None:
    unnamed = manager.run(basis_circuits(1), AerSimulator(), shots=5)
    created = datetime.datetime.fromisoformat(unnamed.name())
    assert abs(datetime.datetime.now(datetime.timezone.utc) - created).total_seconds() < 60
    first = manager.run(basis_circuits(2), AerSimulator(), name="sweep", shots=5)
    second = manager.run(basis_circuits(2), AerSimulator(), name="sweep", shots=5)
    other = manager.run(basis_circuits(2), AerSimulator(), name="other", shots=5)
    ids = [s.job_set_id() for s in (unnamed, first, second, other)]
    assert len(set(ids)) == 4
    assert manager.job_sets(name="sweep") == [second, first]  # newest first
    assert manager.job_sets(name="nothing") == []
    assert manager.job_sets() == [other, second, first, unnamed]
    assert manager.retrieve_job_set(first.job_set_id()) is first
    assert other.update_name("renamed") == "renamed"
    assert other.name() == "renamed"
    assert manager.job_sets(name="renamed") == [other]
    for job_set in manager.job_sets():
        job_set.wait(timeout=30)


def test_retrieve_job_set_accepts_the_old_provider_argument(manager: JobManager) -> None:
    """IBMQJobManager.retrieve_job_set(job_set_id, provider): old calls pass a provider
    (package bug: TypeError, the parameter does not exist)."""
    job_set = manager.run(basis_circuits(1), AerSimulator(), shots=5)
    job_set.wait(timeout=30)
    assert manager.retrieve_job_set(job_set_id=job_set.job_set_id(), provider=None) is job_set


def test_reports_cover_every_set_and_each_chunk_in_detail(manager: JobManager) -> None:
    assert manager.report() == "No job sets."
    first = manager.run(basis_circuits(4), AerSimulator(), "first", 2, shots=5)
    second = manager.run(basis_circuits(1), AerSimulator(), "second", shots=5)
    first.results(timeout=30)
    second.results(timeout=30)

    summary = first.report(detailed=False)
    assert "Job set name: first" in summary
    assert first.job_set_id() in summary
    assert "Total jobs: 2" in summary
    assert "Successful jobs: 2" in summary
    assert "Failed jobs: 0" in summary
    assert "Detail report" not in summary
    assert not any(job.job_id() in summary for job in first.jobs())

    detailed = first.report(detailed=True)
    assert detailed.startswith(summary)
    assert "Detail report:" in detailed
    assert "experiments: 0-1" in detailed
    assert "experiments: 2-3" in detailed
    assert all(job.job_id() in detailed for job in first.jobs())

    everything = manager.report(detailed=True)
    for job_set in (first, second):
        assert job_set.report(detailed=True) in everything
        assert all(job.job_id() in everything for job in job_set.jobs())
    assert second.report(detailed=False) in manager.report(detailed=False)


def test_job_of_an_experiment_is_its_job_and_index_in_that_job(manager: JobManager) -> None:
    circuits = basis_circuits(10)
    job_set = manager.run(circuits, AerSimulator(), max_experiments_per_job=4, shots=5)
    job_set.results(timeout=30)
    jobs = job_set.jobs()
    assert job_set.job(0) == (jobs[0], 0)
    assert job_set.job(5) == (jobs[1], 1)
    assert job_set.job("basis_9") == (jobs[2], 1)
    assert job_set.job(circuits[7]) == (jobs[1], 3)
    job, index = job_set.job(6)
    assert job.result().get_counts(index) == {"110": 5}


def test_job_of_each_experiment_is_the_first_chunk_that_ran_it(manager: JobManager) -> None:
    # Experiments 0-2 in one job each, and 3-5 with their shots split across several jobs.
    whole = manager.run(basis_circuits(7), AerSimulator(), max_experiments_per_job=3, shots=5)
    split = manager.run(
        basis_circuits(3), AerSimulator(), max_experiments_per_job=2, max_shots_per_job=4, shots=10
    )
    for job_set, count in ((whole, 7), (split, 3)):
        job_set.results(timeout=30)
        chunks = job_set.managed_jobs()
        for i in range(count):
            first = next(c for c in chunks if c.start_index <= i <= c.end_index)
            assert job_set.job(i) == (first.job, i - first.start_index), (count, i)
    assert len(split.managed_jobs()) > 3  # the shots were split
