"""Big sets and the store (issue 11): circuits written off the caller's thread in blocks, in
chunk order, each chunk's row with its circuits; listings that decode no circuit; finished sets
freed once dropped. Real SQLite files, BasicSimulator, and worker processes killed with SIGKILL
(tests/store_workers/run_big_set.py).

Where a test needs the writer of another process to stand still, it holds the store file's
write lock itself (``frozen_when``): that writer cannot commit its next transaction until the
test lets go, so what the test reads, and does (a SIGKILL), meets the store exactly as read.
"""

from __future__ import annotations

import dataclasses
import gc
import itertools
import json
import pathlib
import re
import sqlite3
import subprocess
import sys
import threading
import time
import uuid
import weakref
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import pytest
from qiskit.providers.basic_provider import BasicSimulator
from store_workers.support import HERE, Worker, chunk_states, rows, stored_finished, wait_for
from support import basis_circuit, basis_circuits, expected_key, qjm_threads, wait_until

from qjm_widget import (
    ChunkState,
    JobManager,
    JobManagerInvalidStateError,
    ManagedJobSet,
    ManagedResultDataNotAvailable,
    catalog,
)
from qjm_widget import store as store_module
from qjm_widget.lazy_job_set import LazyJobSet
from qjm_widget.persistence import snapshot
from qjm_widget.testing import FaultyBackend

QUBITS = 2
SHOTS = 8
PER_JOB = 10
BIG = 6_550
"""Experiments of the killed sets: the writer's ramp of eight blocks (10, 20, ..., 1,280
experiments: 0-2549), then two of 2,000: ten blocks."""
DONE, LOST = ChunkState.DONE, ChunkState.LOST


def exact(index: int) -> dict[str, int]:
    return {expected_key(index, QUBITS): SHOTS}


def writer_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "qjm-store-writer"]


def collected(ref: weakref.ref[Any]) -> bool:
    gc.collect()
    return ref() is None


@pytest.fixture(autouse=True)
def no_threads_left() -> Iterator[None]:
    """Every test here ends with no thread of the job manager left: the store's writer among
    them, which ends once it has nothing to write."""
    yield
    assert wait_until(lambda: not qjm_threads(), timeout=30), f"threads left: {qjm_threads()}"


@pytest.fixture
def decodes(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every decode of stored QPY in this process, by where it was read from."""
    seen: list[str] = []
    real = store_module.circuits_from_qpy

    def counting(data: bytes, where: str) -> Any:
        seen.append(where)
        return real(data, where)

    monkeypatch.setattr(store_module, "circuits_from_qpy", counting)
    return seen


# -- the store as another process sees it ---------------------------------------------------


@dataclass(frozen=True)
class Progress:
    """What the store holds of a set at one moment."""

    blocks: list[tuple[int, int]]
    """``(first, last)`` of each circuit block, in order."""
    chunks: dict[int, tuple[str, str | None, bool]]
    """Each written chunk row: state, job id, whether it has results."""

    @property
    def stored_through(self) -> int:
        return self.blocks[-1][1] if self.blocks else -1


def progress(db: sqlite3.Connection, job_set_id: str) -> Progress:
    blocks = db.execute(
        "SELECT first, last FROM circuit_blocks WHERE job_set_id=? ORDER BY first", (job_set_id,)
    ).fetchall()
    chunks = db.execute(
        "SELECT idx, state, job_id, results IS NOT NULL FROM chunks WHERE job_set_id=?",
        (job_set_id,),
    ).fetchall()
    return Progress(
        [(int(f), int(la)) for f, la in blocks],
        {int(i): (s, j, bool(r)) for i, s, j, r in chunks},
    )


def read_progress(path: pathlib.Path, job_set_id: str) -> Progress:
    db = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, timeout=30)
    try:
        return progress(db, job_set_id)
    finally:
        db.close()


@contextmanager
def frozen_when(
    path: pathlib.Path, job_set_id: str, ready: Callable[[Progress], bool], timeout: float = 120
) -> Iterator[Progress]:
    """The store's progress once ``ready`` says so, read under the file's write lock, which is
    held until the block ends: no other process commits anything meanwhile. Between looks the
    lock is let go for a moment, so the writer goes on one transaction at a time."""
    db = sqlite3.connect(path, timeout=30, isolation_level=None)
    deadline = time.monotonic() + timeout
    try:
        while True:
            db.execute("BEGIN IMMEDIATE")
            seen = progress(db, job_set_id)
            if ready(seen):
                break
            db.execute("ROLLBACK")
            if time.monotonic() > deadline:
                raise AssertionError(f"the store never got ready in {timeout} s: {seen.blocks}")
            time.sleep(0.002)
        yield seen
    finally:
        if db.in_transaction:
            db.execute("ROLLBACK")
        db.close()


class BigRun:
    """run_big_set.py on a set of basis circuits, PER_JOB a chunk, into ``path``; with
    ``report=True``, what it told of its jobs and chunks so far."""

    def __init__(self, worker: Worker, path: pathlib.Path) -> None:
        self.worker = worker
        self.path = path
        self.submits: list[tuple[int, int, bool]] = []
        """Each job sent: its first and last experiment, whether the store held them then."""
        self.queued: set[int] = set()
        self.done: set[int] = set()
        line = worker.line()
        while self._record(line):
            line = worker.line()
        self.job_set_id = line

    def _record(self, line: str) -> bool:
        kind, *fields = line.split()
        if kind == "submit":
            self.submits.append((int(fields[0]), int(fields[1]), fields[2] == "True"))
        elif kind in ("queued", "done"):
            getattr(self, kind).add(int(fields[0]))
        else:
            return False
        return True

    def read_until(self, condition: Callable[[], bool], timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while not condition():
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"timed out: {len(self.submits)} sent, {len(self.done)} done")
            line = self.worker.line(timeout=left)
            assert self._record(line), line


def start_big(
    spawn: Callable[..., Worker], tmp_path: pathlib.Path, num: int, **options: Any
) -> BigRun:
    settings = {
        "num": num,
        "qubits": QUBITS,
        "shots": SHOTS,
        "max_experiments_per_job": PER_JOB,
        **options,
    }
    path = tmp_path / "store.sqlite3"
    return BigRun(spawn("run_big_set.py", path, json.dumps(settings)), path)


def assert_blocks_in_chunk_order(blocks: list[tuple[int, int]]) -> None:
    """The first chunk's circuits alone, then whole chunks, contiguous, at most 2,000 a block."""
    assert blocks[0] == (0, PER_JOB - 1), blocks[:3]
    for (_, last), (first, end) in itertools.pairwise(blocks):
        assert first == last + 1, blocks
        assert (end + 1) % PER_JOB == 0, blocks
        assert end - first + 1 <= 2_000, blocks


def qjm(path: pathlib.Path, *args: str) -> subprocess.CompletedProcess[str]:
    """The ``qjm`` command line in another process, counting the QPY decodes it makes."""
    return subprocess.run(
        [sys.executable, str(HERE / "qjm_counting_decodes.py"), "--store", str(path), *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


# -- SIGKILL during the background write ----------------------------------------------------


@pytest.mark.parametrize(
    ("blocks", "some_finished"),
    [(1, False), (8, True), (9, True)],
    ids=["after_the_first_block", "mid_way", "one_block_before_the_end"],
)
def test_sigkill_during_the_write_loses_only_what_was_never_stored(
    tmp_path: pathlib.Path, spawn: Callable[..., Worker], blocks: int, some_finished: bool
) -> None:
    # The jobs of chunks 1, 6, 11, ... stay queued: the kill finds jobs done, jobs sent and not
    # done, chunks stored but not sent (those of the last block written), circuits not stored.
    run = start_big(spawn, tmp_path, BIG, slow_every=5, report=True)
    path, job_set_id = run.path, run.job_set_id
    if some_finished:
        # Chunk 0 done and chunk 1 queued while the writer waits for the lock: their rows go in
        # the transaction after the one it waits to commit, at the latest.
        with frozen_when(path, job_set_id, lambda seen: len(seen.blocks) >= 2) as early:
            run.read_until(lambda: 0 in run.done and 1 in run.queued, timeout=20)
        assert len(early.blocks) + 2 <= blocks, f"the writer ran ahead to {early.blocks[-1]}"
    with frozen_when(path, job_set_id, lambda seen: len(seen.blocks) >= blocks) as at_kill:
        run.worker.kill()
    through = at_kill.stored_through
    assert through < BIG - 1, "the write ended before the test could stop the worker there"
    assert read_progress(path, job_set_id) == at_kill  # nothing was committed after the look
    assert_blocks_in_chunk_order(at_kill.blocks)
    num_chunks = BIG // PER_JOB
    stored = {c for c in range(num_chunks) if (c + 1) * PER_JOB - 1 <= through}
    # A chunk's row goes with its circuits, so a job id is never stored without them.
    assert set(at_kill.chunks) <= stored, sorted(set(at_kill.chunks) - stored)[:5]
    done = {c for c, (state, _, _) in at_kill.chunks.items() if state == "done"}
    assert all(at_kill.chunks[c][2] for c in done), "a chunk was stored done without its counts"
    sent = {c for c, (_, job_id, _) in at_kill.chunks.items() if job_id}
    if some_finished:
        assert 0 in done, at_kill.chunks
        assert 1 in sent - done, at_kill.chunks

    detached = JobManager(store=path).retrieve_job_set(job_set_id)
    assert detached.done()
    merged = detached.counts().per_experiment
    chunks = detached.managed_jobs()
    assert len(chunks) == num_chunks
    for chunk in chunks:
        span = range(chunk.start_index, chunk.end_index + 1)
        if chunk.index in done:
            assert chunk.state is DONE, chunk
            assert [merged[i] for i in span] == [exact(i) for i in span], chunk
            continue
        assert chunk.state is LOST, chunk
        assert all(merged[i] == {} for i in span), chunk
        if chunk.index in stored:
            assert re.search("process that ran .* retry", chunk.error or ""), chunk.error
        else:
            assert "ended before it stored this chunk's circuits" in (chunk.error or "")
    experiments = detached.experiments()
    assert [e.name for e in experiments[: through + 1]] == [
        f"basis_{i}" for i in range(through + 1)
    ]
    for c in sorted(sent):
        for i in range(c * PER_JOB, (c + 1) * PER_JOB):
            assert experiments[i].circuit == basis_circuit(i, QUBITS), i

    resumed = JobManager(store=path).retrieve_job_set(job_set_id, backend=BasicSimulator())
    missing = sorted(set(range(num_chunks)) - stored)
    with pytest.raises(JobManagerInvalidStateError, match="cannot be retried: its circuits"):
        resumed.retry(missing[0])
    assert resumed.retry_failed() == sorted(stored - done)
    results = resumed.results(timeout=300)
    for i in range(through + 1):
        assert results.get_counts(i) == exact(i), i
    with pytest.raises(ManagedResultDataNotAvailable, match="lost"):
        results.get_counts(through + 1)
    assert sum(resumed.counts().aggregate.values()) == (through + 1) * SHOTS  # none twice
    assert [c.state for c in resumed.managed_jobs()] == [
        DONE if c in stored else LOST for c in range(num_chunks)
    ]
    assert chunk_states(path, job_set_id) == [
        "done" if c in stored else "lost" for c in range(num_chunks)
    ]


def test_no_job_is_sent_before_the_store_holds_its_circuits(
    tmp_path: pathlib.Path, spawn: Callable[..., Worker]
) -> None:
    # The eight blocks of the ramp (experiments 0-2549), then the last one, of 2,000. While the
    # test keeps that last block out of the file, every chunk before it runs to its end, and
    # none of the last block's may go: a crash then would leave jobs the store never heard of.
    num = 4_550
    run = start_big(spawn, tmp_path, num, report=True)
    with frozen_when(run.path, run.job_set_id, lambda seen: len(seen.blocks) >= 8) as seen:
        assert seen.stored_through == 2_549, "the write ended before the test could hold it"
        stored_chunks = set(range(255))
        # Well within the writer's 30 s busy timeout, after which it would give up the block.
        run.read_until(lambda: stored_chunks <= run.done, timeout=20)
        early = [s for s in run.submits if s[1] > seen.stored_through]
        assert early == [], f"{len(early)} jobs sent before their circuits were stored"
    wait_for(lambda: stored_finished(run.path, run.job_set_id), "the set to be stored", 120)
    run.read_until(lambda: len(run.submits) == num // PER_JOB, timeout=30)
    assert [s for s in run.submits if not s[2]] == []
    assert "could not write" not in run.worker.stderr(), run.worker.stderr()


# -- results() while the circuits are still being written ------------------------------------


def test_results_returned_means_the_store_has_all_of_a_big_set(
    tmp_path: pathlib.Path, spawn: Callable[..., Worker]
) -> None:
    num = 2_550  # the ramp's eight blocks
    run = start_big(spawn, tmp_path, num, then="results")
    worker, path, job_set_id = run.worker, run.path, run.job_set_id
    with frozen_when(path, job_set_id, lambda seen: len(seen.blocks) >= 1) as seen:
        assert seen.stored_through < num - 1
        worker.send("go")
        # The worker read this just before asking results(): the write was still going.
        assert json.loads(worker.line()) == {"stored_through": seen.stored_through}
    assert json.loads(worker.line(timeout=300)) == {"wrong": []}
    assert worker.proc.wait(60) == 0, worker.stderr()
    # The worker left with os._exit right after results(): what is stored now is all there is.
    assert stored_finished(path, job_set_id)
    blocks = read_progress(path, job_set_id).blocks
    assert_blocks_in_chunk_order(blocks)
    assert blocks[-1][1] == num - 1
    exported = qjm(path, "export", job_set_id)
    assert exported.returncode == 0, exported.stderr
    assert "decodes 0" in exported.stderr.splitlines(), exported.stderr
    document = json.loads(exported.stdout)
    assert document["final"] is True
    assert [(e["name"], e["counts"]) for e in document["experiments"]] == [
        (f"basis_{i}", exact(i)) for i in range(num)
    ]


# -- listings decode nothing; a set decodes its circuits once ---------------------------------


def finished_sets(path: pathlib.Path, count: int) -> list[str]:
    """``count`` finished sets of 30 circuits in three chunks, newest first: two run here, the
    others copies of the first's record (fresh ids, names, creation times)."""
    manager = JobManager(store=path)
    ran = [
        manager.run(
            basis_circuits(30, QUBITS),
            BasicSimulator(),
            name=f"ran {k}",
            job_tags=["ran"],
            max_experiments_per_job=PER_JOB,
            shots=SHOTS,
        )
        for k in range(2)
    ]
    for job_set in ran:
        job_set.results(timeout=60)
    assert manager.store is not None
    record = snapshot(ran[0])
    start = ran[0].created_at.timestamp() - count
    for k in range(count - 2):
        manager.store.add_job_set(
            dataclasses.replace(
                record,
                job_set_id=uuid.uuid4().hex,
                name=f"copy {k:03d}",
                tags=["copy"],
                created_at=start + k,
                finished_at=start + k + 0.5,
                owner=(None, None),
            )
        )
    return [i for (i,) in rows(path, "SELECT id FROM job_sets ORDER BY created_at DESC")]


def test_listing_stored_sets_decodes_no_circuit(tmp_path: pathlib.Path, decodes: list[str]) -> None:
    path = tmp_path / "store.sqlite3"
    ids = finished_sets(path, 120)
    decodes.clear()
    manager = JobManager(store=path)
    listed = manager.job_sets(limit=None)
    assert [s.job_set_id() for s in listed] == ids
    assert all(isinstance(s, LazyJobSet) and not s.loaded for s in listed)
    assert len(manager.job_sets()) == 100
    assert [s.job_set_id() for s in manager.job_sets(tags=["ran"])] == ids[:2]
    stored = rows(path, "SELECT name, tags, created_at FROM job_sets ORDER BY created_at DESC")
    # What a listing shows is at hand without reading the sets.
    shown = [
        (s.name(), s.tags(), s.created_at.timestamp(), s.backend_name, s.done()) for s in listed
    ]
    assert shown == [
        (n, json.loads(t), pytest.approx(c, abs=1e-5), "basic_simulator", True)
        for n, t, c in stored
    ]
    assert all("not read yet" in repr(s) for s in listed)
    assert not any(s.loaded for s in listed)

    first, second = listed[0], listed[1]
    results = first.results(timeout=5)
    assert [results.get_counts(i) for i in range(30)] == [exact(i) for i in range(30)]
    assert [c.state for c in second.managed_jobs()] == [DONE] * 3
    assert [s.loaded for s in listed[:3]] == [True, True, False]
    assert not any(s.loaded for s in listed[2:])

    report = manager.report()
    assert report.count("Job set name:") == 100
    assert report.count("Successful jobs: 3") == 100
    summaries, total = catalog.summaries(manager.store)  # type: ignore[arg-type]
    assert total == 120
    assert [s.job_set_id for s in summaries] == ids[: len(summaries)]
    assert all(s.state == "done" and s.num_experiments == 30 for s in summaries)
    assert decodes == [], f"a listing decoded circuits: {decodes[:3]}"

    listed_by_cli = qjm(path, "list", "--limit", "0")
    assert listed_by_cli.returncode == 0, listed_by_cli.stderr
    table = listed_by_cli.stdout.strip().splitlines()
    assert [line.split()[0] for line in table[1:]] == [i[:8] for i in ids]
    ((newest_blocks,),) = rows(
        path, "SELECT count(*) FROM circuit_blocks WHERE job_set_id=?", ids[0]
    )
    assert listed_by_cli.stderr.splitlines()[-2:] == [
        "decodes 0",
        f"decodes after reading a circuit {newest_blocks}",
    ], listed_by_cli.stderr


def failed_set(path: pathlib.Path, num: int = 40) -> str:
    """A finished stored set of ``num`` circuits, PER_JOB a chunk, whose chunk 0 ended in
    ERROR; its circuits are in three blocks (10, 20 and 10 experiments)."""
    manager = JobManager(store=path)
    job_set = manager.run(
        basis_circuits(num, QUBITS),
        FaultyBackend(BasicSimulator(), error_jobs=1, error_when=lambda c: c[0].name == "basis_0"),
        max_experiments_per_job=PER_JOB,
        shots=SHOTS,
    )
    job_set.wait(timeout=60)
    assert [c.state for c in job_set.managed_jobs()] == [ChunkState.ERROR] + [DONE] * 3
    return job_set.job_set_id()


def test_a_stored_set_opened_twice_decodes_its_circuits_once(
    tmp_path: pathlib.Path, decodes: list[str]
) -> None:
    path = tmp_path / "store.sqlite3"
    job_set_id = failed_set(path)
    ((blocks,),) = rows(path, "SELECT count(*) FROM circuit_blocks WHERE job_set_id=?", job_set_id)
    assert blocks == 3
    decodes.clear()
    manager = JobManager(store=path)
    opened = manager.retrieve_job_set(job_set_id, backend=BasicSimulator())
    assert opened.job(12)[1] == 2
    assert opened.job(basis_circuit(12, QUBITS))[1] == 2  # found by name: nothing decoded
    assert decodes == []
    assert opened.retry_failed() == [0]  # the job needs the circuits
    results = opened.results(timeout=60)
    assert [results.get_counts(i) for i in range(40)] == [exact(i) for i in range(40)]
    assert len(decodes) == blocks

    assert manager.retrieve_job_set(job_set_id) is opened
    again = manager.retrieve_job_set(job_set_id, backend=BasicSimulator())
    assert again is opened
    circuits = [e.circuit for e in again.experiments()]
    assert circuits == basis_circuits(40, QUBITS)
    assert again.job(circuits[25])[1] == 5
    assert len(decodes) == blocks, decodes


def test_a_set_read_without_a_backend_then_with_one_decodes_its_circuits_once(
    tmp_path: pathlib.Path, decodes: list[str]
) -> None:
    # What the error of a retry without a backend tells the user to do: retrieve it again with
    # one. The circuits the first one decoded serve the second.
    path = tmp_path / "store.sqlite3"
    job_set_id = failed_set(path)
    decodes.clear()
    manager = JobManager(store=path)
    detached = manager.retrieve_job_set(job_set_id)
    assert [e.circuit for e in detached.experiments()] == basis_circuits(40, QUBITS)
    assert len(decodes) == 3
    with pytest.raises(JobManagerInvalidStateError, match="pass backend="):
        detached.retry_failed()
    resumed = manager.retrieve_job_set(job_set_id, backend=BasicSimulator())
    assert resumed.retry_failed() == [0]
    assert all_counts(resumed, 40) == [exact(i) for i in range(40)]
    assert len(decodes) == 3, decodes


# -- finished sets are freed once dropped ----------------------------------------------------


def all_counts(job_set: ManagedJobSet, num: int) -> list[dict[str, int]]:
    results = job_set.results(timeout=60)
    return [results.get_counts(i) for i in range(num)]


def test_a_dropped_finished_set_is_freed_and_comes_back_from_the_store(
    tmp_path: pathlib.Path,
) -> None:
    manager = JobManager(store=tmp_path / "store.sqlite3")
    job_set = manager.run(
        basis_circuits(30, QUBITS), BasicSimulator(), max_experiments_per_job=PER_JOB, shots=SHOTS
    )
    job_set_id = job_set.job_set_id()
    assert all_counts(job_set, 30) == [exact(i) for i in range(30)]
    ref = weakref.ref(job_set)
    del job_set
    assert wait_until(lambda: collected(ref), timeout=30), gc.get_referrers(ref())
    assert job_set_id not in manager.loaded_job_sets()

    back = manager.retrieve_job_set(job_set_id)
    assert all_counts(back, 30) == [exact(i) for i in range(30)]
    assert manager.job_sets() == [back]  # held again while it is referenced
    ref = weakref.ref(back)
    del back
    assert wait_until(lambda: collected(ref), timeout=30)
    (listed,) = manager.job_sets()
    assert isinstance(listed, LazyJobSet)
    assert (listed.job_set_id(), listed.loaded) == (job_set_id, False)
    assert all_counts(listed, 30) == [exact(i) for i in range(30)]


def test_a_dropped_set_is_freed_without_the_cyclic_collector(tmp_path: pathlib.Path) -> None:
    """No reference cycle keeps a finished set: the cyclic collector runs only now and then,
    and a long kernel would hold every dropped set until it does."""
    manager = JobManager(store=tmp_path / "store.sqlite3")
    circuits = basis_circuits(30, QUBITS)
    gc.collect()
    gc.disable()
    try:
        job_set = manager.run(
            circuits, BasicSimulator(), max_experiments_per_job=PER_JOB, shots=SHOTS
        )
        job_set_id = job_set.job_set_id()
        assert all_counts(job_set, 30) == [exact(i) for i in range(30)]
        ref = weakref.ref(job_set)
        del job_set
        # A pool thread may still be leaving the task that ended the set.
        assert wait_until(lambda: ref() is None, timeout=30), gc.get_referrers(ref())

        back = manager.retrieve_job_set(job_set_id)
        assert all_counts(back, 30) == [exact(i) for i in range(30)]
        ref = weakref.ref(back)
        del back
        assert wait_until(lambda: ref() is None, timeout=30), gc.get_referrers(ref())
    finally:
        gc.enable()


def test_without_a_store_a_finished_set_stays_held(tmp_path: pathlib.Path) -> None:
    manager = JobManager(store=None)
    job_set = manager.run(
        basis_circuits(30, QUBITS), BasicSimulator(), max_experiments_per_job=PER_JOB, shots=SHOTS
    )
    assert all_counts(job_set, 30) == [exact(i) for i in range(30)]
    job_set_id = job_set.job_set_id()
    ref = weakref.ref(job_set)
    del job_set
    gc.collect()
    held = ref()
    assert held is not None, "with no store, the manager is the only keeper of its sets"
    assert manager.retrieve_job_set(job_set_id) is held
    assert manager.job_sets() == [held]


def test_a_retried_set_is_held_while_it_runs(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "store.sqlite3"
    job_set_id = failed_set(path)
    manager = JobManager(store=path)
    retried = manager.retrieve_job_set(
        job_set_id, backend=FaultyBackend(BasicSimulator(), hold_queued=600)
    )
    assert retried.retry_failed() == [0]
    ref = weakref.ref(retried)
    del retried
    gc.collect()
    assert ref() is not None, "a running set was freed"
    running = manager.retrieve_job_set(job_set_id)
    assert running is ref()
    assert not running.done()
    running.cancel()
    running.wait(timeout=60)
    assert running.managed_jobs()[0].state is ChunkState.CANCELLED
    del running
    assert wait_until(lambda: collected(ref), timeout=30), "a finished set stayed held"


# -- the writer's thread ---------------------------------------------------------------------


def test_the_store_writer_thread_ends_when_it_has_nothing_to_write(
    tmp_path: pathlib.Path,
) -> None:
    path = tmp_path / "store.sqlite3"
    manager = JobManager(store=path)
    job_set = manager.run(
        basis_circuits(30, QUBITS),
        FaultyBackend(BasicSimulator(), hold_queued=600),
        max_experiments_per_job=PER_JOB,
        shots=SHOTS,
    )
    wait_for(lambda: chunk_states(path, job_set.job_set_id()) == ["queued"] * 3, "jobs sent")
    # Everything is written while the jobs still run: the writer has ended, the set has not.
    assert wait_until(lambda: not writer_threads(), timeout=30), writer_threads()
    assert not job_set.done()
    job_set.cancel()
    job_set.wait(timeout=60)
    # A writer came back for the final states, and they are stored once wait() returns.
    assert chunk_states(path, job_set.job_set_id()) == ["cancelled"] * 3
    assert wait_until(lambda: not writer_threads(), timeout=30), writer_threads()
