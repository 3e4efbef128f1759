"""The client's two reads before every job (instance usage, backend status) are shared by a
set's submits, through the real qiskit-ibm-runtime 0.51 client and the stand-in; the user's own
calls on the same objects still read IBM every time."""

from __future__ import annotations

import copy
import warnings
from collections.abc import Iterator
from typing import Any

import pytest
from conftest import basis_circuits, expected_key
from ibm_standin import RuntimeStandIn

from qjm_widget import JobManager
from qjm_widget.backends import ibm_checks, runtime

SHOTS = 16
CHUNKS = 12
USAGE = ("GET", "/api/v1/instances/usage")
STATUS = ("GET", "/api/v1/backends/fake_manila/status")
SUBMIT = ("POST", "/api/v1/jobs")


@pytest.fixture
def api(monkeypatch: pytest.MonkeyPatch) -> Iterator[RuntimeStandIn]:
    monkeypatch.setattr(runtime, "REMOTE_POLL_INTERVAL", (0.05, 0.2))
    with RuntimeStandIn(backends=("fake_manila",), noise=False) as standin:
        yield standin


@pytest.fixture
def long_ttl(monkeypatch: pytest.MonkeyPatch) -> None:
    """Shared answers that outlive any test."""
    monkeypatch.setattr(ibm_checks, "CHECK_TTL", 3600.0)


@pytest.fixture
def used_backend(api: RuntimeStandIn, manager: JobManager, long_ttl: None) -> Any:
    """The user's backend, after a set ran on it (its checks' answers are shared)."""
    backend = api.service().backend("fake_manila")
    run_set(api, manager, backend)
    return backend


def reads(api: RuntimeStandIn, since: int) -> tuple[int, int]:
    made = [r[:2] for r in api.requests[since:]]
    return made.count(USAGE), made.count(STATUS)


def run_set(api: RuntimeStandIn, manager: JobManager, backend: object) -> int:
    """Runs CHUNKS one-circuit chunks to exact counts; the requests' index before the set."""
    since = len(api.requests)
    job_set = manager.run(basis_circuits(CHUNKS), backend, max_experiments_per_job=1, shots=SHOTS)
    results = job_set.results(timeout=120)
    assert [results.get_counts(i) for i in range(CHUNKS)] == [
        {expected_key(i): SHOTS} for i in range(CHUNKS)
    ], job_set.report()
    assert [r[:2] for r in api.requests[since:]].count(SUBMIT) == CHUNKS
    return since


def test_the_installed_client_is_one_the_shared_checks_were_checked_against() -> None:
    # Fails when qiskit-ibm-runtime changes: check that QiskitRuntimeService._run still reads
    # service.usage() and backend.status() only to warn, then add the release to
    # ibm_checks.CHECKED_RELEASES.
    import qiskit_ibm_runtime

    assert ibm_checks.checked("qiskit_ibm_runtime"), (
        f"qiskit-ibm-runtime {qiskit_ibm_runtime.__version__} is not in ibm_checks.CHECKED_RELEASES"
    )


def test_a_sets_submits_share_one_usage_and_one_status_read(
    api: RuntimeStandIn, manager: JobManager, long_ttl: None
) -> None:
    backend = api.service().backend("fake_manila")
    since = run_set(api, manager, backend)
    assert reads(api, since) == (1, 1)
    # A second set on the same objects shares the answers the first one read.
    since = run_set(api, manager, backend)
    assert reads(api, since) == (0, 0)


def test_answers_older_than_the_ttl_are_read_again(
    api: RuntimeStandIn, manager: JobManager, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(ibm_checks, "CHECK_TTL", 0.0)
    since = run_set(api, manager, api.service().backend("fake_manila"))
    assert reads(api, since) == (CHUNKS, CHUNKS)


def test_the_users_own_reads_still_go_to_ibm(api: RuntimeStandIn, used_backend: Any) -> None:
    since = len(api.requests)
    assert used_backend.status().status_msg == "active"
    assert used_backend.service.usage()["usage_limit_reached"] is False
    assert reads(api, since) == (1, 1)


def test_the_clients_usage_warning_still_reaches_the_user(
    api: RuntimeStandIn, manager: JobManager, long_ttl: None
) -> None:
    api.use_up_usage()
    backend = api.service().backend("fake_manila")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        since = run_set(api, manager, backend)
    assert reads(api, since) == (1, 1)
    # The client warned before each job, from the one answer the set read.
    said = [w for w in caught if "no more time available" in str(w.message)]
    assert len(said) == CHUNKS, [str(w.message) for w in caught]


def test_the_users_objects_still_copy_with_the_clients_own_reads(used_backend: Any) -> None:
    service = used_backend.service
    assert isinstance(vars(service)["usage"], ibm_checks.SharedRead), "nothing shared"
    copied = copy.deepcopy(service)
    # The copy's usage is the client's own method, of the copy: no lock or answers of ours.
    assert copied.usage.__func__ is type(service).usage
    assert copied.usage.__self__ is copied
    assert not isinstance(vars(copy.deepcopy(used_backend)).get("status"), ibm_checks.SharedRead)
