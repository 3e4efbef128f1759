"""Sets run by a second process (run_gated.py) for tests/test_follow.py and tests/test_cli.py:
the test lets each job be submitted in turn, so that it never races the other process."""

from __future__ import annotations

import json
import pathlib
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from support import basis_circuits

from store_workers.support import Worker, chunk_states, wait_for, write_circuits

SHOTS = 64
PER_JOB = 2


class GatedRun:
    """A set of ``count`` basis-state circuits, ``PER_JOB`` per job, run one job at a time by
    another process on FaultyBackend(AerSimulator()); nothing is submitted until :meth:`go`."""

    def __init__(self, worker: Worker, job_set_id: str, store: pathlib.Path) -> None:
        self.worker = worker
        self.job_set_id = job_set_id
        self.store = store

    @property
    def pid(self) -> int:
        return self.worker.pid

    def go(self, jobs: int = 1) -> None:
        for _ in range(jobs):
            self.worker.send("go")

    def states(self) -> list[str]:
        return chunk_states(self.store, self.job_set_id)

    def wait_for_states(self, wanted: list[str], timeout: float = 120.0) -> None:
        wait_for(lambda: self.states() == wanted, f"stored states {wanted}", timeout)


@contextmanager
def gated_run(
    tmp_path: pathlib.Path, store: pathlib.Path, count: int = 6, **options: Any
) -> Iterator[GatedRun]:
    """The run, its first chunk stored as submitting (held at the gate); killed on leaving."""
    circuits = write_circuits(tmp_path / f"circuits-{count}.qpy", basis_circuits(count))
    settings = {
        "shots": SHOTS,
        "max_experiments_per_job": PER_JOB,
        "max_concurrent_jobs": 1,
        "hold_queued": 0.2,
        **options,
    }
    worker = Worker(
        "run_gated.py",
        store,
        circuits,
        json.dumps(settings),
        log=tmp_path / f"worker-{worker_number(tmp_path)}.log",
    )
    try:
        run = GatedRun(worker, worker.line(), store)
        if settings.get("gated", True):
            chunks = -(-count // PER_JOB)
            run.wait_for_states(["submitting"] + ["pending"] * (chunks - 1))
        yield run
    finally:
        worker.kill()


def worker_number(tmp_path: pathlib.Path) -> int:
    return len(list(tmp_path.glob("worker-*.log")))
