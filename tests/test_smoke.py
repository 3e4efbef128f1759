from __future__ import annotations

from conftest import BackendCase

from qjm_widget import JobManager


def test_every_backend_runs_chunks_and_counts_each_experiment_exactly_once(
    case: BackendCase, manager: JobManager
) -> None:
    circuits = case.circuits(7)
    job_set = manager.run(circuits, case.backend, max_experiments_per_job=3, shots=50)
    results = job_set.results(timeout=120)
    assert results.success, job_set.report()
    assert [(c.start_index, c.end_index) for c in job_set.managed_jobs()] == [
        (0, 2),
        (3, 5),
        (6, 6),
    ]
    merged = job_set.counts()
    for index in range(7):
        case.assert_counts(results.get_counts(index), index, 50)
        assert merged.per_experiment[index] == results.get_counts(index)
    assert sum(merged.aggregate.values()) == 7 * 50
