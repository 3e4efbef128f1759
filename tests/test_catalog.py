"""The catalog: summaries of stored sets from metadata only (real sets in a real SQLite file)."""

from __future__ import annotations

import pathlib
from typing import Any

import pytest
from conftest import basis_circuits
from qiskit.providers.basic_provider import BasicSimulator
from qiskit_aer import AerSimulator
from store_workers.gated import gated_run

from qjm_widget import JobManager, JobManagerInvalidInputError, RetryPolicy, catalog
from qjm_widget import store as store_module
from qjm_widget.testing import FaultyBackend

SHOTS = 8


@pytest.fixture
def filled(tmp_path: pathlib.Path) -> JobManager:
    """Three finished sets: 'alpha' (4 experiments, 2 chunks), 'beta' with one failed chunk
    (tag 'x'), 'gamma' (tags 'x' and 'y'), created in that order."""
    manager = JobManager(store=tmp_path / "store.sqlite3")
    backend = BasicSimulator()
    manager.run(basis_circuits(4), backend, name="alpha", max_experiments_per_job=2, shots=SHOTS)
    failing = FaultyBackend(
        BasicSimulator(),
        error_jobs=1,
        error_when=lambda circuits: any(c.name == "basis_2" for c in circuits),
    )
    manager.run(
        basis_circuits(6),
        failing,
        name="beta",
        max_experiments_per_job=2,
        shots=SHOTS,
        job_tags=["x"],
        retry_policy=RetryPolicy(attempts=1),
    )
    manager.run(basis_circuits(1), backend, name="Gamma", shots=SHOTS, job_tags=["x", "y"])
    for job_set in manager.job_sets():
        job_set.wait(timeout=60)
    return manager


def names(found: list[catalog.JobSetSummary]) -> list[str]:
    return [s.name for s in found]


def test_summaries_list_newest_first_with_figures_from_the_chunks(filled: JobManager) -> None:
    found, total = catalog.summaries(filled.store)  # type: ignore[arg-type]
    assert total == 3
    assert names(found) == ["Gamma", "beta", "alpha"]
    gamma, beta, alpha = found
    assert (alpha.num_experiments, alpha.num_chunks, alpha.state) == (4, 2, "done")
    assert (beta.num_experiments, beta.num_chunks, beta.state) == (6, 3, "1 failed")
    assert dict(beta.states) == {"done": 2, "error": 1}
    assert beta.tags[0] == "x"
    assert gamma.num_final == gamma.num_chunks == 1
    assert not any(s.running_elsewhere for s in found)
    assert all(s.usage_seconds is None for s in found)  # simulators bill nothing


def test_filters_sorts_and_pages(filled: JobManager) -> None:
    store: Any = filled.store
    assert names(catalog.summaries(store, name="ET")[0]) == ["beta"]
    assert names(catalog.summaries(store, tag="x")[0]) == ["Gamma", "beta"]
    assert names(catalog.summaries(store, tag="y")[0]) == ["Gamma"]
    assert catalog.summaries(store, tag="nope") == ([], 0)
    assert names(catalog.summaries(store, sort="name", descending=False)[0]) == [
        "alpha",
        "beta",
        "Gamma",
    ]
    by_size = catalog.summaries(store, sort="experiments")[0]
    assert names(by_size) == ["beta", "alpha", "Gamma"]
    by_state = catalog.summaries(store, sort="state")[0]
    assert by_state[0].name == "beta"  # the failed one first
    # Every chunk final in all three: the share ties, the count of chunks decides.
    assert names(catalog.summaries(store, sort="chunks")[0]) == ["beta", "alpha", "Gamma"]
    by_id = catalog.summaries(store, sort="id", descending=False)[0]
    assert [s.job_set_id for s in by_id] == sorted(s.job_set_id for s in by_id)
    page, total = catalog.summaries(store, offset=1, limit=1)
    assert (names(page), total) == (["beta"], 3)
    page, total = catalog.summaries(store, tag="x", offset=1, limit=5)
    assert (names(page), total) == (["beta"], 2)


def test_a_listing_decodes_no_circuit(filled: JobManager, monkeypatch: pytest.MonkeyPatch) -> None:
    decodes: list[str] = []
    real = store_module.circuits_from_qpy

    def counting(data: bytes, where: str) -> Any:
        decodes.append(where)
        return real(data, where)

    monkeypatch.setattr(store_module, "circuits_from_qpy", counting)
    for sort in catalog.SORT_KEYS:
        catalog.summaries(filled.store, sort=sort)  # type: ignore[arg-type]
    first = catalog.summaries(filled.store)[0][0]  # type: ignore[arg-type]
    assert catalog.summary(filled.store, first.job_set_id) == first  # type: ignore[arg-type]
    assert decodes == []
    loaded = filled.store.load(first.job_set_id)  # type: ignore[union-attr]
    assert loaded is not None
    assert decodes == [], "loading a set decodes its circuits only when one is needed"
    loaded.experiments[0].circuit  # noqa: B018
    assert decodes, "the counter does not see decodes"


def test_bad_arguments_are_refused_in_words(filled: JobManager) -> None:
    store: Any = filled.store
    with pytest.raises(JobManagerInvalidInputError, match="sort must be one of"):
        catalog.summaries(store, sort="colour")
    with pytest.raises(JobManagerInvalidInputError, match="limit must be an int >= 0"):
        catalog.summaries(store, limit=-1)
    assert catalog.summary(store, "no-such-id") is None


def test_an_unfinished_set_is_running_while_a_live_process_owns_it_else_interrupted(
    tmp_path: pathlib.Path,
) -> None:
    path = tmp_path / "shared.sqlite3"
    with gated_run(tmp_path, path, count=4) as run:
        store = store_module.Store(path)
        elsewhere = catalog.summary(store, run.job_set_id)
        assert elsewhere is not None
        assert (elsewhere.state, elsewhere.running_elsewhere) == ("running", True)
        run.worker.kill()  # SIGKILL: no finally in the worker marks the set as ended
        dead = catalog.summary(store, run.job_set_id)
        assert dead is not None
        assert (dead.state, dead.running_elsewhere, dead.running_here) == (
            "interrupted",
            False,
            False,
        )
        assert dead.num_final < dead.num_chunks
    # This process's own unfinished set is running, not interrupted.
    own = JobManager(store=store).run(
        basis_circuits(2), FaultyBackend(AerSimulator(), hold_queued=30), shots=SHOTS
    )
    try:
        here = catalog.summary(store, own.job_set_id())
        assert here is not None
        assert (here.state, here.running_here, here.running_elsewhere) == ("running", True, False)
    finally:
        own.cancel()
        own.wait(timeout=60)
    ended = catalog.summary(store, own.job_set_id())
    assert ended is not None
    assert (ended.state, ended.running_here) == ("cancelled", False)
