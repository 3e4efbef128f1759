"""Run one job set on FaultyBackend(AerSimulator()) into a store, one job per line of stdin.

Usage: ``python run_gated.py STORE CIRCUITS_QPY OPTIONS_JSON``. ``OPTIONS_JSON`` holds
``hold_queued`` and ``error_circuit`` (the name of a circuit whose job ends in ERROR) for
FaultyBackend, ``gated`` (default true) and keyword arguments of ``JobManager.run``. The id is
printed first. While gated, each ``go`` line on stdin lets one more job be submitted, so that a
test moves the set on step by step instead of racing it. The process stays alive, whatever the
set's state, until its stdin closes or it is killed.
"""

from __future__ import annotations

import json
import sys
import threading
from typing import Any

from qiskit import qpy
from qiskit_aer import AerSimulator

from qjm_widget import JobManager
from qjm_widget.testing import FaultyBackend


def main() -> None:
    store, circuits_path, options = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
    with open(circuits_path, "rb") as file:
        circuits = qpy.load(file)
    error_circuit = options.pop("error_circuit", None)
    backend = FaultyBackend(
        AerSimulator(),
        hold_queued=options.pop("hold_queued", 0.0),
        error_jobs=0 if error_circuit is None else 1,
        error_when=lambda batch: any(c.name == error_circuit for c in batch),
    )
    released = threading.Semaphore(0)
    ended = threading.Event()
    if options.pop("gated", True):
        run = backend.run

        def gated_run(run_input: Any, **run_options: Any) -> Any:
            released.acquire()
            return run(run_input, **run_options)

        backend.run = gated_run  # type: ignore[method-assign]

    def read_stdin() -> None:
        for line in sys.stdin:
            if line.strip() == "go":
                released.release()
        ended.set()
        for _ in circuits:  # let a gated submit still waiting go, so the process can exit
            released.release()

    threading.Thread(target=read_stdin, daemon=True).start()
    job_set = JobManager(store=store).run(circuits, backend, **options)
    print(job_set.job_set_id(), flush=True)
    ended.wait()


if __name__ == "__main__":
    main()
