"""Run one job set on the stand-in's IBMBackend into a store, print its chunks' job ids, wait.

Usage: ``python run_on_provider.py AUTH_URL TOKEN STORE NUM PER_JOB SHOTS``. Prints the set's id
on one line, then its job ids (space-separated) once every chunk has one, then stays alive until
it is killed: a test kills it with SIGKILL to stand in for a crash.
"""

from __future__ import annotations

import sys
import time
import warnings

from qiskit import QuantumCircuit

from qjm_widget import JobManager


def main() -> None:
    url, token, store = sys.argv[1:4]
    num, per_job, shots = (int(a) for a in sys.argv[4:7])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        from qiskit_ibm_provider import IBMProvider

        backend = IBMProvider(token=token, url=url).get_backend("fake_manila")
    circuits = []
    for index in range(num):
        circuit = QuantumCircuit(3, 3, name=f"basis_{index}")
        for qubit in range(3):
            if (index % 8) >> qubit & 1:
                circuit.x(qubit)
        circuit.measure(range(3), range(3))
        circuits.append(circuit)
    manager = JobManager(store=store)
    job_set = manager.run(circuits, backend, max_experiments_per_job=per_job, shots=shots)
    print(job_set.job_set_id(), flush=True)
    # Print once the store (what a new process reads) has every chunk's job id.
    stored_ids: list[str | None] = []
    while not stored_ids or not all(stored_ids):
        time.sleep(0.01)
        stored = manager.store.load(job_set.job_set_id()) if manager.store else None
        stored_ids = [chunk.job_id for chunk in stored.chunks] if stored else []
    print(" ".join(str(job_id) for job_id in stored_ids), flush=True)
    while True:
        time.sleep(1)


if __name__ == "__main__":
    main()
