"""Latency-bound sets: jobs that sit in a queue for 1 s each.

40 chunks on a backend whose jobs stay queued 1 s (qjm_widget.testing.FaultyBackend around
AerSimulator), max_concurrent_jobs=8: the ideal is 5 waves of 1 s. Prints wall / 5 s (target
<= 1.15) and the speed-up over a serial submit-then-collect loop (target >= 6x).
"""

from __future__ import annotations

import time

from qiskit import QuantumCircuit
from qiskit_aer import AerSimulator

from qjm_widget import JobManager
from qjm_widget.testing import FaultyBackend

NUM_CHUNKS = 40
PER_CHUNK = 5
HOLD = 1.0
CONCURRENT = 8
IDEAL = NUM_CHUNKS / CONCURRENT * HOLD


def circuit(index: int) -> QuantumCircuit:
    qc = QuantumCircuit(3, 3, name=f"c{index}")
    for qubit in range(3):
        if (index % 8) >> qubit & 1:
            qc.x(qubit)
    qc.measure(range(3), range(3))
    return qc


def main() -> None:
    circuits = [circuit(i) for i in range(NUM_CHUNKS * PER_CHUNK)]
    backend = FaultyBackend(AerSimulator(), hold_queued=HOLD)

    start = time.perf_counter()
    job_set = JobManager(store=None).run(
        circuits,
        backend,
        max_experiments_per_job=PER_CHUNK,
        max_concurrent_jobs=CONCURRENT,
        shots=100,
    )
    results = job_set.results()
    managed = time.perf_counter() - start
    assert results.success
    assert len(job_set.managed_jobs()) == NUM_CHUNKS

    start = time.perf_counter()
    for first in range(0, len(circuits), PER_CHUNK):
        backend.run(circuits[first : first + PER_CHUNK], shots=100).result()
    serial = time.perf_counter() - start

    ratio = managed / IDEAL
    speedup = serial / managed
    print(f"latency: {NUM_CHUNKS} chunks queued {HOLD} s each, max_concurrent_jobs={CONCURRENT}")
    print(
        f"  job manager {managed:.2f} s; ideal {IDEAL:.1f} s; ratio {ratio:.3f} "
        f"(target <= 1.15) {'OK' if ratio <= 1.15 else 'MISSED'}"
    )
    print(
        f"  serial submit-then-collect {serial:.2f} s; speed-up {speedup:.1f}x "
        f"(target >= 6x) {'OK' if speedup >= 6 else 'MISSED'}"
    )


if __name__ == "__main__":
    main()
