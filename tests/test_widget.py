"""The widget's Python side: messages from the view, comm traffic, coalescing.

The comm is the widget's host, so it is replaced by one that records what would go over the
wire (the way ipykernel replaces comm.create_comm); everything else is real: Aer, the job
manager, the widget, and an asyncio loop in a thread standing in for the kernel's.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import pathlib
import re
from collections.abc import Iterator
from typing import Any

import comm
import numpy as np
import pytest
from comm_recorder import RecordingComm, kernel_event_loop, on_loop, replay_deltas
from conftest import basis_circuit, basis_circuits, expected_key, wait_until
from qiskit_aer import AerSimulator
from support import sweep_circuit, sweep_point

from qjm_widget import ChunkState, JobManager
from qjm_widget.testing import FaultyBackend
from qjm_widget.widget import PARTIAL, STATE_CODES, JobSetWidget, top_outcomes


@pytest.fixture(autouse=True)
def recording_comm(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(comm, "create_comm", RecordingComm)


@pytest.fixture
def kernel_loop() -> Iterator[asyncio.AbstractEventLoop]:
    with kernel_event_loop() as loop:
        yield loop


def send(widget: JobSetWidget, content: Any) -> None:
    widget._on_message(widget, content, [])


def wait_for_the_last_delta(recorder: RecordingComm, num_chunks: int, timeout: float = 10) -> None:
    """Wait until the recorded deltas have brought every chunk to DONE.

    The widget writes its traits inside ``hold_sync`` and the comm message goes out when that
    block ends, maybe on another thread: ``finished_at`` is set on the Python object before the
    message that carries the last delta is published, so it cannot tell that the traffic is over.
    """
    done = bytes([STATE_CODES[ChunkState.DONE]]) * num_chunks

    def delivered() -> bytearray:
        return replay_deltas(recorder.updates(), num_chunks)[0]

    assert wait_until(lambda: delivered() == done, timeout), (
        f"the deltas did not reach the end: codes {set(delivered())}"
    )


def test_view_messages_cancel_retry_select_and_show_experiment(
    manager: JobManager, kernel_loop: asyncio.AbstractEventLoop
) -> None:
    backend = FaultyBackend(
        AerSimulator(), hold_queued=0.5, error_jobs=1, error_when=lambda cs: cs[0].name == "basis_0"
    )
    job_set = manager.run(
        basis_circuits(8), backend, max_experiments_per_job=2, shots=10, max_concurrent_jobs=3
    )
    widget = on_loop(kernel_loop, lambda: JobSetWidget(job_set, loop=kernel_loop))
    on_loop(kernel_loop, lambda: send(widget, {"type": "cancel_chunk", "index": 3}))
    job_set.wait(timeout=30)
    states = [c.state for c in job_set.managed_jobs()]
    assert states == [ChunkState.ERROR, ChunkState.DONE, ChunkState.DONE, ChunkState.CANCELLED]

    on_loop(kernel_loop, lambda: send(widget, {"type": "select", "index": 0}))
    assert widget.selected_detail["state"] == "error"
    assert widget.selected_detail["can_retry"] is True
    assert "injected fault" in widget.selected_detail["error"]
    on_loop(kernel_loop, lambda: send(widget, {"type": "retry_failed"}))
    job_set.wait(timeout=30)
    assert wait_until(lambda: widget.selected_detail.get("state") == "done", 5)
    assert widget.selected_detail["can_retry"] is False

    on_loop(kernel_loop, lambda: send(widget, {"type": "retry_chunk", "index": 3}))
    job_set.wait(timeout=30)
    assert job_set.results().success
    on_loop(kernel_loop, lambda: send(widget, {"type": "show_experiment", "index": 5}))
    assert widget.histogram == {
        "experiment": 5,
        "point": -1,
        "num_points": 0,  # a bound circuit: no point picker
        "shape": [],
        "values": {},
        "bars": [[expected_key(5), 10]],
        "other": 0,
        "total": 10,
    }
    on_loop(kernel_loop, lambda: send(widget, {"type": "show_experiment", "index": -1}))
    assert widget.histogram["total"] == 80
    assert wait_until(lambda: widget.finished_at > 0 and not widget.errors, 5), widget.errors


def test_the_view_picks_one_point_of_a_sweep_and_sees_its_values(
    manager: JobManager, kernel_loop: asyncio.AbstractEventLoop
) -> None:
    sweep = sweep_circuit()
    states = [3, 6, 1, 7, 0, 5]
    values = np.array([sweep_point(s) for s in states]).reshape(2, 3, 3)
    job_set = manager.run(
        [basis_circuit(2), (sweep, values)], AerSimulator(), shots=10, max_executions_per_job=20
    )
    job_set.wait(timeout=30)
    widget = on_loop(kernel_loop, lambda: JobSetWidget(job_set, loop=kernel_loop))
    on_loop(kernel_loop, lambda: send(widget, {"type": "show_experiment", "index": 1}))
    assert widget.histogram["num_points"] == 6
    assert widget.histogram["shape"] == [2, 3]
    assert widget.histogram["point"] == -1
    assert widget.histogram["total"] == 60
    assert widget.histogram["values"] == {}
    on_loop(kernel_loop, lambda: send(widget, {"type": "show_experiment", "index": 1, "point": 4}))
    assert widget.histogram["bars"] == [[expected_key(0), 10]]
    assert widget.histogram["values"] == {"t0": 0.0, "t1": 0.0, "t2": 0.0}
    on_loop(kernel_loop, lambda: send(widget, {"type": "show_experiment", "index": 1, "point": 3}))
    assert widget.histogram["bars"] == [[expected_key(7), 10]]
    assert widget.histogram["values"] == pytest.approx({"t0": np.pi, "t1": np.pi, "t2": np.pi})
    on_loop(kernel_loop, lambda: send(widget, {"type": "select", "index": 2}))
    assert widget.selected_detail["points"] == [1, 2, 3]
    for bad in ({"point": 6}, {"point": -2}, {"point": 1.0}, {"point": True}):
        before = widget.histogram
        on_loop(
            kernel_loop,
            lambda bad=bad: send(widget, {"type": "show_experiment", "index": 1, **bad}),
        )
        assert widget.histogram == before, bad
    # A point of a bound circuit, or of no experiment, is refused too.
    for content in ({"index": 0, "point": 0}, {"index": -1, "point": 0}):
        before = widget.histogram
        on_loop(kernel_loop, lambda c=content: send(widget, {"type": "show_experiment", **c}))
        assert widget.histogram == before, content
    on_loop(kernel_loop, widget.close)


def test_cancel_all_from_the_view_cancels_the_set(manager: JobManager) -> None:
    job_set = manager.run(
        basis_circuits(6),
        FaultyBackend(AerSimulator(), hold_queued=2),
        max_experiments_per_job=1,
        shots=10,
    )
    widget = JobSetWidget(job_set)
    send(widget, {"type": "cancel_all"})
    job_set.wait(timeout=30)
    assert {c.state for c in job_set.managed_jobs()} == {ChunkState.CANCELLED}


@pytest.mark.parametrize(
    "content",
    [
        "cancel_all",
        None,
        [],
        {},
        {"type": "explode"},
        {"type": "cancel_chunk"},
        {"type": "cancel_chunk", "index": 4},
        {"type": "cancel_chunk", "index": -1},
        {"type": "retry_chunk", "index": "0"},
        {"type": "retry_chunk", "index": True},
        {"type": "retry_chunk", "index": 1.0},
        {"type": "select", "index": 99},
        {"type": "show_experiment", "index": 4},
        {"type": "show_experiment", "index": -2},
        {"type": "retry_chunk", "index": 0},  # a chunk that succeeded: nothing to retry
    ],
)
def test_invalid_view_messages_are_logged_and_change_nothing(
    manager: JobManager, content: Any, caplog: pytest.LogCaptureFixture
) -> None:
    job_set = manager.run(basis_circuits(4), AerSimulator(), max_experiments_per_job=1, shots=10)
    job_set.wait(timeout=30)
    widget = JobSetWidget(job_set)
    before = (widget.selected_detail, widget.histogram, job_set.statuses())
    with caplog.at_level(logging.WARNING, logger="qjm_widget.widget"):
        send(widget, content)
    assert [r.levelname for r in caplog.records] == ["WARNING"], caplog.text
    assert (widget.selected_detail, widget.histogram, job_set.statuses()) == before
    assert [c.attempts for c in job_set.managed_jobs()] == [1, 1, 1, 1]


def state_change_traffic(
    manager: JobManager, loop: asyncio.AbstractEventLoop, num_chunks: int
) -> tuple[float, float]:
    """(comm bytes per chunk state change, peak update messages in any 1 s window)."""
    backend = FaultyBackend(AerSimulator(), hold_queued=0.3)
    job_set = manager.run(
        basis_circuits(num_chunks),
        backend,
        max_experiments_per_job=1,
        shots=1,
        max_concurrent_jobs=100,
    )
    widget = on_loop(loop, lambda: JobSetWidget(job_set, loop=loop))
    recorder = widget.comm
    assert isinstance(recorder, RecordingComm)
    job_set.wait(timeout=300)
    assert job_set.results().success, job_set.error_messages()[:500]
    wait_for_the_last_delta(recorder, num_chunks)
    updates = recorder.updates()
    _codes, changes = replay_deltas(updates, num_chunks)
    assert changes >= 2 * num_chunks, f"only {changes} state changes were sent"
    times = [m.at for m in updates]
    peak = max(sum(1 for u in times if t <= u < t + 1.0) for t in times)
    widget.close()
    return sum(m.size for m in updates) / changes, peak


def test_comm_bytes_per_state_change_do_not_grow_with_the_set(
    manager: JobManager, kernel_loop: asyncio.AbstractEventLoop
) -> None:
    small, small_peak = state_change_traffic(manager, kernel_loop, 1000)
    large, large_peak = state_change_traffic(manager, kernel_loop, 2000)
    assert large < 1.5 * small, f"bytes per change grew: {small:.1f} -> {large:.1f}"
    assert small < 200, f"{small:.1f} bytes per state change"
    # At most 10 coalesced updates a second (plus the final one and a selection/summary write).
    assert max(small_peak, large_peak) <= 12, (small_peak, large_peak)


def test_updates_are_coalesced_not_sent_per_event(
    manager: JobManager, kernel_loop: asyncio.AbstractEventLoop
) -> None:
    events: list[object] = []
    job_set = manager.run(basis_circuits(300), AerSimulator(), max_experiments_per_job=1, shots=1)
    job_set.subscribe(events.append)
    widget = on_loop(kernel_loop, lambda: JobSetWidget(job_set, loop=kernel_loop))
    recorder = widget.comm
    assert isinstance(recorder, RecordingComm)
    opened = len(recorder.updates())  # what the widget wrote while it was being made
    job_set.wait(timeout=60)
    wait_for_the_last_delta(recorder, 300)  # every update of the run, the last one included
    times = [m.at for m in recorder.updates()[opened:]]
    gaps = [later - earlier for earlier, later in itertools.pairwise(times)]
    assert min(gaps, default=1.0) >= 0.09, f"updates {gaps} apart: more than 10 a second"
    assert len(times) < len(events) / 10, f"{len(times)} messages for {len(events)} events"


def test_the_final_snapshot_holds_the_end_state_for_saved_views(manager: JobManager) -> None:
    backend = FaultyBackend(
        AerSimulator(), fail_experiments=1, fail_experiment_when=lambda c: c.name == "basis_2"
    )
    job_set = manager.run(basis_circuits(6), backend, max_experiments_per_job=2, shots=10)
    widget = JobSetWidget(job_set)  # no loop: a plain script writes at once
    job_set.wait(timeout=30)
    done = STATE_CODES[ChunkState.DONE]

    # finished_at is set before the snapshot (states) is, and errors may be written after it.
    def end_state() -> tuple[bool, bytes, int, list[tuple[str, bool]]]:
        errors = [(e["state"], "experiment 2" in (e["error"] or "")) for e in widget.errors]
        return widget.finished_at > 0, widget.states[4:], widget.errors_total, errors

    expected = (True, bytes([done, PARTIAL, done]), 1, [("partial", True)])
    assert wait_until(lambda: end_state() == expected, 5), (end_state(), widget.errors)


def test_the_snapshot_is_written_again_when_a_retry_ends_the_set_again(
    manager: JobManager, kernel_loop: asyncio.AbstractEventLoop
) -> None:
    backend = FaultyBackend(
        AerSimulator(), error_jobs=1, error_when=lambda cs: cs[0].name == "basis_2"
    )
    job_set = manager.run(basis_circuits(6), backend, max_experiments_per_job=2, shots=10)
    # A long update interval: the retry goes from error to done between two updates.
    widget = on_loop(kernel_loop, lambda: JobSetWidget(job_set, loop=kernel_loop, min_interval=1.0))
    job_set.wait(timeout=30)
    done, error = STATE_CODES[ChunkState.DONE], STATE_CODES[ChunkState.ERROR]
    assert wait_until(lambda: widget.states[4:] == bytes([done, error, done]), 5), widget.states
    job_set.retry(1)
    job_set.wait(timeout=30)
    # The widget writes on the loop's thread: wait for both, not for one as a sign of the other.
    assert wait_until(lambda: widget.states[4:] == bytes([done] * 3) and widget.errors == [], 5), (
        widget.states,
        widget.errors,
    )
    on_loop(kernel_loop, widget.close)


def test_two_widgets_on_one_set_stay_in_step(manager: JobManager) -> None:
    job_set = manager.run(
        basis_circuits(6),
        FaultyBackend(AerSimulator(), hold_queued=0.2),
        max_experiments_per_job=1,
        shots=10,
    )
    first, second = JobSetWidget(job_set), JobSetWidget(job_set)
    job_set.wait(timeout=30)
    job_set.update_name("renamed")
    end = bytes([STATE_CODES[ChunkState.DONE]]) * 6

    # Both at the end, each by its own snapshot (each view numbers its own deltas), with the
    # counts of every shot; finished_at is set before the snapshot, the name before the counts.
    def views() -> list[tuple[bool, str, bytes, int | None]]:
        return [
            (w.finished_at > 0, w.name, w.states[4:], w.histogram.get("total"))
            for w in (first, second)
        ]

    assert wait_until(lambda: views() == [(True, "renamed", end, 60)] * 2, 5), views()
    assert first.histogram == second.histogram


def test_top_outcomes_keep_the_chart_readable() -> None:
    counts = {format(i, "05b"): 100 - i for i in range(20)}
    shown = top_outcomes(counts, bars=4)
    assert shown["bars"] == [["00000", 100], ["00001", 99], ["00010", 98]]
    assert shown["other"] == sum(100 - i for i in range(3, 20))
    assert shown["total"] == sum(counts.values())


def test_a_job_set_displays_itself_as_the_widget(manager: JobManager) -> None:
    job_set = manager.run(basis_circuits(2), AerSimulator(), shots=10)
    job_set.wait(timeout=30)
    bundle = job_set._repr_mimebundle_()
    data = bundle[0] if isinstance(bundle, tuple) else bundle
    assert "application/vnd.jupyter.widget-view+json" in data
    assert isinstance(job_set.widget(), JobSetWidget)


def test_the_views_state_names_follow_the_python_codes() -> None:
    """js/model.ts decodes the codes widget.py sends; both must list the states in one order."""
    source = (pathlib.Path(__file__).parent.parent / "js" / "model.ts").read_text()
    block = re.search(r"STATE_NAMES = \[(.*?)\]", source, re.S)
    assert block, "STATE_NAMES not found in js/model.ts"
    names = re.findall(r'"(\w+)"', block.group(1))
    python = {code: state.value for state, code in STATE_CODES.items()} | {PARTIAL: "partial"}
    assert names == [python[code] for code in range(len(python))]


def view_model_id(bundle: Any) -> str:
    data = bundle[0] if isinstance(bundle, tuple) else bundle
    return str(data["application/vnd.jupyter.widget-view+json"]["model_id"])


def test_displaying_a_set_again_shows_the_same_widget_over_one_comm(
    manager: JobManager, monkeypatch: pytest.MonkeyPatch
) -> None:
    opened: list[RecordingComm] = []

    class CountingComm(RecordingComm):
        """Keeps the comms of job set widgets (a DOMWidget opens one for its Layout too)."""

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            if "job_set_id" in kwargs.get("data", {}).get("state", {}):
                opened.append(self)

    monkeypatch.setattr(comm, "create_comm", CountingComm)
    job_set = manager.run(basis_circuits(2), AerSimulator(), shots=10)
    job_set.wait(timeout=30)
    other = manager.run(basis_circuits(1), AerSimulator(), shots=10)

    first, second = job_set._repr_mimebundle_(), job_set._repr_mimebundle_()
    widget = job_set.widget()
    assert widget is job_set.widget()
    assert view_model_id(first) == view_model_id(second) == widget.model_id
    assert len(opened) == 1, "a display opened a comm of its own"
    assert [m.kind for m in opened[0].sent].count("comm_open") == 1
    assert other.widget() is not widget  # one widget per set, not one for all
    assert len(opened) == 2

    # Closed: the next display makes a new widget, over a new comm.
    widget.close()
    assert opened[0].sent[-1].kind == "comm_close"
    again = job_set.widget()
    assert again is not widget
    assert view_model_id(job_set._repr_mimebundle_()) == again.model_id != view_model_id(first)
    assert len(opened) == 3

    # Closed from the front end (its comm_close): a new one too.
    opened[2].handle_close({"content": {"data": {}}})
    assert again.comm is None
    assert job_set.widget() is not again
    assert len(opened) == 4
    job_set.widget().close()
    other.widget().close()


def test_changes_between_reading_the_set_and_subscribing_reach_the_view(
    manager: JobManager, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A fast set can end while the widget is being made, after it read the chunks' states and
    before it subscribed: the events of that gap go to no one, yet the view must see the end."""
    job_set = manager.run(
        basis_circuits(4),
        FaultyBackend(AerSimulator(), hold_queued=0.2),
        max_experiments_per_job=1,
        shots=10,
    )
    subscribe = job_set.subscribe

    def late_subscribe(listener: Any) -> Any:
        job_set.wait(timeout=30)  # every event of the set is past
        return subscribe(listener)

    monkeypatch.setattr(job_set, "subscribe", late_subscribe)
    widget = JobSetWidget(job_set)
    assert isinstance(widget.comm, RecordingComm)
    wait_for_the_last_delta(widget.comm, 4)
    assert widget.finished_at > 0
    assert widget.histogram["total"] == 40
    widget.close()


def test_watch_gives_the_one_widget_of_a_set_over_its_one_comm(
    manager: JobManager, tmp_path: pathlib.Path
) -> None:
    running = manager.run(
        basis_circuits(2), FaultyBackend(AerSimulator(), hold_queued=0.2), shots=10
    )
    widget = running.widget()
    watched = manager.watch(running.job_set_id())
    assert watched is widget, "watch() made a second widget (and comm) for a set it runs"
    assert watched.comm is not None
    assert watched.comm.comm_id == widget.comm.comm_id
    running.wait(timeout=30)

    # Only in the store for a new manager: both watches retrieve it once, and show one widget.
    later = JobManager(store=manager.store)
    first = later.watch(running.job_set_id())
    assert first is not widget  # another manager's copy of the set
    assert later.watch(running.job_set_id()) is first
    for shown in (widget, first):
        shown.close()
