"""Helpers of both test suites (qiskit 2.x in tests/, qiskit 1.4 in tests/qiskit1/): basis-state
circuits whose every shot is known, polling with a deadline, and the manager's threads.
Only qiskit and the standard library, so that either venv imports it."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from qiskit import QuantumCircuit

NUM_QUBITS = 3


def basis_circuit(index: int, num_qubits: int = NUM_QUBITS) -> QuantumCircuit:
    """Prepare |index mod 2**n> and measure every qubit: each shot reads that bitstring."""
    value = index % (2**num_qubits)
    circuit = QuantumCircuit(num_qubits, num_qubits, name=f"basis_{index}")
    for qubit in range(num_qubits):
        if value >> qubit & 1:
            circuit.x(qubit)
    circuit.measure(range(num_qubits), range(num_qubits))
    return circuit


def basis_circuits(count: int, num_qubits: int = NUM_QUBITS) -> list[QuantumCircuit]:
    return [basis_circuit(i, num_qubits) for i in range(count)]


def expected_key(index: int, num_qubits: int = NUM_QUBITS) -> str:
    return format(index % (2**num_qubits), f"0{num_qubits}b")


def qjm_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("qjm")]


def wait_until(condition: Callable[[], bool], timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.01)
    return condition()


def sweep_circuit(num_qubits: int = NUM_QUBITS, name: str = "sweep") -> QuantumCircuit:
    """rx(t_q) on every qubit, then measure: with each t_q in {0, pi} a point prepares a basis
    state, so every shot of every point is known."""
    from qiskit.circuit import Parameter

    circuit = QuantumCircuit(num_qubits, num_qubits, name=name)
    for qubit in range(num_qubits):
        circuit.rx(Parameter(f"t{qubit}"), qubit)
    circuit.measure(range(num_qubits), range(num_qubits))
    return circuit


def sweep_point(state: int, num_qubits: int = NUM_QUBITS) -> list[float]:
    """The values (in the circuit's parameter order t0, t1, ...) that prepare |state>."""
    import math

    return [math.pi * (state >> qubit & 1) for qubit in range(num_qubits)]


def sweep_binds(states: list[int], circuit: QuantumCircuit) -> dict[object, list[float]]:
    """``parameter_binds`` for ``circuit`` (from sweep_circuit) whose points prepare ``states``."""
    width = circuit.num_qubits
    return {
        parameter: [sweep_point(s, width)[q] for s in states]
        for q, parameter in enumerate(circuit.parameters)
    }
