"""Overhead of the job manager over a plain backend.run on AerSimulator.

2,000 five-qubit circuits x 1,000 shots, chunks of 100: wall(JobManager.run + results()) over
wall(backend.run + result()), in one process, alternating, median of 5 rounds. Target <= 1.05.
The manager keeps its SQLite store (a temporary file), as by default.
"""

from __future__ import annotations

import pathlib
import statistics
import tempfile
import time

from qiskit import QuantumCircuit
from qiskit_aer import AerSimulator

from qjm_widget import JobManager

NUM_CIRCUITS = 2000
NUM_QUBITS = 5
SHOTS = 1000
CHUNK = 100
ROUNDS = 5
TARGET = 1.05


def circuit(index: int) -> QuantumCircuit:
    """Basis state ``index mod 32``, then a Hadamard on one qubit: two outcomes per circuit."""
    qc = QuantumCircuit(NUM_QUBITS, NUM_QUBITS, name=f"c{index}")
    for qubit in range(NUM_QUBITS):
        if (index % 2**NUM_QUBITS) >> qubit & 1:
            qc.x(qubit)
    qc.h(index % NUM_QUBITS)
    qc.measure(range(NUM_QUBITS), range(NUM_QUBITS))
    return qc


def main() -> None:
    circuits = [circuit(i) for i in range(NUM_CIRCUITS)]
    backend = AerSimulator()
    manager = JobManager(store=pathlib.Path(tempfile.mkdtemp()) / "bench.sqlite3")
    backend.run(circuits[:10], shots=10).result()  # warm-up

    raw_times, managed_times = [], []
    for _ in range(ROUNDS):
        start = time.perf_counter()
        raw = backend.run(circuits, shots=SHOTS).result()
        raw_times.append(time.perf_counter() - start)

        start = time.perf_counter()
        managed = manager.run(circuits, backend, max_experiments_per_job=CHUNK, shots=SHOTS)
        results = managed.results()
        managed_times.append(time.perf_counter() - start)
        assert results.success
        assert len(raw.results) == NUM_CIRCUITS
        assert sum(results.get_counts(NUM_CIRCUITS - 1).values()) == SHOTS

    raw_median = statistics.median(raw_times)
    managed_median = statistics.median(managed_times)
    ratio = managed_median / raw_median
    print(f"overhead: {NUM_CIRCUITS} circuits x {SHOTS} shots, chunks of {CHUNK}, {ROUNDS} rounds")
    rounds = [round(t, 3) for t in raw_times]
    print(f"  raw backend.run + result:  median {raw_median:.3f} s  {rounds}")
    print(
        f"  JobManager.run + results:  median {managed_median:.3f} s  "
        f"{[round(t, 3) for t in managed_times]}"
    )
    print(f"  ratio {ratio:.3f} (target <= {TARGET}) {'OK' if ratio <= TARGET else 'MISSED'}")


if __name__ == "__main__":
    main()
