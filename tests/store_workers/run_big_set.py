"""Run one big set of basis circuits on BasicSimulator into a store, for tests/test_big_sets.py.

Usage: ``python run_big_set.py STORE OPTIONS_JSON``. ``OPTIONS_JSON`` holds ``num`` and ``qubits``
(the circuits: support.basis_circuits), ``slow_every`` (k: the jobs of chunks 1, 1 + k,
1 + 2k, ... stay queued for ten minutes; 0, the default: none), ``report``, ``then`` and keyword
arguments of ``JobManager.run``. The set's id is printed once ``run()`` returns.

``report``: print ``submit FIRST LAST STORED`` for every job sent (STORED: whether the store
held the job's circuits at that moment) and ``queued INDEX`` / ``done INDEX`` whenever a chunk
becomes queued / done (once or more; some of these lines may come before the id).

``then``: ``"wait"`` (the default) stays alive until stdin closes or the process is killed;
``"results"`` waits for a ``go`` line, prints ``{"stored_through": ...}`` (the highest experiment
whose circuit the store held then), asks ``results()``, prints ``{"wrong": [...]}`` (experiments
whose counts were not exact) and exits at once, the way a script that prints its results and
ends does.
"""

from __future__ import annotations

import json
import os
import pathlib
import sqlite3
import sys
from typing import Any

sys.path.insert(0, str(pathlib.Path(__file__).parents[1]))

from qiskit.providers.basic_provider import BasicSimulator
from support import basis_circuits, expected_key

from qjm_widget import JobManager
from qjm_widget.events import JobSetEvent
from qjm_widget.testing import FaultyBackend

SLOW_SECONDS = 600.0
REPORTED = ("queued", "done")


def say(text: str) -> None:
    # One write per line: pool threads and the main thread print at the same time.
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


def stored_through(store: str) -> int:
    """The highest experiment whose circuit the store holds (-1: none), read as another
    process would, on a connection of its own."""
    db = sqlite3.connect(f"file:{store}?mode=ro", uri=True, timeout=30)
    try:
        (last,) = db.execute("SELECT max(last) FROM circuit_blocks").fetchone()
    finally:
        db.close()
    return -1 if last is None else int(last)


def holds(store: str, first: int, last: int) -> bool:
    db = sqlite3.connect(f"file:{store}?mode=ro", uri=True, timeout=30)
    try:
        found = db.execute(
            "SELECT count(*) FROM circuit_blocks WHERE first <= ? AND last >= ?", (first, last)
        ).fetchone()
    finally:
        db.close()
    return bool(found[0])


class Backend(FaultyBackend):
    """BasicSimulator, each job run at once except those of chunks 1, 1 + ``slow_every``, ..."""

    def __init__(self, store: str, per_job: int, slow_every: int, report: bool) -> None:
        super().__init__(BasicSimulator())
        self._slow = FaultyBackend(BasicSimulator(), hold_queued=SLOW_SECONDS)
        self._store = store
        self._per_job = per_job
        self._slow_every = slow_every
        self._report = report

    def run(self, run_input: Any, **options: Any) -> Any:
        indexes = [int(c.name.rsplit("_", 1)[1]) for c in run_input]
        first, last = min(indexes), max(indexes)
        if self._report:
            say(f"submit {first} {last} {holds(self._store, first, last)}")
        chunk = first // self._per_job
        if self._slow_every and chunk % self._slow_every == 1:
            return self._slow.run(run_input, **options)
        return super().run(run_input, **options)


def main() -> None:
    store, options = sys.argv[1], json.loads(sys.argv[2])
    num, qubits = options.pop("num"), options.pop("qubits")
    slow_every = options.pop("slow_every", 0)
    report = options.pop("report", False)
    then = options.pop("then", "wait")
    circuits = basis_circuits(num, qubits)
    backend = Backend(store, options["max_experiments_per_job"], slow_every, report)
    manager = JobManager(store=store)
    job_set = manager.run(circuits, backend, **options)
    if report:

        def on_event(event: JobSetEvent) -> None:
            if event.kind == "chunk" and event.state in REPORTED:
                say(f"{event.state} {event.chunk_index}")

        # Subscribed first, then the chunks' states so far: none is missed (some told twice).
        job_set.subscribe(on_event)
        for chunk in job_set.managed_jobs():
            if chunk.state.value in REPORTED:
                say(f"{chunk.state.value} {chunk.index}")
    say(job_set.job_set_id())
    if then == "wait":
        sys.stdin.read()
        return
    sys.stdin.readline()
    say(json.dumps({"stored_through": stored_through(store)}))
    results = job_set.results(timeout=600)
    shots = options["shots"]
    wrong = [i for i in range(num) if results.get_counts(i) != {expected_key(i, qubits): shots}]
    say(json.dumps({"wrong": wrong}))
    os._exit(0)  # no atexit, no thread joined: what the store has now is all it gets


if __name__ == "__main__":
    main()
