"""Run several job sets at once into a store that another process writes too.

Usage: ``python run_sets.py STORE CIRCUITS_QPY PREFIX COUNT SHOTS``. Prints ``ready`` once its
JobManager has opened the store, waits for a line on stdin, then runs COUNT sets named
``PREFIX-k`` (tags PREFIX and shared, one chunk per circuit, a tag added while they run), prints
their ids as a JSON list once every result is in, and exits when stdin closes.
"""

from __future__ import annotations

import json
import sys

from qiskit import qpy
from qiskit_aer import AerSimulator

from qjm_widget import JobManager
from qjm_widget.testing import FaultyBackend


def main() -> None:
    store, circuits_path, prefix = sys.argv[1], sys.argv[2], sys.argv[3]
    count, shots = int(sys.argv[4]), int(sys.argv[5])
    with open(circuits_path, "rb") as file:
        circuits = qpy.load(file)
    manager = JobManager(store=store)
    print("ready", flush=True)
    sys.stdin.readline()
    job_sets = []
    for k in range(count):
        job_set = manager.run(
            circuits,
            FaultyBackend(AerSimulator(), hold_queued=0.02),
            name=f"{prefix}-{k}",
            job_tags=[prefix, "shared"],
            max_experiments_per_job=1,
            max_concurrent_jobs=4,
            shots=shots,
            seed_simulator=k,
        )
        job_set.update_tags(additional_tags=[f"{prefix}-tagged"])
        job_sets.append(job_set)
    for job_set in job_sets:
        job_set.results(timeout=120)
    print(json.dumps([s.job_set_id() for s in job_sets]), flush=True)
    sys.stdin.read()


if __name__ == "__main__":
    main()
