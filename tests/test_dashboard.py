"""The dashboard's Python side: listing, live rows, actions and messages from the view.

As in test_widget.py, the comm is replaced by one that records what would go over the wire and
an asyncio loop in a thread stands in for the kernel's; the manager, store and backends are real.
"""

from __future__ import annotations

import asyncio
import dataclasses
import itertools
import json
import pathlib
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any

import comm
import pytest
from comm_recorder import RecordingComm, kernel_event_loop, on_loop
from conftest import basis_circuits, wait_until
from qiskit_aer import AerSimulator
from store_workers.gated import gated_run

from qjm_widget import (
    ChunkState,
    JobManager,
    JobManagerInvalidInputError,
    ManagedJob,
    RetryPolicy,
    catalog,
    dashboard_views,
)
from qjm_widget.dashboard import DashboardWidget
from qjm_widget.persistence import snapshot
from qjm_widget.store import Store
from qjm_widget.testing import FaultyBackend
from qjm_widget.widget import JobSetWidget

SHOTS = 10


@pytest.fixture(autouse=True)
def recording_comm(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(comm, "create_comm", RecordingComm)


@pytest.fixture
def kernel_loop() -> Iterator[asyncio.AbstractEventLoop]:
    with kernel_event_loop() as loop:
        yield loop


def fill_store(path: pathlib.Path, count: int, *, prefix: str = "set") -> list[str]:
    """``count`` finished sets written as real records (one real set's rows, copied under new
    ids, names and creation times, one second apart): every tenth tagged "tenth". Ids returned
    oldest first."""
    template_manager = JobManager(store=None)
    template = template_manager.run(
        basis_circuits(4), AerSimulator(), max_experiments_per_job=2, shots=SHOTS
    )
    template.wait(timeout=60)
    record = snapshot(template)
    store = Store(path)
    ids = []
    start = time.time() - count
    for i in range(count):
        job_set_id = uuid.uuid4().hex
        store.add_job_set(
            dataclasses.replace(
                record,
                job_set_id=job_set_id,
                name=f"{prefix} {i:05d}",
                tags=["tenth"] if i % 10 == 0 else [],
                created_at=start + i,
                finished_at=start + i + 0.5,
                owner=(None, None),
            )
        )
        ids.append(job_set_id)
    return ids


def send(dashboard: DashboardWidget, content: Any) -> None:
    dashboard._on_message(dashboard.table, content, [])


def show_view(dashboard: DashboardWidget, view: str, shown: bool) -> None:
    """What a view sends when it is rendered (shown) and when it is removed."""
    send(dashboard, {"type": "views", "view": view, "shown": shown})
    assert dashboard.table.message == "", dashboard.table.message


def names(dashboard: DashboardWidget) -> list[str]:
    return [row["name"] for row in dashboard.table.rows]


def row(dashboard: DashboardWidget, job_set_id: str) -> dict[str, Any]:
    (found,) = [r for r in dashboard.table.rows if r["id"] == job_set_id]
    return found


@pytest.fixture
def dashboard_of(kernel_loop: asyncio.AbstractEventLoop) -> Iterator[Any]:
    made: list[DashboardWidget] = []

    def make(manager: JobManager, *, viewed: bool = True, **kwargs: Any) -> DashboardWidget:
        """A dashboard on the kernel's loop; ``viewed``: a view says it shows the table."""
        dashboard = on_loop(
            kernel_loop, lambda: DashboardWidget(manager, loop=kernel_loop, **kwargs)
        )
        made.append(dashboard)
        if viewed:
            show_view(dashboard, "view-1", True)
        return dashboard

    yield make
    for dashboard in made:
        on_loop(kernel_loop, dashboard.close)


def test_1000_stored_sets_are_written_in_seconds(tmp_path: pathlib.Path) -> None:
    started = time.perf_counter()
    fill_store(tmp_path / "store.sqlite3", 1000)
    assert time.perf_counter() - started < 30


def test_listing_is_newest_first_paged_filtered_and_sorted(
    tmp_path: pathlib.Path, dashboard_of: Any
) -> None:
    fill_store(tmp_path / "store.sqlite3", 120)
    manager = JobManager(store=tmp_path / "store.sqlite3")
    dashboard = dashboard_of(manager)
    table = dashboard.table
    assert table.total == 120
    assert names(dashboard) == [f"set {i:05d}" for i in range(119, 69, -1)]
    first = table.rows[0]
    assert (first["state"], first["final"], first["chunks"], first["experiments"]) == (
        "done",
        2,
        2,
        4,
    )
    assert first["where"] == "stored"
    assert len(first["id"]) == 32

    send(dashboard, {"type": "query", "page": 2})
    assert names(dashboard) == [f"set {i:05d}" for i in range(19, -1, -1)]
    send(dashboard, {"type": "query", "page": 3})  # beyond the last page: refused, shown
    assert "beyond the last page" in table.message
    assert table.page == 2

    send(dashboard, {"type": "query", "tag": "tenth", "page": 2})  # new filters: page 0
    assert table.total == 12
    assert table.page == 0
    assert names(dashboard)[:2] == ["set 00110", "set 00100"]
    send(dashboard, {"type": "query", "tag": "", "name": "SET 0011"})
    assert names(dashboard) == [f"set {i:05d}" for i in range(119, 109, -1)]
    send(dashboard, {"type": "query", "name": "", "sort": "name", "descending": False})
    assert names(dashboard)[:3] == ["set 00000", "set 00001", "set 00002"]
    assert (table.sort, table.descending) == ("name", False)


def test_every_column_sorts_chunks_by_the_share_final_then_by_size(
    tmp_path: pathlib.Path, dashboard_of: Any
) -> None:
    path = tmp_path / "store.sqlite3"
    none, half, older, newer = fill_store(path, 4)  # 2 chunks each, all done
    store = Store(path)
    for job_set_id, unfinished in ((none, [0, 1]), (half, [1])):
        stored = store.load(job_set_id)
        assert stored is not None
        for index in unfinished:
            stored.chunks[index].state = ChunkState.RUNNING
        store.save_chunks(job_set_id, [stored.chunks[i] for i in unfinished])
    memory = JobManager(store=None)
    big = memory.run(
        basis_circuits(4), AerSimulator(), name="big", max_experiments_per_job=1, shots=SHOTS
    )
    big.wait(timeout=60)
    manager = JobManager(store=path)
    manager._registry.add(big)  # a live set the store lacks: merged into the catalog's order
    dashboard = dashboard_of(manager)
    assert set(dashboard.table.sort_keys) == {
        "name",
        "id",
        "backend",
        "created",
        "state",
        "chunks",
        "experiments",
        "usage",
    }
    ids = lambda: [r["id"] for r in dashboard.table.rows]  # noqa: E731
    send(dashboard, {"type": "query", "sort": "chunks", "descending": True})
    assert dashboard.table.message == ""
    # 4 of 4 final, then 2 of 2 (the newer first), 1 of 2, 0 of 2.
    assert ids() == [big.job_set_id(), newer, older, half, none]
    send(dashboard, {"type": "query", "sort": "chunks", "descending": False})
    assert ids() == [none, half, newer, older, big.job_set_id()]
    # Without the live set, the store orders the page itself, the same way.
    stored_only = dashboard_of(JobManager(store=path))
    send(stored_only, {"type": "query", "sort": "chunks", "descending": True})
    assert [r["id"] for r in stored_only.table.rows] == [newer, older, half, none]
    send(dashboard, {"type": "query", "sort": "id", "descending": False})
    assert ids() == sorted([none, half, older, newer, big.job_set_id()])
    send(stored_only, {"type": "query", "sort": "id", "descending": True})
    assert [r["id"] for r in stored_only.table.rows] == sorted(
        [none, half, older, newer], reverse=True
    )


def test_live_sets_without_a_store_are_listed_and_merged(
    dashboard_of: Any, tmp_path: pathlib.Path
) -> None:
    memory = JobManager(store=None)
    for name in ("first", "second"):
        memory.run(basis_circuits(2), AerSimulator(), name=name, shots=SHOTS).wait(timeout=60)
    dashboard = dashboard_of(memory)
    assert names(dashboard) == ["second", "first"]
    assert all(r["where"] == "here" for r in dashboard.table.rows)
    send(dashboard, {"type": "query", "name": "fir"})
    assert names(dashboard) == ["first"]

    # A store's sets and a live set it lacks, in one order.
    fill_store(tmp_path / "store.sqlite3", 3)
    stored = JobManager(store=tmp_path / "store.sqlite3")
    stray = memory.job_sets(name="second")[0]
    stored._registry.add(stray)  # held here while `stray` is referenced
    both = dashboard_of(stored)
    assert names(both) == ["second", "set 00002", "set 00001", "set 00000"]
    assert both.table.total == 4


def test_a_running_row_updates_live_with_a_few_bytes_per_change(
    tmp_path: pathlib.Path, dashboard_of: Any
) -> None:
    fill_store(tmp_path / "store.sqlite3", 60)
    manager = JobManager(store=tmp_path / "store.sqlite3")
    backend = FaultyBackend(AerSimulator(), hold_queued=0.6)
    job_set = manager.run(
        basis_circuits(8), backend, name="live", max_experiments_per_job=2, shots=SHOTS
    )
    dashboard = dashboard_of(manager)
    table = dashboard.table
    assert table.rows[0]["name"] == "live"
    assert table.rows[0]["state"] == "running"
    assert len(table.rows) == 50
    page_bytes = len(json.dumps(table.rows))
    recorder: RecordingComm = table.comm
    recorder.sent.clear()
    job_set.wait(timeout=60)
    assert wait_until(lambda: row(dashboard, job_set.job_set_id())["state"] == "done", 10)
    updates = [m for m in recorder.updates() if "updates" in m.data.get("state", {})]
    assert updates, "no row update was sent"
    for message in updates:
        sent = message.data["state"]["updates"]["rows"]
        assert [r["id"] for r in sent] == [job_set.job_set_id()]
        assert message.size < 1000, message.data  # one row, not the page
    assert row(dashboard, job_set.job_set_id())["final"] == 4
    # At most 10 updates a second; the set ran at least 0.6 s.
    times = [m.at for m in updates]
    assert all(b - a >= 0.09 for a, b in itertools.pairwise(times))
    assert page_bytes > 20 * 1000 / 2  # the page is much bigger than one update
    # The set ended: the whole page went out once, so saved state shows the end.
    assert any("rows" in m.data.get("state", {}) for m in recorder.updates())


def test_a_set_run_after_the_dashboard_opened_appears(dashboard_of: Any) -> None:
    manager = JobManager(store=None)
    dashboard = dashboard_of(manager, poll_interval=0.1)
    assert dashboard.table.rows == []
    job_set = manager.run(basis_circuits(2), AerSimulator(), name="late", shots=SHOTS)
    assert wait_until(lambda: names(dashboard) == ["late"], 5)
    job_set.wait(timeout=60)
    assert wait_until(lambda: dashboard.table.rows[0]["state"] == "done", 5)


def test_open_retry_cancel_and_delete(
    tmp_path: pathlib.Path, dashboard_of: Any, kernel_loop: asyncio.AbstractEventLoop
) -> None:
    path = tmp_path / "store.sqlite3"
    (old,) = fill_store(path, 1)
    manager = JobManager(store=path)
    failing = FaultyBackend(
        AerSimulator(), error_jobs=1, error_when=lambda cs: cs[0].name == "basis_0"
    )
    failed = manager.run(
        basis_circuits(4),
        failing,
        name="failing",
        max_experiments_per_job=2,
        shots=SHOTS,
        retry_policy=RetryPolicy(attempts=1),
    )
    failed.wait(timeout=60)
    slow = manager.run(
        basis_circuits(4), FaultyBackend(AerSimulator(), hold_queued=30), name="slow", shots=SHOTS
    )
    dashboard = dashboard_of(manager)
    do = lambda content: on_loop(kernel_loop, lambda: send(dashboard, content))  # noqa: E731
    assert row(dashboard, failed.job_set_id())["state"] == "1 failed"

    do({"type": "open", "id": old})  # a stored set: retrieved, its widget under the table
    (opened,) = dashboard.slot.children
    assert isinstance(opened, JobSetWidget)
    assert opened.job_set_id == old
    assert dashboard.table.opened == old
    do({"type": "close"})
    assert dashboard.slot.children == ()
    assert opened.comm is not None  # the set's widget, which other displays may show

    do({"type": "retry_failed", "id": failed.job_set_id()})
    assert row(dashboard, failed.job_set_id())["message"] == "retrying 1 chunks"
    failed.wait(timeout=60)
    assert wait_until(lambda: row(dashboard, failed.job_set_id())["state"] == "done", 10)

    do({"type": "delete", "id": slow.job_set_id()})  # running: refused, said in its row
    assert "still running" in row(dashboard, slow.job_set_id())["message"]
    do({"type": "cancel", "id": slow.job_set_id()})
    slow.wait(timeout=30)
    assert wait_until(lambda: row(dashboard, slow.job_set_id())["state"] == "cancelled", 10)
    do({"type": "delete", "id": slow.job_set_id()})
    assert slow.job_set_id() not in [r["id"] for r in dashboard.table.rows]
    assert manager.store is not None
    assert manager.store.load(slow.job_set_id()) is None


def test_a_stored_set_is_retried_on_the_backend_the_dashboard_was_given(
    tmp_path: pathlib.Path, dashboard_of: Any, kernel_loop: asyncio.AbstractEventLoop
) -> None:
    path = tmp_path / "store.sqlite3"
    first = JobManager(store=path)
    failing = FaultyBackend(
        AerSimulator(), error_jobs=1, error_when=lambda cs: cs[0].name == "basis_2"
    )
    job_set = first.run(
        basis_circuits(4),
        failing,
        max_experiments_per_job=2,
        shots=SHOTS,
        retry_policy=RetryPolicy(attempts=1),
    )
    job_set.wait(timeout=60)
    later = JobManager(store=path)  # another session: the set is only in the store
    bare = dashboard_of(later)
    job_set_id = job_set.job_set_id()
    on_loop(kernel_loop, lambda: send(bare, {"type": "retry_failed", "id": job_set_id}))
    assert "pass backends=" in row(bare, job_set_id)["message"]

    dashboard = dashboard_of(later, backends={failing.name: FaultyBackend(AerSimulator())})
    on_loop(kernel_loop, lambda: send(dashboard, {"type": "retry_failed", "id": job_set_id}))
    retried = later.retrieve_job_set(job_set_id)
    retried.wait(timeout=60)
    assert retried.results().success
    assert wait_until(lambda: row(dashboard, job_set_id)["state"] == "done", 10)


def counted_polls(dashboard: DashboardWidget) -> threading.Semaphore:
    """Released once each time the dashboard's poller has read the store."""
    polls = threading.Semaphore(0)
    real_poll = dashboard._poll_once

    def counted_poll() -> None:
        real_poll()
        polls.release()

    dashboard._poll_once = counted_poll
    return polls


def wait_for_polls(polls: threading.Semaphore, count: int, why: str) -> None:
    for _ in range(count):
        assert polls.acquire(timeout=30), why


def mark_running_in(path: pathlib.Path, job_set_id: str, pid: int) -> tuple[Store, ManagedJob]:
    """The stored set as if process ``pid`` ran it: unfinished, owned by it, its chunk 1
    running (returned with the store, to move it on)."""
    store = Store(path)
    stored = store.load(job_set_id)
    assert stored is not None
    store.save_job_set_fields(
        job_set_id, finished_at=None, owner_host=socket.gethostname(), owner_pid=pid
    )
    chunk = stored.chunks[1]
    chunk.state = ChunkState.RUNNING
    store.save_chunks(job_set_id, [chunk])
    return store, chunk


@dataclasses.dataclass(frozen=True)
class RunElsewhere:
    path: pathlib.Path
    job_set_id: str
    store: Store
    chunk: ManagedJob
    """Its chunk 1, running: save it to move the set on."""


@pytest.fixture
def elsewhere(tmp_path: pathlib.Path) -> Iterator[RunElsewhere]:
    """One stored set as if a live process ran it (a sleeping one; see mark_running_in)."""
    path = tmp_path / "store.sqlite3"
    (job_set_id,) = fill_store(path, 1)
    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(300)"])
    try:
        store, chunk = mark_running_in(path, job_set_id, other.pid)
        yield RunElsewhere(path, job_set_id, store, chunk)
    finally:
        other.kill()
        other.wait()


def test_a_set_another_process_runs_is_read_again_from_the_store(
    elsewhere: RunElsewhere, dashboard_of: Any
) -> None:
    path, job_set_id = elsewhere.path, elsewhere.job_set_id
    store, chunk = elsewhere.store, elsewhere.chunk
    dashboard = dashboard_of(JobManager(store=path), poll_interval=0.1)
    shown = row(dashboard, job_set_id)
    assert (shown["state"], shown["where"], shown["read_only"]) == (
        "running",
        "elsewhere",
        True,
    )
    send(dashboard, {"type": "open", "id": job_set_id})  # read-only, followed
    (opened,) = dashboard.slot.children
    assert isinstance(opened, JobSetWidget)
    assert row(dashboard, job_set_id)["message"] == "read-only: run by another process"
    send(dashboard, {"type": "cancel", "id": job_set_id})
    assert "another process" in row(dashboard, job_set_id)["message"]
    chunk.state = ChunkState.DONE
    store.save_chunks(job_set_id, [chunk])
    assert wait_until(lambda: row(dashboard, job_set_id)["state"] == "done", 5)
    send(dashboard, {"type": "close"})
    assert dashboard.slot.children == ()


def test_closing_a_followed_set_in_the_dashboard_leaves_its_watch_following(
    elsewhere: RunElsewhere, dashboard_of: Any
) -> None:
    path, job_set_id = elsewhere.path, elsewhere.job_set_id
    store, chunk = elsewhere.store, elsewhere.chunk
    manager = JobManager(store=path)
    dashboard = dashboard_of(manager, poll_interval=0.1)
    # A copy only the dashboard holds stops, its widget closed, when the dashboard closes it.
    send(dashboard, {"type": "open", "id": job_set_id})
    (alone,) = dashboard.slot.children
    assert alone._job_set.following
    send(dashboard, {"type": "close"})
    assert not alone._job_set.following
    assert alone.comm is None
    watched = manager.watch(job_set_id)
    copy = watched._job_set
    assert copy is not alone._job_set
    # Watched first, then opened and closed in the dashboard; then the other way round.
    for watch_first in (True, False):
        if not watch_first:
            send(dashboard, {"type": "open", "id": job_set_id})
            assert manager.watch(job_set_id) is watched
        else:
            send(dashboard, {"type": "open", "id": job_set_id})
        assert dashboard.slot.children == (watched,)
        send(dashboard, {"type": "close"})
        assert dashboard.slot.children == ()
        assert watched.comm is not None, "the dashboard closed the widget watch() shows"
        assert copy.following, "the dashboard stopped the copy watch() shows"
    chunk.state = ChunkState.DONE
    store.save_chunks(job_set_id, [chunk])
    assert wait_until(lambda: copy.managed_jobs()[1].state is ChunkState.DONE, 10)
    watched.close()


def test_a_set_whose_process_died_turns_interrupted_and_is_not_read_again(
    tmp_path: pathlib.Path,
    dashboard_of: Any,
    kernel_loop: asyncio.AbstractEventLoop,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    path = tmp_path / "shared.sqlite3"
    reads: list[str] = []
    real_summary = catalog.summary

    def counting_summary(store: Store, job_set_id: str) -> Any:
        reads.append(job_set_id)
        return real_summary(store, job_set_id)

    monkeypatch.setattr(catalog, "summary", counting_summary)
    with gated_run(tmp_path, path, count=4) as run:
        backend = FaultyBackend(AerSimulator())  # the worker's backend, by its name
        dashboard = dashboard_of(
            JobManager(store=path), poll_interval=0.05, backends={backend.name: backend}
        )
        polls = counted_polls(dashboard)

        def wait_polls(count: int) -> None:
            wait_for_polls(polls, count, "the poller stopped")

        job_set_id = run.job_set_id
        shown = row(dashboard, job_set_id)
        assert (shown["state"], shown["where"]) == ("running", "elsewhere")
        wait_polls(1)
        assert job_set_id in reads, "the poller does not read a set another process runs"
        run.worker.kill()  # SIGKILL: the set's rows say it is unfinished, owned by a dead pid
    assert wait_until(lambda: row(dashboard, job_set_id)["state"] == "interrupted", 30), row(
        dashboard, job_set_id
    )
    shown = row(dashboard, job_set_id)
    assert (shown["where"], shown["read_only"]) == ("stored", False)
    # A poll that began before the row changed may still read it once; one more poll later,
    # every poll sees the interrupted row.
    wait_polls(2)
    before = reads.count(job_set_id)
    wait_polls(3)
    assert reads.count(job_set_id) == before, "the poller still reads an interrupted set"

    do = lambda content: on_loop(kernel_loop, lambda: send(dashboard, content))  # noqa: E731
    do({"type": "cancel", "id": job_set_id})
    assert "interrupted" in row(dashboard, job_set_id)["message"]
    do({"type": "retry_failed", "id": job_set_id})  # on the backend given: run here now
    assert row(dashboard, job_set_id)["message"] == "retrying 2 chunks"
    assert row(dashboard, job_set_id)["where"] == "here"
    assert wait_until(lambda: row(dashboard, job_set_id)["state"] == "done", 60), row(
        dashboard, job_set_id
    )


def test_the_poller_reads_the_store_only_while_a_view_shows_the_table(
    elsewhere: RunElsewhere, dashboard_of: Any
) -> None:
    path, job_set_id = elsewhere.path, elsewhere.job_set_id
    store, chunk = elsewhere.store, elsewhere.chunk
    dashboard = dashboard_of(JobManager(store=path), viewed=False, poll_interval=0.05)
    assert row(dashboard, job_set_id)["where"] == "elsewhere"
    polls = counted_polls(dashboard)
    # A second, shown dashboard is the clock: while it polls, the first must not.
    clock = dashboard_of(JobManager(store=path), poll_interval=0.05)
    clock_polls = counted_polls(clock)

    def wait_clock(count: int) -> None:
        wait_for_polls(clock_polls, count, "the shown dashboard stopped polling")

    assert wait_until(dashboard._paused.is_set, 10), "no view, yet the poller is not paused"
    chunk.state = ChunkState.DONE
    store.save_chunks(job_set_id, [chunk])
    wait_clock(3)
    assert wait_until(lambda: row(clock, job_set_id)["final"] == 2, 10)
    assert not polls.acquire(blocking=False), "the poller read the store with no view"
    assert row(dashboard, job_set_id)["final"] == 1

    show_view(dashboard, "a", True)
    show_view(dashboard, "b", True)
    assert polls.acquire(timeout=30), "a view was shown, yet the poller stayed paused"
    assert wait_until(lambda: row(dashboard, job_set_id)["final"] == 2, 10)
    while polls.acquire(blocking=False):
        pass
    show_view(dashboard, "a", False)  # "b" still shows it
    assert polls.acquire(timeout=30), "one view of two was removed, and polling stopped"
    show_view(dashboard, "b", False)
    assert wait_until(dashboard._paused.is_set, 10), "the last view went, polling did not"
    while polls.acquire(blocking=False):  # polls that began before the pause
        pass
    wait_clock(3)
    assert not polls.acquire(blocking=False), "the poller read the store with no view"


def test_a_view_that_goes_silent_is_taken_as_gone(
    elsewhere: RunElsewhere, dashboard_of: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A reloaded page never says its views were removed; they stop saying they are shown.
    monkeypatch.setattr(dashboard_views, "VIEW_EXPIRY_S", 0.5)
    dashboard = dashboard_of(JobManager(store=elsewhere.path), viewed=False, poll_interval=0.05)
    polls = counted_polls(dashboard)
    show_view(dashboard, "reloaded", True)
    assert polls.acquire(timeout=30), "a view was shown, yet the poller stayed paused"
    assert wait_until(dashboard._paused.is_set, 30), "a silent view kept the poller reading"
    show_view(dashboard, "reloaded", True)  # its heartbeat, late: it shows the table again
    assert polls.acquire(timeout=30), "a view heard from again left the poller paused"


def test_a_view_heard_from_within_its_expiry_stays() -> None:
    now = [0.0]
    views = dashboard_views.ShownViews(clock=lambda: now[0])
    views.heard("a", True)
    views.heard("b", True)
    for _ in range(5):  # "a" says it is shown every heartbeat, "b" never again
        now[0] += dashboard_views.VIEW_HEARTBEAT_S
        views.heard("a", True)
        views.expire()
    assert list(views) == ["a"]
    assert views.any.is_set()
    views.heard("a", False)
    assert not views.any.is_set()


@pytest.mark.parametrize(
    "content",
    [
        "open",
        None,
        {"type": "explode"},
        {"type": "open"},
        {"type": "open", "id": 7},
        {"type": "delete", "id": "0" * 32},
        {"type": "query", "page": -1},
        {"type": "query", "page": True},
        {"type": "query", "page": "1"},
        {"type": "query", "sort": "DROP TABLE job_sets"},
        {"type": "query", "descending": "yes"},
        {"type": "query", "name": 3},
        {"type": "query", "name": "x" * 500},
        {"type": "views"},
        {"type": "views", "view": "", "shown": True},
        {"type": "views", "view": "v" * 65, "shown": True},
        {"type": "views", "view": "v", "shown": "yes"},
    ],
)
def test_bad_messages_are_ignored_with_a_message(
    tmp_path: pathlib.Path, dashboard_of: Any, content: Any, caplog: pytest.LogCaptureFixture
) -> None:
    fill_store(tmp_path / "store.sqlite3", 3)
    dashboard = dashboard_of(JobManager(store=tmp_path / "store.sqlite3"))
    before = list(dashboard.table.rows)
    send(dashboard, content)
    assert dashboard.table.message.startswith("ignored: ")
    assert "ignored a message from the dashboard" in caplog.text
    assert dashboard.table.rows == before


def test_close_stops_the_poller_and_the_listeners(dashboard_of: Any) -> None:
    manager = JobManager(store=None)
    job_set = manager.run(
        basis_circuits(2), FaultyBackend(AerSimulator(), hold_queued=0.3), shots=SHOTS
    )
    dashboard = DashboardWidget(manager, poll_interval=0.05)
    assert dashboard._subscriptions
    dashboard.close()
    assert not dashboard._poller.is_alive()
    assert not dashboard._subscriptions
    job_set.wait(timeout=30)


def test_the_manager_shows_its_dashboard_or_its_report(
    monkeypatch: pytest.MonkeyPatch, tmp_path: pathlib.Path
) -> None:
    manager = JobManager(store=tmp_path / "store.sqlite3")
    manager.run(basis_circuits(2), AerSimulator(), name="shown", shots=SHOTS).wait(timeout=60)
    bundle = manager._repr_mimebundle_()
    assert "application/vnd.jupyter.widget-view+json" in bundle
    import qjm_widget.dashboard as module

    dashboard = manager.dashboard()
    assert isinstance(dashboard, module.DashboardWidget)
    assert manager.dashboard() is dashboard, "each display made another dashboard"
    assert bundle["application/vnd.jupyter.widget-view+json"]["model_id"] == dashboard.model_id
    with pytest.raises(JobManagerInvalidInputError, match="backends must be a dict"):
        manager.dashboard(backends=[AerSimulator()])  # type: ignore[arg-type]
    dashboard.close()
    assert dashboard.closed
    again = manager.dashboard()
    assert again is not dashboard, "a closed dashboard was shown again"
    again.close()
    monkeypatch.setitem(sys.modules, "qjm_widget.dashboard", None)  # as without anywidget
    assert "shown" in manager._repr_mimebundle_()["text/plain"]
