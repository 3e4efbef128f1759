"""Following a set that another process runs: a real second process (store_workers/run_gated.py)
runs it into the same store file, one job at a time as the test lets it."""

from __future__ import annotations

import dataclasses
import pathlib
import threading
from collections.abc import Iterator

import pytest
from conftest import expected_key, wait_until
from qiskit_aer import AerSimulator
from store_workers.gated import PER_JOB, SHOTS, gated_run
from store_workers.support import stored_finished, wait_for
from support import basis_circuits

from qjm_widget import ChunkState, JobManager, JobManagerError, JobSetEvent
from qjm_widget.follow import FollowedJobSet, JobSetRunElsewhereError

TIMEOUT = 120.0


def follower_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("qjm-follow")]


@pytest.fixture
def store(tmp_path: pathlib.Path) -> pathlib.Path:
    return tmp_path / "shared.sqlite3"


@pytest.fixture
def follower_manager(store: pathlib.Path) -> Iterator[JobManager]:
    """A manager of this process on the shared file; no follower thread may outlive a test."""
    yield JobManager(store=store)
    assert wait_until(lambda: not follower_threads(), timeout=TIMEOUT), follower_threads()


def exact_counts(count: int) -> list[dict[str, int]]:
    return [{expected_key(i): SHOTS} for i in range(count)]


def test_a_set_run_by_another_process_is_followed_live_to_its_exact_counts(
    tmp_path: pathlib.Path, store: pathlib.Path, follower_manager: JobManager
) -> None:
    with gated_run(tmp_path, store, count=6) as run:
        job_set = follower_manager.follow(run.job_set_id)
        assert isinstance(job_set, FollowedJobSet)
        assert job_set.following
        assert job_set.owner[1] == run.pid
        events: list[JobSetEvent] = []
        job_set.subscribe(events.append)
        assert not job_set.done()
        for index in range(3):
            run.go()
            chunk = job_set.managed_jobs()[index]
            assert wait_until(lambda c=chunk: c.state is ChunkState.DONE, TIMEOUT), chunk
            later = job_set.managed_jobs()[index + 1 :]
            # The next jobs wait at the gate in the other process: they cannot be final yet.
            assert not any(c.state.is_final for c in later), later
            first = index * PER_JOB
            for experiment in range(first, first + PER_JOB):
                assert job_set.merged_counts(experiment) == {expected_key(experiment): SHOTS}
            assert job_set.done() is (index == 2)
        job_set.wait(timeout=TIMEOUT)
        assert job_set.counts().per_experiment == exact_counts(6)
        results = job_set.results(timeout=TIMEOUT)
        assert [results.get_counts(i) for i in range(6)] == exact_counts(6)
        assert wait_until(lambda: not job_set.following, TIMEOUT)
    kinds = [(e.kind, e.chunk_index, e.state) for e in events]
    assert kinds.count(("final", None, None)) == 1
    assert kinds[-1] == ("final", None, None)
    for index in range(3):
        # Each chunk's counts once, before the chunk is announced done (as in its own process).
        assert kinds.count(("counts", index, "done")) == 1
        assert kinds.index(("counts", index, "done")) < kinds.index(("chunk", index, "done"))
    done_order = [e.chunk_index for e in events if e.kind == "chunk" and e.state == "done"]
    assert done_order == [0, 1, 2]


def test_retry_and_cancel_are_refused_naming_the_process_that_runs_the_set(
    tmp_path: pathlib.Path, store: pathlib.Path, follower_manager: JobManager
) -> None:
    with gated_run(tmp_path, store, count=4) as run:
        job_set = follower_manager.follow(run.job_set_id)
        calls = {
            "retry": lambda: job_set.retry(0),
            "retry_failed": job_set.retry_failed,
            "cancel": job_set.cancel,
            "cancel_job": lambda: job_set.cancel_job(1),
            "update_name": lambda: job_set.update_name("other"),
        }
        for what, call in calls.items():
            with pytest.raises(JobSetRunElsewhereError) as refused:
                call()
            assert isinstance(refused.value, JobManagerError), what
            assert f"process {run.pid}" in str(refused.value), what
            assert "read-only" in str(refused.value), what
        # Nothing was cancelled or submitted from here: the other process's rows are as they were.
        assert run.states() == ["submitting", "pending"]
        job_set.close()
        assert not job_set.following
        assert not follower_threads()
        run.go(2)
        run.wait_for_states(["done", "done"])
    assert job_set.managed_jobs()[1].state is ChunkState.PENDING  # closed: no longer followed


def test_a_set_whose_process_dies_ends_lost_and_the_follower_stops(
    tmp_path: pathlib.Path, store: pathlib.Path, follower_manager: JobManager
) -> None:
    with gated_run(tmp_path, store, count=4) as run:
        job_set = follower_manager.follow(run.job_set_id)
        run.go()
        assert wait_until(lambda: job_set.managed_jobs()[0].state is ChunkState.DONE, TIMEOUT)
        run.worker.kill()
        job_set.wait(timeout=TIMEOUT)
    first, second = job_set.managed_jobs()
    assert first.state is ChunkState.DONE
    assert second.state is ChunkState.LOST
    assert f"process {run.pid}" in (second.error or "")
    assert job_set.counts().per_experiment == [*exact_counts(2), {}, {}]
    assert wait_until(lambda: not job_set.following, TIMEOUT)


def test_follow_gives_the_set_itself_once_no_other_process_runs_it(
    tmp_path: pathlib.Path, store: pathlib.Path, follower_manager: JobManager
) -> None:
    with gated_run(tmp_path, store, count=4, gated=False) as run:
        wait_for(lambda: stored_finished(store, run.job_set_id), "the set finished", TIMEOUT)
        job_set = follower_manager.follow(run.job_set_id)
        assert not isinstance(job_set, FollowedJobSet)
        assert job_set.done()
        assert job_set.counts().per_experiment == exact_counts(4)
    own = follower_manager.run(basis_circuits(2), AerSimulator(), shots=SHOTS)
    assert follower_manager.follow(own.job_set_id()) is own
    own.wait(timeout=TIMEOUT)


def test_a_chunk_stored_done_again_replaces_its_counts(
    store: pathlib.Path, follower_manager: JobManager
) -> None:
    own = follower_manager.run(
        basis_circuits(4), AerSimulator(), shots=SHOTS, max_experiments_per_job=PER_JOB
    )
    own.wait(timeout=TIMEOUT)
    assert follower_manager.store is not None
    stored = follower_manager.store.load(own.job_set_id())
    assert stored is not None
    with FollowedJobSet(follower_manager.store, stored, follower_manager._scheduler) as copy:
        events: list[JobSetEvent] = []
        copy.subscribe(events.append)
        assert wait_until(lambda: not copy.following, TIMEOUT)  # final in the store: it stops
        again = follower_manager.store.load_chunks(own.job_set_id(), copy.experiments(), [0])
        # As a retry in the other process would store it: a new job, the same counts again.
        copy._mirror([dataclasses.replace(again[0], job_id="retried", state=ChunkState.PENDING)])
        copy._mirror([dataclasses.replace(again[0], job_id="retried")])
        assert copy.counts().per_experiment == exact_counts(4)
        assert [e.kind for e in events] == ["chunk", "counts", "chunk", "final"]


def test_watch_is_a_read_only_widget_that_follows_the_set(
    tmp_path: pathlib.Path, store: pathlib.Path, follower_manager: JobManager
) -> None:
    pytest.importorskip("anywidget")
    from qjm_widget.widget import STATE_CODES, JobSetWidget

    with gated_run(tmp_path, store, count=4) as run:
        widget = follower_manager.watch(run.job_set_id)
        assert isinstance(widget, JobSetWidget)
        assert isinstance(widget._job_set, FollowedJobSet)
        assert widget.can_cancel is False
        run.go(2)
        done = STATE_CODES[ChunkState.DONE]
        assert wait_until(lambda: widget.states[4:] == bytes([done, done]), TIMEOUT)
        assert wait_until(lambda: widget.finished_at > 0, TIMEOUT)
        assert widget.histogram["total"] == 4 * SHOTS
        widget.close()


def test_watching_a_set_another_process_runs_again_shows_the_same_widget(
    tmp_path: pathlib.Path, store: pathlib.Path, follower_manager: JobManager
) -> None:
    pytest.importorskip("anywidget")

    with gated_run(tmp_path, store, count=4) as run:
        widget = follower_manager.watch(run.job_set_id)
        again = follower_manager.watch(run.job_set_id)
        assert again is widget, "a second watch() opened a second comm for the same set"
        assert again.comm is not None
        assert again.comm.comm_id == widget.comm.comm_id
        # The one followed copy under both, read by one follower thread.
        assert follower_manager.follow(run.job_set_id) is widget._job_set
        assert len(follower_threads()) == 1, follower_threads()
        run.go(2)
        assert wait_until(lambda: widget.finished_at > 0, TIMEOUT)
        assert widget._job_set.counts().per_experiment == exact_counts(4)
        widget.close()
