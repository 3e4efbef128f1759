"""The core on qiskit 1.4 with no IBM package: Aer 0.16, BasicSimulator and StatevectorSampler."""

from __future__ import annotations

import os
import pathlib
import subprocess
import sys
from collections.abc import Callable
from typing import Any

import pytest
import qiskit
import qiskit_aer
from conftest import assert_exact, basis_circuits, expected_key
from qiskit.primitives import PrimitiveResult, StatevectorSampler
from qiskit.providers.basic_provider import BasicSimulator
from qiskit_aer import AerSimulator
from support import sweep_binds, sweep_circuit

from qjm_widget import JobManager

SHOTS = 40
BACKENDS: dict[str, Callable[[], Any]] = {
    "aer": AerSimulator,
    "basic": BasicSimulator,
    "statevector_sampler": StatevectorSampler,
}


def test_this_suite_runs_on_qiskit_1_4_with_aer_0_16() -> None:
    assert qiskit.__version__.startswith("1.4."), qiskit.__version__
    assert qiskit_aer.__version__ == "0.16.4", qiskit_aer.__version__


@pytest.mark.parametrize("name", list(BACKENDS))
def test_chunks_merge_into_exact_counts_per_experiment(name: str, manager: JobManager) -> None:
    job_set = manager.run(
        basis_circuits(10), BACKENDS[name](), max_experiments_per_job=3, shots=SHOTS
    )
    results = job_set.results(timeout=60)
    assert results.success, job_set.report()
    assert [(c.start_index, c.end_index) for c in job_set.managed_jobs()] == [
        (0, 2),
        (3, 5),
        (6, 8),
        (9, 9),
    ]
    for index in range(10):
        assert results.get_counts(index) == {expected_key(index): SHOTS}, name
    assert_exact(job_set, 10, SHOTS)
    combined = results.combine_results()
    if isinstance(combined, PrimitiveResult):  # a sampler's set: its PUB results
        counts = [pub.join_data().get_counts() for pub in combined]
    else:
        counts = [combined.get_counts(i) for i in range(len(combined.results))]
    assert counts == [{expected_key(i): SHOTS} for i in range(10)]
    assert isinstance(combined, PrimitiveResult) == (name == "statevector_sampler")


@pytest.mark.parametrize("name", list(BACKENDS))
def test_max_shots_per_job_splits_shots_and_merges_them_back(
    name: str, manager: JobManager
) -> None:
    job_set = manager.run(
        basis_circuits(4), BACKENDS[name](), max_experiments_per_job=2, shots=50,
        max_shots_per_job=20,
    )  # fmt: skip
    results = job_set.results(timeout=60)
    assert results.success, job_set.report()
    chunks = job_set.managed_jobs()
    assert sorted(c.shots for c in chunks) == [10, 10, 20, 20, 20, 20], job_set.report()
    for index in range(4):
        assert results.get_counts(index) == {expected_key(index): 50}, name


@pytest.mark.parametrize("name", ["aer", "statevector_sampler"])
def test_a_stored_set_comes_back_in_a_fresh_manager_with_the_same_counts(
    name: str, tmp_path: pathlib.Path
) -> None:
    store = tmp_path / "s.sqlite3"
    first = JobManager(store=store).run(
        basis_circuits(6), BACKENDS[name](), max_experiments_per_job=4, shots=SHOTS
    )
    assert first.results(timeout=60).success, first.report()
    again = JobManager(store=store).retrieve_job_set(first.job_set_id())
    assert again is not first
    results = again.results(timeout=10)
    for index in range(6):
        assert results.get_counts(index) == {expected_key(index): SHOTS}
    assert again.counts().per_experiment == first.counts().per_experiment


@pytest.mark.filterwarnings("error::DeprecationWarning:qjm_widget")
def test_no_deprecation_warning_from_the_core_on_qiskit_1_4(manager: JobManager) -> None:
    job_set = manager.run(basis_circuits(2), StatevectorSampler(), shots=SHOTS)
    assert job_set.results(timeout=60).success, job_set.report()


def test_importing_qjm_widget_needs_no_ibm_package() -> None:
    code = (
        "import sys, qjm_widget, qjm_widget.backends; "
        "loaded = sorted(m for m in sys.modules if m.startswith('qiskit_ibm')); "
        "assert not loaded, loaded"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


@pytest.mark.parametrize("name", list(BACKENDS))
def test_a_sweep_split_along_its_points_counts_each_point_on_qiskit_1_4(
    name: str, manager: JobManager
) -> None:
    states = [5, 2, 7, 0, 3]
    sweep = sweep_circuit()
    job_set = manager.run(
        [sweep, basis_circuits(2)[1]],
        BACKENDS[name](),
        shots=SHOTS,
        parameter_binds=[sweep_binds(states, sweep), {}],
        max_executions_per_job=2 * SHOTS,
    )
    results = job_set.results(timeout=60)
    assert results.success, job_set.report()
    assert [c.points for c in job_set.managed_jobs()] == [(0, 0, 1), (0, 2, 3), (0, 4, 4), None]
    assert [results.get_counts(0, p) for p in range(5)] == [
        {expected_key(s): SHOTS} for s in states
    ]
    assert results.get_counts(1) == {expected_key(1): SHOTS}
    if name == "statevector_sampler":
        assert results.pub_result(0).data.c.shape == (5,)
