"""Sweeps in the store: parameter values and sampler bit arrays written as npz (never pickle),
read back in a new process, where ``pub_result`` and per-point counts are what they were; and
store files of schema 1 still load."""

from __future__ import annotations

import io
import json
import linecache
import pathlib
import sqlite3
import subprocess
import sys
import textwrap
import threading
from typing import Any

import numpy as np
import pytest
from conftest import basis_circuit, basis_circuits, expected_key, wait_until
from qiskit import qpy
from qiskit.primitives import StatevectorSampler
from qiskit_aer import AerSimulator
from support import sweep_binds, sweep_circuit, sweep_point

from qjm_widget import ChunkState, JobManager, StoreError
from qjm_widget.store import SCHEMA_VERSION, Store
from qjm_widget.testing import FaultySampler

SHOTS = 16
STATES = [3, 1, 4, 1, 5, 2, 6, 5, 0, 7, 2, 4]

RETRIEVE = textwrap.dedent(
    """
    import json, sys
    import numpy as np
    from qjm_widget import JobManager
    store, job_set_id, out = sys.argv[1:]
    results = JobManager(store=store).retrieve_job_set(job_set_id).results(timeout=10)
    pub = results.pub_result(0)
    np.save(out + ".npy", pub.data.c.array, allow_pickle=False)
    counts = [results.get_counts(0, (i, j)) for i in range(3) for j in range(4)]
    json.dump({"shape": list(pub.data.c.shape), "counts": counts, "bound": results.get_counts(1),
               "metadata": pub.metadata}, open(out + ".json", "w"))
    """
)


def values_of(states: list[int]) -> np.ndarray[Any, Any]:
    return np.array([sweep_point(s) for s in states])


def test_pub_result_after_retrieve_job_set_in_a_new_process(tmp_path: pathlib.Path) -> None:
    store = tmp_path / "store.sqlite3"
    sweep = sweep_circuit()
    values = values_of(STATES).reshape(3, 4, 3)
    job_set = JobManager(store=store).run(
        [(sweep, values), basis_circuit(6)],
        StatevectorSampler(),
        shots=SHOTS,
        max_executions_per_job=5 * SHOTS,
    )
    here = job_set.results(timeout=60)
    assert [c.points for c in job_set.managed_jobs()][:3] == [(0, 0, 4), (0, 5, 9), (0, 10, 11)]
    out = tmp_path / "retrieved"
    subprocess.run(
        [sys.executable, "-c", RETRIEVE, str(store), job_set.job_set_id(), str(out)],
        check=True,
        timeout=120,
    )
    there = json.loads(out.with_suffix(".json").read_text())
    assert there["shape"] == [3, 4]
    assert there["counts"] == [{expected_key(s): SHOTS} for s in STATES]
    assert there["bound"] == {expected_key(6): SHOTS}
    assert np.array_equal(np.load(out.with_suffix(".npy")), here.pub_result(0).data.c.array)
    assert there["metadata"] == here.pub_result(0).metadata


def test_a_failed_part_of_a_sweep_is_retried_after_a_restart_and_counted_once(
    tmp_path: pathlib.Path,
) -> None:
    store = tmp_path / "store.sqlite3"
    sweep = sweep_circuit()
    job_set = JobManager(store=store).run(
        [(sweep, values_of(STATES))],
        FaultySampler(StatevectorSampler(), error_jobs=1),
        shots=SHOTS,
        max_executions_per_job=4 * SHOTS,
        max_concurrent_jobs=1,
    )
    job_set.wait(60)
    assert [c.state for c in job_set.managed_jobs()] == [ChunkState.ERROR] + [ChunkState.DONE] * 2

    again = JobManager(store=store).retrieve_job_set(
        job_set.job_set_id(), backend=StatevectorSampler()
    )
    assert again.counts().shots == [SHOTS * 8]
    assert again.retry_failed() == [0]
    results = again.results(timeout=60)
    assert results.success
    assert again.counts().shots == [SHOTS * 12], "a point was counted twice or lost"
    assert [results.get_counts(0, p) for p in range(12)] == [
        {expected_key(s): SHOTS} for s in STATES
    ]


def test_parameter_values_are_stored_as_npy_without_pickle(
    tmp_path: pathlib.Path, manager: JobManager
) -> None:
    sweep = sweep_circuit()
    job_set = manager.run(
        [sweep, basis_circuit(1)],
        AerSimulator(),
        shots=SHOTS,
        parameter_binds=[sweep_binds(STATES, sweep), {}],
    )
    job_set.wait(60)
    assert manager.store is not None
    with sqlite3.connect(manager.store.path) as db:
        ((first, blob),) = db.execute(
            "SELECT first, experiment_values FROM circuit_blocks WHERE experiment_values "
            "IS NOT NULL"
        ).fetchall()
    assert first == 0
    with np.load(io.BytesIO(blob), allow_pickle=False) as archive:
        assert archive.files == ["e0"]
        assert archive["e0"].dtype == np.float64
        assert np.array_equal(archive["e0"], values_of(STATES))


def test_a_pickled_array_in_the_store_is_refused_not_loaded(tmp_path: pathlib.Path) -> None:
    store = tmp_path / "store.sqlite3"
    sweep = sweep_circuit()
    job_set = JobManager(store=store).run(
        [sweep], AerSimulator(), shots=SHOTS, parameter_binds=[sweep_binds(STATES, sweep)]
    )
    job_set.wait(60)
    payload = io.BytesIO()
    np.savez(payload, e0=np.array([{"boom": 1}], dtype=object))  # pickled inside the npy
    with sqlite3.connect(store) as db:
        db.execute("UPDATE circuit_blocks SET experiment_values=?", (payload.getvalue(),))
    with pytest.raises(StoreError, match="the stored arrays cannot be read"):
        JobManager(store=store).retrieve_job_set(job_set.job_set_id())


def as_schema_1(store: pathlib.Path) -> None:
    """Make the file what qjm_widget 0.1 with schema 1 wrote: each set's circuits as one QPY
    in its own row, none of the columns and tables of schemas 2 and 3."""
    with sqlite3.connect(store) as db:
        for (job_set_id,) in db.execute("SELECT id FROM job_sets").fetchall():
            circuits = []
            for (blob,) in db.execute(
                "SELECT qpy FROM circuit_blocks WHERE job_set_id=? ORDER BY first", (job_set_id,)
            ):
                circuits += qpy.load(io.BytesIO(blob))
            buffer = io.BytesIO()
            qpy.dump(circuits, buffer)
            db.execute("UPDATE job_sets SET circuits=? WHERE id=?", (buffer.getvalue(), job_set_id))
        db.execute("DROP TABLE circuit_blocks")
        for table, column in (
            ("job_sets", "experiments"),
            ("job_sets", "experiment_values"),
            ("job_sets", "num_experiments"),
            ("job_sets", "num_chunks"),
            ("job_sets", "plan"),
            ("chunks", "points"),
            ("chunks", "arrays"),
            ("chunks", "usage_seconds"),
        ):
            db.execute(f"ALTER TABLE {table} DROP COLUMN {column}")
        db.execute("UPDATE meta SET value='1' WHERE key='schema_version'")


def waiting_to_migrate(thread: threading.Thread) -> bool:
    """True once ``thread`` waits for the write lock at the start of a migration step in
    Store._open (having read the file's old version before it)."""
    frame = sys._current_frames().get(thread.ident or -1)
    while frame is not None and frame.f_code.co_name != "_open":
        frame = frame.f_back
    if frame is None:
        return False
    return "BEGIN IMMEDIATE" in linecache.getline(frame.f_code.co_filename, frame.f_lineno)


def test_two_stores_opening_an_old_file_at_once_migrate_it_once(
    tmp_path: pathlib.Path,
) -> None:
    store = tmp_path / "store.sqlite3"
    JobManager(store=store).run(basis_circuits(2), AerSimulator(), shots=SHOTS).wait(60)
    as_schema_1(store)
    # Another writer holds the lock, so both openers read version 1 and then wait for it.
    holder = sqlite3.connect(store, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    errors: list[BaseException] = []

    def open_store() -> None:
        try:
            Store(store)
        except BaseException as exc:
            errors.append(exc)

    openers = [threading.Thread(target=open_store) for _ in range(2)]
    for opener in openers:
        opener.start()
    try:
        assert wait_until(lambda: all(waiting_to_migrate(t) for t in openers), 30), (
            "the openers never both waited for the lock"
        )
    finally:
        holder.execute("COMMIT")
        holder.close()
    for opener in openers:
        opener.join(60)
    assert errors == [], errors
    with sqlite3.connect(store) as db:
        assert db.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone() == ("3",)


def test_a_store_file_of_schema_1_still_loads_and_is_migrated(tmp_path: pathlib.Path) -> None:
    store = tmp_path / "store.sqlite3"
    job_set = JobManager(store=store).run(
        basis_circuits(4), AerSimulator(), shots=SHOTS, max_experiments_per_job=2
    )
    job_set.wait(60)
    as_schema_1(store)
    assert SCHEMA_VERSION == 3
    Store(store)  # migrates
    with sqlite3.connect(store) as db:
        version = db.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()
        columns = {row[1] for row in db.execute("PRAGMA table_info(chunks)")}
    assert version == ("3",)
    assert {"points", "arrays"} <= columns
    results = JobManager(store=store).retrieve_job_set(job_set.job_set_id()).results(timeout=10)
    assert [results.get_counts(i) for i in range(4)] == [{expected_key(i): SHOTS} for i in range(4)]
