"""Run one job set on FaultyBackend(AerSimulator()) into a store, print its id, then wait.

Usage: ``python run_and_wait.py STORE CIRCUITS_QPY OPTIONS_JSON``. ``OPTIONS_JSON`` holds
``hold_queued`` (for FaultyBackend) and keyword arguments of ``JobManager.run``. The process stays
alive, whatever the set's state, until its stdin closes or it is killed.
"""

from __future__ import annotations

import json
import sys

from qiskit import qpy
from qiskit_aer import AerSimulator

from qjm_widget import JobManager
from qjm_widget.testing import FaultyBackend


def main() -> None:
    store, circuits_path, options = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
    with open(circuits_path, "rb") as file:
        circuits = qpy.load(file)
    backend = FaultyBackend(AerSimulator(), hold_queued=options.pop("hold_queued", 0.0))
    job_set = JobManager(store=store).run(circuits, backend, **options)
    print(job_set.job_set_id(), flush=True)
    sys.stdin.read()


if __name__ == "__main__":
    main()
