"""The SQLite store end to end: real files, real Aer, real processes (tests/store_workers/)."""

from __future__ import annotations

import json
import pathlib
import pickle
import re
import sqlite3
import threading
from collections.abc import Callable
from typing import Any

import platformdirs
import pytest
from conftest import basis_circuits, expected_key
from qiskit_aer import AerSimulator
from store_workers.payloads import BAD_RESULTS, UNUSABLE_FILES, Trap
from store_workers.support import (
    Worker,
    chunk_states,
    rows,
    stored_finished,
    wait_for,
    write_circuits,
)

from qjm_widget import (
    ChunkState,
    JobManager,
    JobManagerInvalidStateError,
    JobManagerUnknownJobSet,
    ManagedJobSet,
    ManagedResultDataNotAvailable,
)
from qjm_widget.store import SCHEMA_VERSION, STORE_ENV_VAR, Store, StoreError
from qjm_widget.testing import FaultyBackend
from qjm_widget.widget import STATE_CODES, JobSetWidget

SHOTS = 64
DONE, LOST = ChunkState.DONE, ChunkState.LOST
Held = tuple[Worker, pathlib.Path, str]


def exact(index: int) -> dict[str, int]:
    return {expected_key(index): SHOTS}


def all_counts(job_set: ManagedJobSet) -> list[dict[str, int]]:
    results = job_set.results(timeout=60)
    return [results.get_counts(i) for i in range(job_set.num_experiments)]


def run_worker(
    spawn: Callable[..., Worker], tmp_path: pathlib.Path, num: int, **options: Any
) -> Held:
    """run_and_wait.py on ``num`` basis circuits into tmp_path/store.sqlite3."""
    store = tmp_path / "store.sqlite3"
    circuits = write_circuits(tmp_path / f"circuits{num}.qpy", basis_circuits(num))
    worker = spawn("run_and_wait.py", store, circuits, json.dumps({"shots": SHOTS, **options}))
    return worker, store, worker.line()


def stored_set(path: pathlib.Path, num: int = 4) -> str:
    """Run a set in this process into ``path``; its id once the store holds all of it."""
    job_set = JobManager(store=path).run(
        basis_circuits(num), AerSimulator(), max_experiments_per_job=2, shots=SHOTS
    )
    wait_for(lambda: stored_finished(path, job_set.job_set_id()), "the set to be stored")
    return job_set.job_set_id()


def test_sigkill_mid_run_keeps_done_chunks_and_retry_finishes_the_rest(
    tmp_path: pathlib.Path, spawn: Callable[..., Worker]
) -> None:
    options = {"max_experiments_per_job": 2, "max_concurrent_jobs": 2, "seed_simulator": 7}
    worker, store, job_set_id = run_worker(spawn, tmp_path, 24, hold_queued=0.4, **options)
    wait_for(
        lambda: 3 <= chunk_states(store, job_set_id).count("done") < 12,
        "some of the 12 chunks to be stored done, not all",
    )
    worker.kill()
    sql = "SELECT state, job_id, attempts FROM chunks WHERE job_set_id=? ORDER BY idx"
    at_kill = rows(store, sql, job_set_id)
    done = {i for i, (state, _, _) in enumerate(at_kill) if state == "done"}
    lost = sorted(set(range(12)) - done)
    assert done, at_kill
    assert lost, at_kill

    detached = JobManager(store=store).retrieve_job_set(job_set_id)
    assert detached.done()
    per_experiment = detached.counts().per_experiment
    for chunk in detached.managed_jobs():
        assert chunk.state is (DONE if chunk.index in done else LOST), chunk
        if chunk.state is LOST:
            assert re.search("process that ran .* retry", chunk.error), chunk.error
        for i in range(chunk.start_index, chunk.end_index + 1):
            assert per_experiment[i] == (exact(i) if chunk.state is DONE else {}), i
    stored = ["done" if i in done else "lost" for i in range(12)]
    assert chunk_states(store, job_set_id) == stored
    assert len(detached.error_messages().splitlines()) == len(lost)
    with pytest.raises(ManagedResultDataNotAvailable, match="lost"):
        detached.results(timeout=5).get_counts(2 * lost[0])
    widget = JobSetWidget(detached)
    assert widget.states[4:] == bytes(STATE_CODES[ChunkState(s)] for s in stored)
    widget.close()
    with pytest.raises(JobManagerInvalidStateError, match="without a backend"):
        detached.retry_failed()
    with pytest.raises(JobManagerInvalidStateError, match="without a backend"):
        detached.retry(lost[0])

    resumed = JobManager(store=store).retrieve_job_set(job_set_id, backend=AerSimulator())
    assert resumed.retry_failed() == lost
    uninterrupted = JobManager(store=None).run(
        basis_circuits(24), AerSimulator(), shots=SHOTS, **options
    )
    assert all_counts(resumed) == all_counts(uninterrupted) == [exact(i) for i in range(24)]
    assert sum(resumed.counts().aggregate.values()) == 24 * SHOTS  # nothing counted twice
    for chunk, (_, job_id, attempts) in zip(resumed.managed_jobs(), at_kill, strict=True):
        retried = chunk.index not in done
        assert (chunk.state, chunk.attempts) == (DONE, attempts + retried), chunk
        assert chunk.previous_job_ids == ([job_id] if retried and job_id else []), chunk
    wait_for(lambda: stored_finished(store, job_set_id), "the store to show every chunk done")
    ((finished_at,),) = rows(store, "SELECT finished_at FROM job_sets WHERE id=?", job_set_id)
    assert finished_at == pytest.approx(max(c.finished_at for c in resumed.managed_jobs()))


@pytest.fixture
def held(tmp_path: pathlib.Path, spawn: Callable[..., Worker]) -> Held:
    """A worker whose set of two chunks stays queued (submitted) for two minutes."""
    worker, store, job_set_id = run_worker(
        spawn, tmp_path, 4, hold_queued=120, max_experiments_per_job=2
    )
    wait_for(lambda: chunk_states(store, job_set_id) == ["queued"] * 2, "both jobs submitted")
    return worker, store, job_set_id


def test_a_set_that_a_live_process_runs_is_not_retrieved(held: Held) -> None:
    worker, store, job_set_id = held
    manager = JobManager(store=store)
    with pytest.raises(JobManagerInvalidStateError, match=rf"process {worker.pid}\b"):
        manager.retrieve_job_set(job_set_id)
    assert job_set_id not in [s.job_set_id() for s in manager.job_sets()]
    assert chunk_states(store, job_set_id) == ["queued"] * 2  # the refusal wrote nothing
    worker.kill()
    for chunk in manager.retrieve_job_set(job_set_id).managed_jobs():
        assert chunk.state is LOST, chunk
        assert f"job {chunk.job_id} cannot be looked up" in chunk.error


def test_delete_refuses_a_set_that_a_live_process_runs(held: Held) -> None:
    worker, store, job_set_id = held
    with pytest.raises(JobManagerInvalidStateError, match=str(worker.pid)):
        JobManager(store=store).delete_job_set(job_set_id)
    assert chunk_states(store, job_set_id) == ["queued"] * 2


def test_retrieve_with_backend_after_a_retrieve_without_one(held: Held) -> None:
    worker, store, job_set_id = held
    worker.kill()
    manager = JobManager(store=store)
    with pytest.raises(JobManagerInvalidStateError, match="pass backend="):
        manager.retrieve_job_set(job_set_id).retry_failed()
    # Do what the message says, in the same manager (its job_sets() retrieves without one too).
    resumed = manager.retrieve_job_set(job_set_id, backend=AerSimulator())
    assert resumed.retry_failed() == [0, 1]
    assert all_counts(resumed) == [exact(i) for i in range(4)]


def test_two_processes_share_one_store_file(
    tmp_path: pathlib.Path, spawn: Callable[..., Worker]
) -> None:
    store, sets, num = tmp_path / "shared.sqlite3", 4, 8
    circuits = write_circuits(tmp_path / "circuits.qpy", basis_circuits(num))
    workers = {p: spawn("run_sets.py", store, circuits, p, sets, SHOTS) for p in ("left", "right")}
    for worker in workers.values():
        assert worker.line() == "ready"
    for worker in workers.values():
        worker.send("go")
    ids = {prefix: json.loads(worker.line(timeout=120)) for prefix, worker in workers.items()}
    all_ids = [i for group in ids.values() for i in group]
    wait_for(lambda: all(stored_finished(store, i) for i in all_ids), "all sets to be stored")
    for worker in workers.values():
        assert worker.finish() == 0, worker.stderr()
        assert not re.search("could not write|Traceback", worker.stderr()), worker.stderr()

    assert rows(store, "PRAGMA integrity_check") == [("ok",)]
    sql = "SELECT idx, state, attempts, submitted_at FROM chunks WHERE job_set_id=? ORDER BY idx"
    spans: dict[str, list[float]] = {}
    for prefix, group in ids.items():
        for k, job_set_id in enumerate(group):
            ((name, tags),) = rows(store, "SELECT name, tags FROM job_sets WHERE id=?", job_set_id)
            assert name == f"{prefix}-{k}"
            assert json.loads(tags) == [prefix, "shared", f"{prefix}-tagged"]
            chunks = rows(store, sql, job_set_id)
            assert [c[:3] for c in chunks] == [(i, "done", 1) for i in range(num)]
            spans.setdefault(prefix, []).extend(c[3] for c in chunks)
    left, right = spans.values()
    assert min(left) < max(right), "the workers did not write at the same time"
    assert min(right) < max(left), "the workers did not write at the same time"

    listed = JobManager(store=store).job_sets(limit=None)
    newest_first = [i for (i,) in rows(store, "SELECT id FROM job_sets ORDER BY created_at DESC")]
    assert [s.job_set_id() for s in listed] == newest_first
    assert sorted(newest_first) == sorted(all_ids)
    for job_set in listed:
        assert all_counts(job_set) == [exact(i) for i in range(num)]


@pytest.mark.parametrize("kind", list(UNUSABLE_FILES))
def test_an_unusable_file_raises_store_error_and_stays_untouched(
    tmp_path: pathlib.Path, kind: str
) -> None:
    path = tmp_path / f"{kind}.sqlite3"
    UNUSABLE_FILES[kind](path)
    before = path.read_bytes()
    with pytest.raises(StoreError, match=re.escape(str(path))):
        JobManager(store=path)
    assert path.read_bytes() == before


@pytest.mark.parametrize("empty_file", [True, False])
def test_an_empty_file_or_a_fresh_path_becomes_a_store(
    tmp_path: pathlib.Path, empty_file: bool
) -> None:
    path = tmp_path / "new" / "folder" / "store.sqlite3"
    if empty_file:
        path.parent.mkdir(parents=True)
        path.write_bytes(b"")
    job_set_id = stored_set(path)
    manager = JobManager(store=path)
    assert manager.store is not None
    assert manager.store._db.execute("PRAGMA busy_timeout").fetchone()[0] >= 1000
    assert rows(path, "PRAGMA journal_mode") == [("wal",)]
    meta = dict(rows(path, "SELECT key, value FROM meta"))
    assert meta == {"application": "qjm_widget", "schema_version": str(SCHEMA_VERSION)}
    assert all_counts(manager.retrieve_job_set(job_set_id)) == [exact(i) for i in range(4)]


def test_connections_opening_a_new_file_at_the_same_moment_all_get_the_store(
    tmp_path: pathlib.Path,
) -> None:
    # Two processes opening a fresh file together once failed CI: one switched the journal to
    # WAL while the other held the file ("database is locked"), or read the meta table before
    # its rows. Threads with their own connections meet at a barrier to hit the same window.
    openers, rounds = 4, 60
    for round_ in range(rounds):
        path = tmp_path / f"fresh{round_}.sqlite3"
        barrier = threading.Barrier(openers)
        failures: list[BaseException] = []

        def open_store(
            path: pathlib.Path = path,
            barrier: threading.Barrier = barrier,
            failures: list[BaseException] = failures,
        ) -> None:
            barrier.wait(timeout=30)
            try:
                Store(path).close()
            except BaseException as exc:
                failures.append(exc)

        threads = [threading.Thread(target=open_store) for _ in range(openers)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        assert not any(t.is_alive() for t in threads)
        assert failures == [], f"round {round_}: {failures[0]}"
        assert rows(path, "PRAGMA journal_mode") == [("wal",)]


@pytest.mark.parametrize(
    ("column", "protocol", "prefix"),
    [("results", 0, b""), ("results", 5, b""), ("circuits", 5, b""), ("circuits", 2, b"QISKIT")],
)
def test_a_pickle_payload_in_the_store_is_never_loaded(
    tmp_path: pathlib.Path, column: str, protocol: int, prefix: bytes
) -> None:
    pickle.loads(pickle.dumps(Trap(tmp_path / "armed")))
    assert (tmp_path / "armed").exists()  # the payload does run when unpickled
    path, marker = tmp_path / "store.sqlite3", tmp_path / "marker"
    job_set_id = stored_set(path)
    payload = prefix + pickle.dumps(Trap(marker), protocol=protocol)
    table = "chunks" if column == "results" else "circuit_blocks"
    with sqlite3.connect(path) as db:
        db.execute(
            f"UPDATE {table} SET {'qpy' if column == 'circuits' else column}=? WHERE job_set_id=?",
            (payload, job_set_id),
        )
    db.close()
    with pytest.raises(StoreError, match=re.escape(job_set_id)):
        # Circuits are decoded on first need only: a retry, or a circuit asked for.
        JobManager(store=path).retrieve_job_set(job_set_id).experiments()[0].circuit  # noqa: B018
    assert not marker.exists()


@pytest.mark.parametrize("kind", list(BAD_RESULTS))
def test_structurally_wrong_results_json_raises_store_error(
    tmp_path: pathlib.Path, kind: str
) -> None:
    path = tmp_path / "store.sqlite3"
    job_set_id = stored_set(path)  # chunk 0 holds experiments 0 and 1
    ((text,),) = rows(path, "SELECT results FROM chunks WHERE job_set_id=? AND idx=0", job_set_id)
    with sqlite3.connect(path) as db:
        db.execute(
            "UPDATE chunks SET results=? WHERE job_set_id=? AND idx=0",
            (json.dumps(BAD_RESULTS[kind](json.loads(text))), job_set_id),
        )
    db.close()
    with pytest.raises(StoreError, match=re.escape(job_set_id)):  # on retrieving, at the latest
        all_counts(JobManager(store=path).retrieve_job_set(job_set_id))  # on reading the results


def test_job_sets_filter_order_limit_and_delete(manager: JobManager) -> None:
    assert manager.store is not None
    path = manager.store.path
    specs = [("alpha", ["x"]), ("beta", ["x", "y"]), ("alpha", ["y"]), ("gamma", [])]
    ids = [
        manager.run(basis_circuits(2), AerSimulator(), name=n, job_tags=t, shots=SHOTS).job_set_id()
        for n, t in specs
    ]
    wait_for(lambda: all(stored_finished(path, i) for i in ids), "the sets to be stored")
    fresh = JobManager(store=path)

    def listed(**kwargs: Any) -> list[str]:
        return [s.job_set_id() for s in fresh.job_sets(**kwargs)]

    assert listed() == ids[::-1]
    assert listed(name="alpha") == [ids[2], ids[0]]
    assert listed(tags=["x"]) == [ids[1], ids[0]]
    assert listed(tags=["x", "y"]) == [ids[1]]
    assert listed(name="alpha", tags=["y"]) == [ids[2]]
    assert listed(limit=2) == [ids[3], ids[2]]
    assert listed(name="delta") == []
    assert JobManager(store=path).job_sets(name="beta")[0].tags() == ["x", "y"]

    fresh.delete_job_set(ids[1])
    assert listed() == [ids[3], ids[2], ids[0]]
    assert rows(path, "SELECT count(*) FROM chunks WHERE job_set_id=?", ids[1]) == [(0,)]
    with pytest.raises(JobManagerUnknownJobSet):
        JobManager(store=path).retrieve_job_set(ids[1])
    for gone in (ids[1], "no-such-id"):
        with pytest.raises(JobManagerUnknownJobSet, match=gone):
            fresh.delete_job_set(gone)

    running = manager.run(basis_circuits(2), FaultyBackend(AerSimulator(), hold_queued=60))
    with pytest.raises(JobManagerInvalidStateError, match="still running"):
        manager.delete_job_set(running.job_set_id())
    running.cancel()
    running.wait(timeout=30)
    manager.delete_job_set(running.job_set_id())
    assert running.job_set_id() not in listed()


def test_store_none_the_env_var_and_the_default_path(
    tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "home" / "data"))
    monkeypatch.setenv(STORE_ENV_VAR, str(tmp_path / "env" / "from_env.sqlite3"))
    in_memory = JobManager(store=None)
    job_set = in_memory.run(basis_circuits(2), AerSimulator(), shots=SHOTS)
    assert all_counts(job_set) == [exact(0), exact(1)]
    assert in_memory.store is None
    assert list(tmp_path.rglob("*")) == []  # nothing written anywhere
    assert in_memory.retrieve_job_set(job_set.job_set_id()) is job_set
    with pytest.raises(JobManagerUnknownJobSet, match="memory"):
        in_memory.retrieve_job_set("no-such-id")

    from_env = JobManager()
    assert from_env.store is not None
    assert from_env.store.path == tmp_path / "env" / "from_env.sqlite3"
    job_set_id = stored_set(from_env.store.path, num=2)
    assert [s.job_set_id() for s in JobManager().job_sets()] == [job_set_id]

    monkeypatch.delenv(STORE_ENV_VAR)
    default = JobManager()
    assert default.store is not None
    expected = pathlib.Path(platformdirs.user_data_dir("qjm_widget")) / "jobsets.sqlite3"
    assert default.store.path == expected
    assert expected.is_relative_to(tmp_path / "home")
    assert expected.exists()
    assert default.job_sets() == []


def test_a_retrieved_set_has_its_fields_results_and_memory_and_shows_in_a_widget(
    tmp_path: pathlib.Path, spawn: Callable[..., Worker]
) -> None:
    fields = {"name": "kept", "job_tags": ["a", "b"], "job_share_level": "project"}
    run_config = {"memory": True, "seed_simulator": 3}
    worker, store, job_set_id = run_worker(
        spawn, tmp_path, 6, max_experiments_per_job=4, **fields, **run_config
    )
    wait_for(lambda: stored_finished(store, job_set_id), "the set to be stored")
    assert worker.finish() == 0, worker.stderr()

    manager = JobManager(store=store)
    job_set = manager.retrieve_job_set(job_set_id)
    assert [job_set.name(), job_set.tags(), job_set.job_share_level] == list(fields.values())
    assert job_set.backend_name == "faulty_aer_simulator"
    assert manager.store is not None
    assert manager.store.load(job_set_id).run_config == run_config
    results = job_set.results(timeout=5)
    for i in range(6):
        assert results.get_counts(i) == results.get_counts(f"basis_{i}") == exact(i)
        assert results.get_memory(i) == [expected_key(i)] * SHOTS
    widget = JobSetWidget(job_set)
    assert widget.states[4:] == bytes([STATE_CODES[DONE]] * 2)
    assert (widget.name, widget.tags, widget.num_experiments) == ("kept", ["a", "b"], 6)
    assert widget.histogram["total"] == 6 * SHOTS
    assert widget.finished_at > 0
    widget.close()


def test_results_returned_means_the_store_has_them(manager: JobManager) -> None:
    """A script that prints results() and exits must not leave its last chunks unsaved."""
    assert manager.store is not None
    behind = []
    for attempt in range(20):
        job_set = manager.run(basis_circuits(4), AerSimulator(), max_experiments_per_job=2)
        job_set.results(timeout=30)
        if not stored_finished(manager.store.path, job_set.job_set_id()):
            behind.append((attempt, chunk_states(manager.store.path, job_set.job_set_id())))
    assert not behind, f"the store lagged behind results() in {len(behind)} of 20 runs: {behind}"
