"""Every bad input is refused with a JobManagerError naming the problem, before any submission.

"Nothing was submitted" is proven on the backend itself: FaultyBackend / FaultySampler count
every ``run()`` call, refused ones included.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from conftest import basis_circuit, basis_circuits
from qiskit import QuantumCircuit
from qiskit.circuit import Parameter
from qiskit.primitives import StatevectorSampler
from qiskit.providers import Options
from qiskit_aer import AerSimulator
from qiskit_ibm_runtime.fake_provider import FakeManilaV2
from support import sweep_circuit

from qjm_widget import (
    JobManager,
    JobManagerError,
    JobManagerInvalidInputError,
    JobManagerJobNotFound,
    JobManagerUnknownJobSet,
    RetryPolicy,
)
from qjm_widget.testing import FaultyBackend, FaultySampler

NOT_POSITIVE_INTS = [0, -1, 1.5, True, "3"]


class Schedule:
    """Stands in for qiskit.pulse.Schedule, which Qiskit 2.x removed."""

    name = "pulse_schedule"


class BackendV1:
    """A BackendV1-like object: it has run(), but it is not a BackendV2."""

    def __init__(self) -> None:
        self.calls = 0

    def run(self, *args: Any, **kwargs: Any) -> None:
        self.calls += 1


class NoDefaultShotsBackend(FaultyBackend):
    """AerSimulator behind a backend whose options carry no ``shots``."""

    @property
    def options(self) -> Options:
        return Options()


def assert_refused(
    manager: JobManager,
    backend: FaultyBackend | FaultySampler,
    message: str,
    experiments: Any = None,
    **kwargs: Any,
) -> None:
    """run() raises JobManagerInvalidInputError containing ``message``; nothing was submitted."""
    experiments = basis_circuits(3) if experiments is None else experiments
    with pytest.raises(JobManagerInvalidInputError, match=re.escape(message)):
        manager.run(experiments, backend, **kwargs)
    assert backend.faults.submissions == 0
    assert manager.job_sets() == []


@pytest.fixture
def aer() -> FaultyBackend:
    return FaultyBackend(AerSimulator())


@pytest.fixture
def sampler() -> FaultySampler:
    return FaultySampler(StatevectorSampler())


def test_invalid_input_error_is_a_job_manager_error_and_a_value_error() -> None:
    assert issubclass(JobManagerInvalidInputError, JobManagerError)
    assert issubclass(JobManagerInvalidInputError, ValueError)


@pytest.mark.parametrize("empty", [[], ()])
def test_empty_experiments_are_refused(manager: JobManager, aer: FaultyBackend, empty: Any) -> None:
    assert_refused(manager, aer, "experiments is empty", experiments=empty)


@pytest.mark.parametrize(
    ("experiments", "message"),
    [
        (3, "experiments must be a QuantumCircuit, a PUB or a list of them, got int"),
        ("basis_0", "experiments must be a QuantumCircuit, a PUB or a list of them, got str"),
        ([*basis_circuits(4), 7], "experiment 4 is a int, not a QuantumCircuit"),
        ([basis_circuit(0), "basis_1"], "experiment 1 is a str, not a QuantumCircuit"),
    ],
)
def test_experiments_that_are_not_circuits_are_refused(
    manager: JobManager, aer: FaultyBackend, experiments: Any, message: str
) -> None:
    assert_refused(manager, aer, message, experiments=experiments)


def test_a_pulse_schedule_in_a_list_is_refused_saying_pulse_is_gone(
    manager: JobManager, aer: FaultyBackend
) -> None:
    experiments = [basis_circuit(0), Schedule()]
    assert_refused(
        manager, aer, "pulse schedules no longer exist in Qiskit 2.x", experiments=experiments
    )


def test_a_single_pulse_schedule_is_refused_saying_pulse_is_gone(
    manager: JobManager, aer: FaultyBackend
) -> None:
    """IBMQJobManager.run took a lone Schedule as well as a list (package bug: generic message)."""
    assert_refused(
        manager, aer, "pulse schedules no longer exist in Qiskit 2.x", experiments=Schedule()
    )


@pytest.mark.parametrize(
    "option", ["max_experiments_per_job", "max_shots_per_job", "max_executions_per_job"]
)
@pytest.mark.parametrize("value", NOT_POSITIVE_INTS)
def test_chunk_limits_must_be_positive_ints(
    manager: JobManager, aer: FaultyBackend, option: str, value: Any
) -> None:
    message = f"{option} must be a positive int, got {value!r}"
    assert_refused(manager, aer, message, shots=100, **{option: value})


@pytest.mark.parametrize("value", NOT_POSITIVE_INTS)
def test_max_concurrent_jobs_must_be_a_positive_int(
    manager: JobManager, aer: FaultyBackend, value: Any
) -> None:
    message = f"max_concurrent_jobs must be a positive int, got {value!r}"
    assert_refused(manager, aer, message, max_concurrent_jobs=value)


@pytest.mark.parametrize("level", ["public", "projects", 3])
def test_unknown_job_share_level_is_refused(
    manager: JobManager, aer: FaultyBackend, level: Any
) -> None:
    message = f"job_share_level must be one of global, hub, group, project, none, got {level!r}"
    assert_refused(manager, aer, message, job_share_level=level)


@pytest.mark.parametrize("level", ["global", "hub", "group", "project", "none", "Project"])
def test_every_valid_job_share_level_is_accepted_and_kept(manager: JobManager, level: str) -> None:
    job_set = manager.run(basis_circuits(2), AerSimulator(), job_share_level=level, shots=10)
    assert job_set.job_share_level == level.lower()
    assert job_set.results(timeout=30).success


@pytest.mark.parametrize(
    ("tags", "message"),
    [
        ("tag", "job_tags must be a list of strings, got str"),
        (["good", 3], "job_tags must hold only strings, got 3"),
        ({"tag"}, "job_tags must be a list of strings, got set"),
    ],
)
def test_job_tags_must_be_a_list_of_strings(
    manager: JobManager, aer: FaultyBackend, tags: Any, message: str
) -> None:
    assert_refused(manager, aer, message, job_tags=tags)


def test_name_and_retry_policy_of_the_wrong_type_are_refused(
    manager: JobManager, aer: FaultyBackend
) -> None:
    assert_refused(manager, aer, "name must be a string, got int", name=5)
    assert_refused(
        manager, aer, "retry_policy must be a RetryPolicy, got dict", retry_policy={"attempts": 2}
    )


@pytest.mark.parametrize(
    ("backend", "message"),
    [
        (object(), "backend must be a BackendV2 or a SamplerV2, got builtins.object"),
        ("aer_simulator", "backend must be a BackendV2 or a SamplerV2, got builtins.str"),
        (AerSimulator, "pass a qiskit BackendV2 (e.g. AerSimulator()) or a SamplerV2"),
    ],
)
def test_a_backend_that_is_neither_backendv2_nor_samplerv2_is_refused(
    manager: JobManager, backend: Any, message: str
) -> None:
    with pytest.raises(JobManagerInvalidInputError, match=re.escape(message)):
        manager.run(basis_circuits(2), backend)
    assert manager.job_sets() == []


def test_a_backendv1_is_refused_with_a_hint_and_never_run(manager: JobManager) -> None:
    backend = BackendV1()
    with pytest.raises(JobManagerInvalidInputError, match="BackendV1 is not supported") as info:
        manager.run(basis_circuits(2), backend, shots=10)
    assert "BackendV2Converter" in str(info.value)
    assert backend.calls == 0
    assert manager.job_sets() == []


def test_a_circuit_wider_than_the_backend_is_refused(manager: JobManager) -> None:
    manila = FaultyBackend(FakeManilaV2())
    wide = basis_circuit(9, num_qubits=6)
    message = "experiment 2 ('basis_9') has 6 qubits; faulty_fake_manila has 5"
    assert_refused(manager, manila, message, experiments=[*basis_circuits(2, 5), wide])


@pytest.mark.parametrize("kind", ["aer", "sampler"])
def test_unbound_parameters_are_refused(
    manager: JobManager, request: pytest.FixtureRequest, kind: str
) -> None:
    backend = request.getfixturevalue(kind)
    theta = Parameter("theta")
    circuit = basis_circuit(1)
    circuit.rx(theta, 0)
    message = "experiment 1 ('basis_1') has unbound parameters (theta)"
    assert_refused(manager, backend, message, experiments=[basis_circuit(0), circuit])
    for way in ("circuit.assign_parameters", "parameter_binds=", "as a PUB (circuit, values)"):
        assert_refused(manager, backend, way, experiments=[basis_circuit(0), circuit])


def _sweep() -> QuantumCircuit:
    return sweep_circuit(2)


SWEEP = _sweep()
T0, T1 = SWEEP.parameters
OTHER = Parameter("t0")  # the same name as the circuit's, another parameter


@pytest.mark.parametrize(
    ("binds", "message"),
    [
        ({T0: [0.0], T1: [0.0]}, "parameter_binds must be a list of dicts (one per circuit)"),
        ([{T0: [0.0], T1: [0.0]}] * 2, "parameter_binds has 2 entries for 1 experiments"),
        (["t0"], "parameter_binds[0] must be a dict of parameter -> list of values, got str"),
        ([{T0: [0.0], T1: [0.0], "phi": [1.0]}], "parameter_binds[0] names parameter 'phi'"),
        ([{OTHER: [0.0], T1: [0.0]}], "parameter_binds[0] names parameter 't0'"),
        ([{T0: [0.0]}], "parameter_binds[0] gives no values for parameter(s) t1"),
        ([{T0: [0.0, 1.0], T1: [0.0]}], "every parameter needs as many values as the others"),
        ([{T0: ["a"], T1: [0.0]}], "parameter values must be real numbers"),
        ([{T0: [1j], T1: [0.0]}], "parameter values must be real numbers"),
        ([{T0: [float("nan")], T1: [0.0]}], "parameter values must be finite numbers"),
        ([{T0: 0.5, T1: [0.0]}], "parameter_binds[0]['t0'] must be a list of values"),
        ([{T0: [[0.0]], T1: [[0.0]]}], "must be a flat list of values"),
        ([{T0: [], T1: []}], "parameter_binds[0]: the value lists are empty"),
    ],
)
@pytest.mark.parametrize("kind", ["aer", "sampler"])
def test_bad_parameter_binds_are_refused(
    manager: JobManager, request: pytest.FixtureRequest, kind: str, binds: Any, message: str
) -> None:
    backend = request.getfixturevalue(kind)
    assert_refused(manager, backend, message, experiments=[SWEEP], parameter_binds=binds)


@pytest.mark.parametrize(
    ("pub", "message"),
    [
        ((SWEEP, [[0.0, 1.0, 2.0]]), "the last axis of its values has length 3, but the circuit"),
        ((SWEEP, 0.5), "the last axis of its values has length 1"),
        ((SWEEP, [["a", "b"]]), "parameter values must be real numbers"),
        ((SWEEP, [[0.0, 0.0]], 0), "PUB shots must be a positive int, got 0"),
        ((SWEEP, [[0.0, 0.0]], -3), "PUB shots must be a positive int, got -3"),
        ((SWEEP, [[0.0, 0.0]], 2.5), "PUB shots must be a positive int, got 2.5"),
        ((SWEEP,), "has unbound parameters (t0, t1)"),
        (("circuit", [0.0]), "whose first item is not a QuantumCircuit"),
        ((), "whose first item is not a QuantumCircuit"),
        ((SWEEP, [[0.0, 0.0]], 10, "extra"), "is not a valid PUB"),
    ],
)
@pytest.mark.parametrize("kind", ["aer", "sampler"])
def test_bad_pubs_are_refused(
    manager: JobManager, request: pytest.FixtureRequest, kind: str, pub: Any, message: str
) -> None:
    backend = request.getfixturevalue(kind)
    assert_refused(manager, backend, message, experiments=[basis_circuit(0), pub])


def test_a_pub_with_parameter_binds_is_refused(manager: JobManager, aer: FaultyBackend) -> None:
    message = "experiment 0 is a PUB, which carries its own values"
    experiments = [(SWEEP, [[0.0, 0.0]])]
    assert_refused(manager, aer, message, experiments=experiments, parameter_binds=[{}])


@pytest.mark.parametrize("kind", ["aer", "sampler"])
def test_max_executions_per_job_below_one_points_shots_is_refused(
    manager: JobManager, request: pytest.FixtureRequest, kind: str
) -> None:
    backend = request.getfixturevalue(kind)
    message = "max_executions_per_job is 50, fewer than the 100 shots of one point of experiment 0"
    pub = (SWEEP, [[0.0, 0.0]] * 4)
    assert_refused(
        manager, backend, message, experiments=[pub], shots=100, max_executions_per_job=50
    )
    # A PUB's own shots count too, and max_shots_per_job is named as the way out.
    own = (SWEEP, [[0.0, 0.0]], 300)
    assert_refused(
        manager,
        backend,
        "max_shots_per_job=100",
        experiments=[own],
        shots=10,
        max_executions_per_job=100,
    )


def test_max_executions_per_job_needs_shots(manager: JobManager) -> None:
    backend = NoDefaultShotsBackend(AerSimulator())
    assert_refused(
        manager, backend, "max_executions_per_job needs shots", max_executions_per_job=100
    )


@pytest.mark.parametrize("shots", [0, -5, 2.5, True, "100"])
def test_shots_must_be_a_positive_int(
    manager: JobManager, aer: FaultyBackend, sampler: FaultySampler, shots: Any
) -> None:
    message = f"shots must be a positive int, got {shots!r}"
    assert_refused(manager, aer, message, shots=shots)
    assert_refused(manager, sampler, message, shots=shots)


def test_a_sampler_refuses_run_options_it_does_not_take(
    manager: JobManager, sampler: FaultySampler
) -> None:
    message = "FaultySampler does not take run option(s) seed_simulator; it takes memory, shots"
    assert_refused(manager, sampler, message, seed_simulator=1234)


def test_a_sampler_refuses_a_circuit_without_classical_register(
    manager: JobManager, sampler: FaultySampler
) -> None:
    unmeasured = QuantumCircuit(3, name="unmeasured")
    unmeasured.x(0)
    message = "experiment 3 ('unmeasured') has no classical register"
    assert_refused(manager, sampler, message, experiments=[*basis_circuits(3), unmeasured])


def test_max_shots_per_job_without_shots_is_refused_where_the_backend_has_no_default(
    manager: JobManager,
) -> None:
    backend = NoDefaultShotsBackend(AerSimulator())
    assert_refused(manager, backend, "max_shots_per_job needs shots", max_shots_per_job=10)
    job_set = manager.run(basis_circuits(2), backend, max_shots_per_job=10, shots=25)
    assert [chunk.shots for chunk in job_set.managed_jobs()] == [10, 10, 5]
    assert job_set.results(timeout=30).get_counts() == [{"000": 25}, {"001": 25}]


@pytest.mark.parametrize(
    ("backend", "default_shots"), [(AerSimulator, 1024), (StatevectorSampler, 1024)]
)
def test_max_shots_per_job_without_shots_splits_the_backend_default_shots(
    manager: JobManager, backend: Any, default_shots: int
) -> None:
    job_set = manager.run(basis_circuits(2), backend(), max_shots_per_job=300)
    assert [chunk.shots for chunk in job_set.managed_jobs()] == [300, 300, 300, 124]
    results = job_set.results(timeout=30)
    assert results.get_counts() == [{"000": default_shots}, {"001": default_shots}]


@pytest.fixture
def finished_set(manager: JobManager) -> Any:
    job_set = manager.run(basis_circuits(4), AerSimulator(), max_experiments_per_job=2, shots=10)
    job_set.wait(timeout=30)
    return job_set


@pytest.mark.parametrize("timeout", [-1, -0.5, True, "10"])
@pytest.mark.parametrize("method", ["wait", "results"])
def test_waiting_refuses_a_negative_or_non_numeric_timeout(
    finished_set: Any, method: str, timeout: Any
) -> None:
    message = f"timeout must be a number of seconds >= 0 or None, got {timeout!r}"
    with pytest.raises(JobManagerInvalidInputError, match=re.escape(message)):
        getattr(finished_set, method)(timeout=timeout)


@pytest.mark.parametrize("index", [2, 5, -1, "0", True, 1.0, None])
@pytest.mark.parametrize("method", ["cancel_job", "retry"])
def test_cancel_job_and_retry_refuse_a_chunk_index_that_does_not_exist(
    finished_set: Any, method: str, index: Any
) -> None:
    with pytest.raises(JobManagerJobNotFound, match="chunk index"):
        getattr(finished_set, method)(index)


def test_retrieve_job_set_of_an_unknown_id_raises_unknown_job_set(
    manager: JobManager, finished_set: Any
) -> None:
    with pytest.raises(JobManagerUnknownJobSet, match="no job set with id 'not-a-set'"):
        manager.retrieve_job_set("not-a-set")
    other = JobManager()
    with pytest.raises(JobManagerUnknownJobSet):
        other.retrieve_job_set(finished_set.job_set_id())


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("attempts", 0),
        ("attempts", -1),
        ("attempts", 1.5),
        ("attempts", True),
        ("attempts", "3"),
        ("initial_delay", -0.1),
        ("initial_delay", "1"),
        ("factor", -2),
        ("factor", True),
        ("max_delay", -1),
        ("max_delay", None),
    ],
)
def test_retry_policy_refuses_bad_values(field: str, value: Any) -> None:
    with pytest.raises(JobManagerInvalidInputError, match=f"RetryPolicy.{field} must be"):
        RetryPolicy(**{field: value})


def test_retry_policy_refuses_a_retry_on_that_is_not_callable() -> None:
    """Package bug: accepted, then the first failed submit leaves its chunk SUBMITTING forever."""
    with pytest.raises(JobManagerInvalidInputError, match="retry_on"):
        RetryPolicy(retry_on=None)  # type: ignore[arg-type]


@pytest.mark.parametrize("method", ["wait", "results"])
def test_waiting_refuses_a_nan_timeout(finished_set: Any, method: str) -> None:
    """Package bug: NaN passes ``timeout < 0``; on an unfinished set wait(nan) never times out."""
    with pytest.raises(JobManagerInvalidInputError, match="timeout must be a number"):
        getattr(finished_set, method)(timeout=float("nan"))


@pytest.mark.parametrize("field", ["initial_delay", "factor", "max_delay"])
def test_retry_policy_refuses_nan(field: str) -> None:
    """Package bug: NaN passes ``value < 0``; with max_delay=nan a chunk whose submit failed
    stays WAITING ("retrying in nan s") forever."""
    with pytest.raises(JobManagerInvalidInputError, match=f"RetryPolicy.{field} must be"):
        RetryPolicy(**{field: float("nan")})


@pytest.mark.parametrize("workers", [0, -1, 1.5, True, "4", None])
def test_job_manager_refuses_a_worker_count_that_is_not_a_positive_int(workers: Any) -> None:
    with pytest.raises(JobManagerInvalidInputError, match="max_workers must be a positive int"):
        JobManager(max_workers=workers)


def far_bell() -> QuantumCircuit:
    """H and CX between qubits 0 and 4: not in fake_manila's instruction set until transpiled."""
    circuit = QuantumCircuit(5, 2, name="far_bell")
    circuit.h(0)
    circuit.cx(0, 4)
    circuit.measure([0, 4], [0, 1])
    return circuit


def test_transpile_must_be_a_bool(manager: JobManager, aer: FaultyBackend) -> None:
    assert_refused(manager, aer, "transpile must be True or False, got str", transpile="yes")


def test_transpile_needs_a_backend_to_transpile_for(
    manager: JobManager, sampler: FaultySampler
) -> None:
    assert_refused(manager, sampler, "transpile=True needs a backend", transpile=True, shots=10)


def test_a_runtime_sampler_refuses_non_isa_circuits_up_front_or_transpiles_them(
    manager: JobManager,
) -> None:
    from qiskit_ibm_runtime import SamplerV2 as RuntimeSamplerV2

    local = RuntimeSamplerV2(mode=FakeManilaV2())
    with pytest.raises(JobManagerInvalidInputError, match=r"experiment 1 \('far_bell'\)"):
        manager.run([basis_circuit(1, 5), far_bell()], local, shots=10)
    assert manager.job_sets() == []
    job_set = manager.run([basis_circuit(1, 5), far_bell()], local, shots=64, transpile=True)
    results = job_set.results(timeout=60)
    assert sum(results.get_counts(1).values()) == 64
    assert max(results.get_counts(0), key=results.get_counts(0).get) == "00001"


def test_transpile_true_on_a_backend_v2_transpiles_each_job(manager: JobManager) -> None:
    job_set = manager.run([far_bell()], FakeManilaV2(), shots=64, transpile=True, seed_simulator=1)
    counts = job_set.results(timeout=60).get_counts(0)
    assert sum(counts.values()) == 64
    assert set(counts) <= {"00", "01", "10", "11"}
