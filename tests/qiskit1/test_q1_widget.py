"""The widget over a job set on qiskit-ibm-provider's IBMBackend (qiskit 1.4): the failed job's
reason in the errors panel, Retry failed from the view, and the final states and counts."""

from __future__ import annotations

import asyncio
import pathlib
import sys
from collections.abc import Iterator
from typing import Any

import comm
import pytest
from conftest import assert_exact, basis_circuits, wait_until

from qjm_widget import ChunkState, JobManager
from qjm_widget.widget import STATE_CODES, JobSetWidget

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))  # tests/: the widget host
from comm_recorder import RecordingComm, kernel_event_loop, on_loop

SHOTS = 30
REASON = "qubit 2 lost its calibration"


@pytest.fixture
def kernel_loop(monkeypatch: pytest.MonkeyPatch) -> Iterator[asyncio.AbstractEventLoop]:
    monkeypatch.setattr(comm, "create_comm", RecordingComm)
    with kernel_event_loop() as loop:
        yield loop


def test_the_widget_shows_a_provider_jobs_failure_and_its_retry_button_finishes_the_set(
    api: Any, backend: Any, manager: JobManager, kernel_loop: asyncio.AbstractEventLoop
) -> None:
    api.faults.fail_job(count=1, reason=REASON)
    job_set = manager.run(basis_circuits(6), backend, max_experiments_per_job=2, shots=SHOTS)
    widget = on_loop(kernel_loop, lambda: JobSetWidget(job_set, loop=kernel_loop))
    try:
        job_set.wait(timeout=30)
        (bad,) = [c for c in job_set.managed_jobs() if c.state is not ChunkState.DONE]
        assert bad.state is ChunkState.ERROR, job_set.report()

        # The widget writes on the loop's thread: wait for the entry and its reason together.
        def shown() -> list[tuple[Any, bool]]:
            return [(e.get("index"), REASON in (e.get("error") or "")) for e in widget.errors]

        assert wait_until(lambda: shown() == [(bad.index, True)], 10), widget.errors

        # The view's Retry failed button sends this message; the kernel handles it on its loop.
        on_loop(kernel_loop, lambda: widget._on_message(widget, {"type": "retry_failed"}, []))
        assert wait_until(lambda: bad.state is ChunkState.DONE, 30), job_set.report()
        job_set.wait(timeout=30)
        assert_exact(job_set, 6, SHOTS)
        done = STATE_CODES[ChunkState.DONE]
        # The snapshot a new view starts from is written again once the set is final again, and
        # the errors apart from it: wait for both, as one is no sign of the other.
        assert wait_until(
            lambda: list(widget.states[4:]) == [done] * 3 and widget.errors == [], 10
        ), (widget.states, widget.errors)
    finally:
        on_loop(kernel_loop, widget.close)
