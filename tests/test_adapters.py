"""What the adapters pass to backends and how they read what comes back."""

from __future__ import annotations

from typing import Any

import pytest
from conftest import basis_circuits, expected_key
from qiskit.providers import JobStatus
from qiskit_aer import AerSimulator

from qjm_widget import JobManager
from qjm_widget.backends.status import to_job_status
from qjm_widget.testing import FaultyBackend, FaultyJob


class TaggingBackend(FaultyBackend):
    """A real Aer backend whose run() takes job names and tags, as IBM's backends do."""

    def __init__(self) -> None:
        super().__init__(AerSimulator())
        self.calls: list[tuple[str | None, list[str] | None]] = []

    def run(
        self,
        run_input: Any,
        job_name: str | None = None,
        job_tags: list[str] | None = None,
        **options: Any,
    ) -> FaultyJob:
        self.calls.append((job_name, job_tags))
        return super().run(run_input, **options)


def test_jobs_are_named_name_index_and_tagged_with_the_users_tags_plus_the_set_tag(
    manager: JobManager,
) -> None:
    backend = TaggingBackend()
    job_set = manager.run(
        basis_circuits(6),
        backend,
        name="sweep",
        max_experiments_per_job=2,
        job_tags=["alpha", "beta"],
        shots=10,
        max_concurrent_jobs=1,
    )
    results = job_set.results(timeout=60)
    assert results.get_counts(5) == {expected_key(5): 10}
    set_tag = f"qjm_jobset_{job_set.job_set_id()}"
    plan_tag = "qjm_plan_6_2_10_-"  # 6 experiments, 2 per job, 10 shots, shots not split
    assert sorted(backend.calls) == [
        (f"sweep_{i}", ["alpha", "beta", set_tag, f"qjm_chunk_{i}", plan_tag, "qjm_name_sweep"])
        for i in range(3)
    ], backend.calls


def test_backends_without_name_or_tag_parameters_get_neither(manager: JobManager) -> None:
    backend = AerSimulator()
    job_set = manager.run(basis_circuits(2), backend, name="x", job_tags=["t"], shots=10)
    assert job_set.results(timeout=60).success  # Aer would warn or fail on unknown options
    assert job_set.tags() == ["t"]


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("QUEUED", JobStatus.QUEUED),
        ("RUNNING", JobStatus.RUNNING),
        ("DONE", JobStatus.DONE),
        ("ERROR", JobStatus.ERROR),
        ("CANCELLED", JobStatus.CANCELLED),
        ("INITIALIZING", JobStatus.INITIALIZING),
        ("VALIDATING", JobStatus.VALIDATING),
        ("Completed", JobStatus.DONE),
        ("failed", JobStatus.ERROR),
        ("CANCELED", JobStatus.CANCELLED),
        (JobStatus.RUNNING, JobStatus.RUNNING),
        ("no such status", None),
        (None, None),
    ],
)
def test_runtime_status_strings_map_to_job_status(raw: object, expected: JobStatus | None) -> None:
    assert to_job_status(raw) is expected
