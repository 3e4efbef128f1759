"""pandas tables: a row per chunk of a job set, and a result's counts in long form, checked
row by row against sets whose every shot is known (basis states, sweeps of basis states)."""

from __future__ import annotations

import sys
from collections.abc import Sequence

import numpy as np
import pandas as pd
import pytest
from conftest import basis_circuits, expected_key, wait_until
from qiskit import QuantumCircuit
from qiskit.primitives import StatevectorSampler
from qiskit.providers.basic_provider import BasicSimulator
from qiskit_aer import AerSimulator
from support import sweep_binds, sweep_circuit, sweep_point

from qjm_widget import ChunkState, JobManager, JobManagerError
from qjm_widget.tables import MissingExtraError

SHOTS = 16
STATES = [5, 0, 3, 7, 1, 6]  # the basis state each point of the sweep prepares


def starts_at(name: str):  # type: ignore[no-untyped-def]
    def matches(circuits: Sequence[QuantumCircuit]) -> bool:
        return circuits[0].name == name

    return matches


def utc(seconds: float | None) -> pd.Timestamp:
    return pd.NaT if seconds is None else pd.Timestamp(seconds, unit="s", tz="UTC")


def test_a_row_per_chunk_with_its_state_job_error_and_times(manager: JobManager) -> None:
    from qjm_widget.testing import FaultyBackend

    backend = FaultyBackend(AerSimulator(), error_jobs=1, error_when=starts_at("basis_2"))
    job_set = manager.run(basis_circuits(5), backend, shots=SHOTS, max_experiments_per_job=2)
    job_set.wait(timeout=120)
    frame = job_set.to_dataframe()
    chunks = job_set.managed_jobs()

    assert frame.index.name == "chunk"
    assert list(frame.index) == [0, 1, 2]
    assert list(frame["start"]) == [0, 2, 4]
    assert list(frame["end"]) == [1, 3, 4]
    assert frame["first_point"].isna().all()
    assert frame["last_point"].isna().all()
    assert list(frame["shots"]) == [SHOTS] * 3
    assert list(frame["state"]) == ["done", "error", "done"]
    assert list(frame["job_id"]) == [c.job_id for c in chunks]
    assert all(isinstance(job_id, str) and job_id for job_id in frame["job_id"])
    assert list(frame["attempts"]) == [1, 1, 1]
    assert pd.isna(frame.loc[0, "error"])
    assert pd.isna(frame.loc[2, "error"])
    assert "injected fault" in frame.loc[1, "error"]
    for column, field in (("submitted_at", "submitted_at"), ("finished_at", "finished_at")):
        assert str(frame[column].dtype) == "datetime64[ns, UTC]"
        assert list(frame[column]) == [utc(getattr(c, field)) for c in chunks]
        assert frame[column].notna().all()
    assert (frame["finished_at"] >= frame["submitted_at"]).all()
    assert frame["usage_seconds"].isna().all()  # a simulator reports no QPU time
    assert frame["usage_seconds"].dtype == np.float64


def test_chunks_of_one_sweep_give_their_points(manager: JobManager) -> None:
    sweep = sweep_circuit()
    job_set = manager.run(
        [sweep, *basis_circuits(2)],
        BasicSimulator(),
        shots=SHOTS,
        parameter_binds=[sweep_binds(STATES, sweep), {}, {}],
        max_executions_per_job=4 * SHOTS,
    )
    job_set.wait(timeout=120)
    frame = job_set.to_dataframe()
    rows = [
        (r.start, r.end, r.first_point, r.last_point, r.state)
        for r in frame.astype(object).where(frame.notna(), None).itertuples()
    ]
    assert rows == [
        (0, 0, 0, 3, "done"),
        (0, 0, 4, 5, "done"),
        (1, 2, None, None, "done"),
    ]


def test_a_chunk_not_yet_submitted_has_no_job_nor_times(manager: JobManager) -> None:
    from qjm_widget.testing import FaultyBackend

    # One job at a time, the first held: the second chunk waits, unsubmitted, while read.
    backend = FaultyBackend(AerSimulator(), hold_queued=300)
    job_set = manager.run(
        basis_circuits(2), backend, shots=SHOTS, max_experiments_per_job=1, max_concurrent_jobs=1
    )
    first = job_set.managed_jobs()[0]
    assert wait_until(lambda: first.state is ChunkState.QUEUED, timeout=60)
    frame = job_set.to_dataframe()
    assert list(frame["state"]) == ["queued", "pending"]
    assert frame.loc[0, "job_id"] == first.job_id
    assert frame.loc[0, "submitted_at"] == utc(first.submitted_at)
    assert pd.isna(frame.loc[1, "job_id"])
    assert frame.loc[1, "attempts"] == 0
    assert frame.loc[1, "submitted_at"] is pd.NaT
    assert frame["finished_at"].isna().all()
    job_set.cancel()


def test_counts_in_long_form_per_experiment_and_point(manager: JobManager) -> None:
    sweep = sweep_circuit()
    circuits = [basis_circuits(3)[1], sweep, basis_circuits(3)[2]]
    results = manager.run(
        circuits,
        AerSimulator(),
        shots=SHOTS,
        parameter_binds=[{}, sweep_binds(STATES, sweep), {}],
        max_executions_per_job=4 * SHOTS,
        max_shots_per_job=SHOTS // 2,  # every point's shots come from two jobs, summed
    ).results(timeout=120)
    assert results.success
    frame = results.to_dataframe()

    assert list(frame.columns) == ["experiment", "point", "outcome", "count"]
    assert [str(t) for t in frame.dtypes] == ["int64", "int64", "str", "int64"]
    expected = [
        (0, 0, expected_key(1), SHOTS),
        *((1, point, expected_key(state), SHOTS) for point, state in enumerate(STATES)),
        (2, 0, expected_key(2), SHOTS),
    ]
    assert list(frame.itertuples(index=False, name=None)) == expected
    for point, state in enumerate(STATES):
        assert results.get_counts(1, point) == {expected_key(state): SHOTS}
    summed = frame[frame.experiment == 1].groupby("outcome")["count"].sum().to_dict()
    assert summed == results.get_counts(1)


def test_a_pub_sweeps_points_are_flat_indexes_in_c_order(manager: JobManager) -> None:
    sweep = sweep_circuit()
    values = np.array([sweep_point(s) for s in STATES]).reshape(2, 3, -1)
    results = manager.run(
        [(sweep, values)], StatevectorSampler(), shots=SHOTS, max_executions_per_job=2 * SHOTS
    ).results(timeout=120)
    frame = results.to_dataframe()
    assert list(frame.itertuples(index=False, name=None)) == [
        (0, flat, expected_key(state), SHOTS) for flat, state in enumerate(STATES)
    ]
    for flat, state in enumerate(STATES):
        assert results.get_counts(0, divmod(flat, 3)) == {expected_key(state): SHOTS}


def test_an_experiment_without_results_has_no_rows(manager: JobManager) -> None:
    from qjm_widget.testing import FaultyBackend

    backend = FaultyBackend(AerSimulator(), error_jobs=1, error_when=starts_at("basis_1"))
    results = manager.run(
        basis_circuits(3), backend, shots=SHOTS, max_experiments_per_job=1
    ).results(timeout=120)
    assert not results.success
    frame = results.to_dataframe()
    assert list(frame.itertuples(index=False, name=None)) == [
        (0, 0, expected_key(0), SHOTS),
        (2, 0, expected_key(2), SHOTS),
    ]


def test_without_pandas_both_tables_name_the_extra(
    manager: JobManager, monkeypatch: pytest.MonkeyPatch
) -> None:
    job_set = manager.run(basis_circuits(2), AerSimulator(), shots=SHOTS)
    results = job_set.results(timeout=120)
    # None in sys.modules makes `import pandas` fail, as on an install without the extra.
    monkeypatch.setitem(sys.modules, "pandas", None)
    for make_table in (job_set.to_dataframe, results.to_dataframe):
        with pytest.raises(MissingExtraError, match=r"pip install qjm_widget\[pandas\]") as info:
            make_table()
        assert isinstance(info.value, JobManagerError)
        assert isinstance(info.value, ImportError)
