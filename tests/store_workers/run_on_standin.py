"""Run one job set on the test's IBM runtime stand-in from a process of its own, then wait.

Usage: ``python run_on_standin.py STORE CIRCUITS_QPY STANDIN_JSON OPTIONS_JSON``.
``STANDIN_JSON`` holds the stand-in's ``url``, ``api_url``, ``instance`` and ``api_key``
(see standin_service.py). ``OPTIONS_JSON`` holds keyword arguments of ``JobManager.run``.
Prints the set's id, then stays alive, whatever the set's state, until its stdin closes or it
is killed.
"""

from __future__ import annotations

import json
import sys

from qiskit import qpy
from standin_service import service_from

from qjm_widget import JobManager


def main() -> None:
    store, circuits_path = sys.argv[1], sys.argv[2]
    standin, options = json.loads(sys.argv[3]), json.loads(sys.argv[4])
    with open(circuits_path, "rb") as file:
        circuits = qpy.load(file)
    service = service_from(standin)
    job_set = JobManager(store=store).run(circuits, service.backend("fake_manila"), **options)
    print(job_set.job_set_id(), flush=True)
    sys.stdin.read()


if __name__ == "__main__":
    main()
