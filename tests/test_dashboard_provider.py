"""The dashboard given only ``provider=``: a stored set's backend is looked up by its name.

The set failed on IBM (the runtime stand-in, through a real QiskitRuntimeService) in a second
process that has ended since; a new manager's dashboard in this process retries it from its row,
as a user would the next day, with nothing but the service.
"""

from __future__ import annotations

import asyncio
import json
import logging
import pathlib
from collections.abc import Iterator
from typing import Any

import pytest
from conftest import basis_circuits, expected_key, wait_until
from ibm_standin import RuntimeStandIn
from qiskit_aer import AerSimulator
from store_workers.support import Worker, chunk_states, rows, standin_json, wait_for, write_circuits
from test_dashboard import (  # noqa: F401 (fixtures: pytest finds them by name)
    dashboard_of,
    kernel_loop,
    on_loop,
    recording_comm,
    row,
    send,
)

from qjm_widget import ChunkState, JobManager, RetryPolicy
from qjm_widget.testing import FaultyBackend

SHOTS = 12
PER_JOB = 2
TIMEOUT = 120.0


@pytest.fixture(scope="module")
def api() -> Iterator[RuntimeStandIn]:
    with RuntimeStandIn(backends=("fake_manila",), noise=False) as standin:
        yield standin


@pytest.fixture
def service(api: RuntimeStandIn) -> Any:
    api.faults.clear()
    api.release()
    return api.service()


def exact_counts(count: int) -> list[dict[str, int]]:
    return [{expected_key(i): SHOTS} for i in range(count)]


def failed_on_ibm_in_an_ended_process(
    api: RuntimeStandIn, store: pathlib.Path, tmp_path: pathlib.Path
) -> str:
    """The id of a set of 4 basis circuits in 2 chunks, one of which IBM failed, run to its end
    by another process (run_on_standin.py) that has exited since."""
    circuits = write_circuits(tmp_path / "circuits.qpy", basis_circuits(4))
    options = {"shots": SHOTS, "max_experiments_per_job": PER_JOB}
    api.faults.fail_job(1, reason="the device was recalibrated")
    worker = Worker(
        "run_on_standin.py",
        store,
        circuits,
        standin_json(api),
        json.dumps(options),
        log=tmp_path / "worker.log",
    )
    try:
        job_set_id = worker.line(timeout=TIMEOUT)

        def ended() -> bool:
            found = rows(store, "SELECT finished_at FROM job_sets WHERE id=?", job_set_id)
            return bool(found) and found[0][0] is not None

        wait_for(ended, "the other process to store its set as finished", TIMEOUT)
        assert sorted(chunk_states(store, job_set_id)) == ["done", "error"], worker.stderr()
        assert worker.finish() == 0, worker.stderr()
    finally:
        worker.kill()
    return job_set_id


def test_a_set_that_failed_on_ibm_is_retried_from_the_dashboard_given_only_the_provider(
    api: RuntimeStandIn,
    service: Any,
    tmp_path: pathlib.Path,
    dashboard_of: Any,  # noqa: F811
    kernel_loop: asyncio.AbstractEventLoop,  # noqa: F811
) -> None:
    store = tmp_path / "store.sqlite3"
    job_set_id = failed_on_ibm_in_an_ended_process(api, store, tmp_path)
    later = JobManager(store=store)
    dashboard = dashboard_of(later, provider=service)
    shown = row(dashboard, job_set_id)
    assert (shown["state"], shown["backend"]) == ("1 failed", "fake_manila"), shown

    on_loop(kernel_loop, lambda: send(dashboard, {"type": "retry_failed", "id": job_set_id}))
    assert row(dashboard, job_set_id)["message"] == "retrying 1 chunks"
    retried = later.retrieve_job_set(job_set_id)  # the set the row action retrieved and retried
    retried.wait(timeout=TIMEOUT)
    assert [c.state for c in retried.managed_jobs()] == [ChunkState.DONE] * 2, retried.report()
    assert retried.counts().per_experiment == exact_counts(4)
    results = retried.results(timeout=TIMEOUT)
    assert results.success
    assert [results.get_counts(i) for i in range(4)] == exact_counts(4)
    # The failed chunk ran again as a new job on the stand-in, not merely re-read.
    (again,) = [c for c in retried.managed_jobs() if c.previous_job_ids]
    assert again.job_id in api.jobs
    assert again.job_id not in again.previous_job_ids
    assert wait_until(lambda: row(dashboard, job_set_id)["state"] == "done", TIMEOUT), row(
        dashboard, job_set_id
    )


def test_a_stored_backend_the_provider_lacks_is_said_in_the_row_not_raised(
    service: Any,
    tmp_path: pathlib.Path,
    dashboard_of: Any,  # noqa: F811
    kernel_loop: asyncio.AbstractEventLoop,  # noqa: F811
    caplog: pytest.LogCaptureFixture,
) -> None:
    store = tmp_path / "store.sqlite3"
    local = FaultyBackend(
        AerSimulator(), error_jobs=1, error_when=lambda cs: cs[0].name == "basis_0"
    )
    first = JobManager(store=store)
    job_set = first.run(
        basis_circuits(4),
        local,
        shots=SHOTS,
        max_experiments_per_job=PER_JOB,
        retry_policy=RetryPolicy(attempts=1),
    )
    job_set.wait(timeout=TIMEOUT)
    job_set_id = job_set.job_set_id()

    # Another session: the set is only in the store, and it ran on a backend IBM never had.
    dashboard = dashboard_of(JobManager(store=store), provider=service)
    assert row(dashboard, job_set_id)["state"] == "1 failed"
    with caplog.at_level(logging.WARNING):
        on_loop(kernel_loop, lambda: send(dashboard, {"type": "retry_failed", "id": job_set_id}))
    message = row(dashboard, job_set_id)["message"]
    # Which name was missing, what the provider has instead: a message, not an error's repr.
    assert f"the set ran on {local.name!r}, which QiskitRuntimeService does not know" in message
    assert "its backends: fake_manila" in message
    assert not message.startswith("retry_failed failed"), message
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR] == []
    assert row(dashboard, job_set_id)["state"] == "1 failed"  # nothing ran
