"""Headless demo: run a job set on Aer and print its report and merged counts.

Run with ``make demo-headless``. Forty basis-state circuits run in eight jobs; each job waits a
moment in a queue (an injected delay from qjm_widget.testing, so progress is visible) and one
job's first submission fails (an injected fault) and is retried automatically.
"""

from __future__ import annotations

import time

from qiskit import QuantumCircuit
from qiskit_aer import AerSimulator

from qjm_widget import JobManager, RetryPolicy
from qjm_widget.testing import FaultyBackend

NUM_QUBITS = 5


def basis_circuit(index: int) -> QuantumCircuit:
    """Prepare |index> and measure it: every shot reads ``index`` in binary."""
    circuit = QuantumCircuit(NUM_QUBITS, NUM_QUBITS, name=f"basis_{index}")
    for qubit in range(NUM_QUBITS):
        if index >> qubit & 1:
            circuit.x(qubit)
    circuit.measure(range(NUM_QUBITS), range(NUM_QUBITS))
    return circuit


def main() -> None:
    circuits = [basis_circuit(i) for i in range(40)]
    backend = FaultyBackend(AerSimulator(), hold_queued=0.5, fail_submit=1)
    job_set = JobManager().run(
        circuits,
        backend,
        name="demo",
        max_experiments_per_job=5,
        max_concurrent_jobs=4,
        retry_policy=RetryPolicy(initial_delay=0.2),
        shots=1000,
    )
    job_set.subscribe(
        lambda event: (
            print(f"  chunk {event.chunk_index}: {event.state}")
            if event.kind == "chunk" and event.state in ("done", "waiting", "error")
            else None
        )
    )
    started = time.monotonic()
    results = job_set.results(timeout=120)
    print(f"\nfinished in {time.monotonic() - started:.1f} s\n")
    print(job_set.report(detailed=False))
    print("\nmerged counts of experiment 7:", results.get_counts(7))
    aggregate = job_set.counts().aggregate
    print(
        f"aggregate over {len(circuits)} experiments: {len(aggregate)} outcomes, "
        f"{sum(aggregate.values())} shots"
    )


if __name__ == "__main__":
    main()
