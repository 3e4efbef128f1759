"""QPU usage per chunk, as IBM Quantum reports it for each job (through the real
qiskit-ibm-runtime client and the stand-in): in managed_jobs(), the set's total, the report,
the widget and the store; None on backends that report none."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from conftest import basis_circuits, expected_key
from ibm_standin import RuntimeStandIn
from qiskit_aer import AerSimulator

from qjm_widget import ChunkState, JobManager
from qjm_widget.widget import JobSetWidget

SHOTS = 10


@pytest.fixture(scope="module")
def api() -> Iterator[RuntimeStandIn]:
    with RuntimeStandIn(backends=("fake_manila",), noise=False) as standin:
        yield standin


@pytest.fixture
def backend(api: RuntimeStandIn) -> Any:
    api.faults.clear()
    api.release()
    return api.service().backend("fake_manila")


def test_each_chunk_records_the_qpu_seconds_ibm_reports_and_the_store_keeps_them(
    api: RuntimeStandIn, backend: Any, manager: JobManager
) -> None:
    api.faults.fail_job(1, reason="a failed job is billed too")
    job_set = manager.run(basis_circuits(6), backend, max_experiments_per_job=2, shots=SHOTS)
    job_set.wait(90)
    chunks = job_set.managed_jobs()
    (failed,) = [c.index for c in chunks if c.state is ChunkState.ERROR]
    billed = {c.index: api.jobs[c.job_id].quantum_seconds for c in chunks}
    assert all(seconds > 0 for seconds in billed.values()), billed
    assert [c.usage_seconds for c in chunks] == [billed[i] for i in range(3)]
    assert job_set.usage_seconds() == pytest.approx(sum(billed.values()))
    assert "QPU usage" in job_set.report()

    first_job = chunks[failed].job_id
    job_set.retry(failed)
    results = job_set.results(timeout=90)
    assert [results.get_counts(i) for i in range(6)] == [{expected_key(i): SHOTS} for i in range(6)]
    again = job_set.managed_jobs()[failed]
    both = api.jobs[first_job].quantum_seconds + api.jobs[again.job_id].quantum_seconds
    assert again.usage_seconds == pytest.approx(both), "a retry's job is billed on top"

    widget = JobSetWidget(job_set)
    assert widget.usage_seconds == pytest.approx(job_set.usage_seconds())
    widget._on_message(widget, {"type": "select", "index": failed}, [])
    assert widget.selected_detail["usage_seconds"] == pytest.approx(both)
    widget.close()

    stored = JobManager(store=manager.store).retrieve_job_set(job_set.job_set_id())
    assert [c.usage_seconds for c in stored.managed_jobs()] == [
        c.usage_seconds for c in job_set.managed_jobs()
    ]


def test_simulators_report_no_usage(manager: JobManager) -> None:
    job_set = manager.run(basis_circuits(2), AerSimulator(), shots=SHOTS)
    job_set.wait(30)
    assert [c.usage_seconds for c in job_set.managed_jobs()] == [None]
    assert job_set.usage_seconds() is None
    assert "QPU usage" not in job_set.report()
    assert JobSetWidget(job_set).usage_seconds == -1.0
