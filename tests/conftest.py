"""Shared fixtures: the six real backends the job manager supports, and a manager per test.
The basis-state circuits and waiting helpers live in support.py (the qiskit 1.4 suite uses them
too) and are re-exported here."""

from __future__ import annotations

import os
import pathlib
import tempfile
import warnings
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from qiskit import QuantumCircuit, transpile
from qiskit.primitives import StatevectorSampler
from qiskit.providers.basic_provider import BasicSimulator
from qiskit_aer import AerSimulator
from qiskit_aer.primitives import SamplerV2 as AerSamplerV2
from qiskit_ibm_runtime.fake_provider import FakeManilaV2
from store_workers.support import Worker
from support import (  # re-exported: tests import them from conftest
    NUM_QUBITS,
    basis_circuit,
    basis_circuits,
    expected_key,
    qjm_threads,
    wait_until,
)

from qjm_widget import JobManager
from qjm_widget.store import STORE_ENV_VAR

__all__ = [
    "NUM_QUBITS",
    "basis_circuit",
    "basis_circuits",
    "expected_key",
    "qjm_threads",
    "wait_until",
]


def _runtime_sampler() -> Any:
    from qiskit_ibm_runtime import SamplerV2 as RuntimeSamplerV2

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        return RuntimeSamplerV2(mode=FakeManilaV2())


# name -> (factory, exact): fake backends carry noise, so their counts are only mostly right.
BACKENDS: dict[str, tuple[Callable[[], Any], bool]] = {
    "aer": (AerSimulator, True),
    "basic": (BasicSimulator, True),
    "fake_manila": (FakeManilaV2, False),
    "statevector_sampler": (StatevectorSampler, True),
    "aer_sampler": (AerSamplerV2, True),
    "runtime_local_sampler": (_runtime_sampler, False),
}


class BackendCase:
    """One real backend, with the circuits it runs (ISA circuits for the fake device)."""

    def __init__(self, name: str) -> None:
        factory, exact = BACKENDS[name]
        self.name = name
        self.backend = factory()
        self.exact = exact
        self._isa_target = (
            FakeManilaV2() if name in ("fake_manila", "runtime_local_sampler") else None
        )

    def circuits(self, count: int, num_qubits: int = NUM_QUBITS) -> list[QuantumCircuit]:
        circuits = basis_circuits(count, num_qubits)
        if self._isa_target is not None:
            circuits = transpile(
                circuits, self._isa_target, optimization_level=0, seed_transpiler=1
            )
        return circuits

    def assert_counts(self, counts: dict[str, int], index: int, shots: int) -> None:
        """Every shot counted once; exact backends read only the basis state."""
        assert sum(counts.values()) == shots, f"{self.name}: experiment {index}: {counts}"
        key = expected_key(index)
        if self.exact:
            assert counts == {key: shots}, f"{self.name}: experiment {index}: {counts}"
        else:
            assert max(counts, key=counts.__getitem__) == key, f"{self.name}: {index}: {counts}"


@pytest.fixture(params=list(BACKENDS))
def case(request: pytest.FixtureRequest) -> BackendCase:
    return BackendCase(request.param)


# Tests, and the kernels and servers they start, never write to the user's own store.
_SESSION_STORE = tempfile.mkdtemp(prefix="qjm-test-store-")
os.environ[STORE_ENV_VAR] = os.path.join(_SESSION_STORE, "session.sqlite3")


@pytest.fixture
def manager(tmp_path: pathlib.Path) -> Iterator[JobManager]:
    """A JobManager with a store of its own, whose threads must all be gone once its job sets
    are final."""
    job_manager = JobManager(store=tmp_path / "store.sqlite3")
    yield job_manager
    for job_set in job_manager.job_sets():
        job_set.cancel()
        job_set.wait(timeout=60)
    assert wait_until(lambda: not qjm_threads(), timeout=5), f"threads left: {qjm_threads()}"


@pytest.fixture
def spawn(tmp_path: pathlib.Path) -> Iterator[Callable[..., Worker]]:
    """Start worker scripts; every one still running at the end is killed."""
    started: list[Worker] = []

    def start(script: str, *args: Any) -> Worker:
        started.append(Worker(script, *args, log=tmp_path / f"worker{len(started)}.log"))
        return started[-1]

    yield start
    for worker in started:
        worker.kill()
