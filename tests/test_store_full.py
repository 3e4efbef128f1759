"""A store that cannot be written (a full disk: a real SQLite file that may not grow) loses
nothing: circuits not stored hold their chunks back, finished chunks' results are written once
the store can take them, and a new manager gets the whole set back."""

from __future__ import annotations

import contextlib
import logging
import pathlib
import re
import threading
from collections.abc import Iterator

import pytest
from conftest import basis_circuit, expected_key, wait_until
from qiskit import QuantumCircuit
from qiskit.providers import JobStatus
from qiskit_aer import AerSimulator

from qjm_widget import ChunkState, JobManager, ManagedJobSet
from qjm_widget.testing import FaultyBackend, full_store

SHOTS = 2000
NUM = 6
PER_JOB = 2
TIMEOUT = 120
FAILED_WRITE = "could not write to the store"
NOT_ALL_STORED = "not all of it is stored yet"
HELD = "waits for its circuits to be stored: the store cannot be written"


def padded(index: int) -> QuantumCircuit:
    """Basis state ``index``, behind 2,000 X gates that cancel: ~90 kB of QPY, more than a few
    spare pages of the store hold."""
    circuit = basis_circuit(index)
    body = QuantumCircuit(circuit.num_qubits, circuit.num_clbits)
    for _ in range(1000):
        body.x(0)
        body.x(0)
    return body.compose(circuit)


def failed_writes(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if FAILED_WRITE in r.getMessage()]


def assert_exact(job_set: ManagedJobSet) -> None:
    results = job_set.results(timeout=TIMEOUT)
    assert [results.get_counts(i) for i in range(NUM)] == [
        {expected_key(i): SHOTS} for i in range(NUM)
    ]


def stored_manager(folder: pathlib.Path) -> JobManager:
    manager = JobManager(store=folder / "store.sqlite3")
    assert manager.store is not None
    return manager


def assert_whole(folder: pathlib.Path, job_set_id: str, circuits: list[QuantumCircuit]) -> None:
    """A new manager on the file has every circuit and every chunk's counts and memory."""
    retrieved = stored_manager(folder).retrieve_job_set(job_set_id, backend=AerSimulator())
    assert [c.state for c in retrieved.managed_jobs()] == [ChunkState.DONE] * (NUM // PER_JOB)
    assert [e.circuit for e in retrieved.experiments()] == circuits
    results = retrieved.results(timeout=TIMEOUT)
    for i in range(NUM):
        assert results.get_counts(i) == {expected_key(i): SHOTS}
        assert len(results.get_memory(i)) == SHOTS


def test_circuits_that_cannot_be_stored_hold_their_chunks_until_they_are(
    tmp_path: pathlib.Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="qjm_widget.store_writer")
    manager = stored_manager(tmp_path)
    circuits = [padded(i) for i in range(NUM)]
    # Room for the set's row, not for its first chunk's circuits.
    with full_store(manager.store, spare_pages=4):
        job_set = manager.run(
            circuits, AerSimulator(), max_experiments_per_job=PER_JOB, shots=SHOTS, memory=True
        )
        assert wait_until(lambda: failed_writes(caplog), TIMEOUT), "no write failed"
        assert "full" in failed_writes(caplog)[0], failed_writes(caplog)
        # Nothing goes while the store lacks its circuits, and each chunk held says why.
        assert wait_until(
            lambda: all(HELD in (c.note or "") for c in job_set.managed_jobs()), TIMEOUT
        ), job_set.report()
        assert "full" in (job_set.managed_jobs()[0].note or "")
        assert all(c.job_id is None for c in job_set.managed_jobs()), job_set.report()
    assert_exact(job_set)
    assert not [c.note for c in job_set.managed_jobs() if HELD in (c.note or "")]
    assert_whole(tmp_path, job_set.job_set_id(), circuits)


@contextlib.contextmanager
def finishing_into_a_full_store(
    folder: pathlib.Path, caplog: pytest.LogCaptureFixture
) -> Iterator[ManagedJobSet]:
    """A set whose every chunk's job is queued (so its circuits are stored), then released
    into a store that is full: its results (2,000 shots of memory each) are more than the file
    may grow by. The store takes writes again once the block ends."""
    caplog.set_level(logging.INFO, logger="qjm_widget.store_writer")
    manager = stored_manager(folder)
    release = threading.Event()
    backend = FaultyBackend(AerSimulator(), release=release)
    circuits = [basis_circuit(i) for i in range(NUM)]
    job_set = manager.run(
        circuits, backend, max_experiments_per_job=PER_JOB, shots=SHOTS, memory=True
    )
    assert wait_until(
        lambda: all(
            c.job_id is not None and c.job_status is JobStatus.QUEUED
            for c in job_set.managed_jobs()
        ),
        TIMEOUT,
    ), job_set.report()
    with full_store(manager.store):
        release.set()
        yield job_set


def test_results_that_cannot_be_written_are_written_once_the_store_takes_them(
    tmp_path: pathlib.Path, caplog: pytest.LogCaptureFixture
) -> None:
    with finishing_into_a_full_store(tmp_path, caplog) as job_set:
        assert wait_until(lambda: job_set.done() and failed_writes(caplog), TIMEOUT), (
            job_set.report()
        )
    assert_exact(job_set)  # results() returns once the store has it all
    assert any("written again" in r.getMessage() for r in caplog.records)
    assert not [r for r in caplog.records if NOT_ALL_STORED in r.getMessage()]
    assert_whole(tmp_path, job_set.job_set_id(), [e.circuit for e in job_set.experiments()])


def test_results_asked_while_the_store_cannot_take_them_come_at_once_and_are_stored_later(
    tmp_path: pathlib.Path, caplog: pytest.LogCaptureFixture
) -> None:
    """results() does not wait for a store that cannot be written (its flush would wait two
    minutes): one more write is tried, and when it fails too the results come from memory."""
    with finishing_into_a_full_store(tmp_path, caplog) as job_set:
        assert_exact(job_set)
        said = [r.getMessage() for r in caplog.records if NOT_ALL_STORED in r.getMessage()]
        assert len(said) == 1, said
        assert "full" in said[0], said
    assert_exact(job_set)  # the store takes them now: this one waits until it has them
    assert_whole(tmp_path, job_set.job_set_id(), [e.circuit for e in job_set.experiments()])


def test_circuits_qpy_cannot_encode_run_on_and_the_store_says_so(
    tmp_path: pathlib.Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.ERROR, logger="qjm_widget.store_writer")
    manager = stored_manager(tmp_path)
    circuits = [basis_circuit(i) for i in range(NUM)]
    circuits[3].metadata = {"angles": object()}  # not JSON: QPY cannot write it
    job_set = manager.run(circuits, AerSimulator(), max_experiments_per_job=PER_JOB, shots=SHOTS)
    assert_exact(job_set)
    said = [r.getMessage() for r in caplog.records if "cannot be stored" in r.getMessage()]
    assert len(said) == 1, said
    named = re.search(r"experiments (\d+)-(\d+)", said[0])
    assert named is not None, said
    first, last = map(int, named.groups())
    assert first <= 3 <= last, said
