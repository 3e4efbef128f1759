"""qiskit-ibm-provider 0.11: a set's in-flight jobs are read with one listing request per poll
round, through the private names qjm_widget.backends.ibm_listing was checked against."""

from __future__ import annotations

from typing import Any

import pytest
from conftest import assert_exact, basis_circuits, wait_until

from qjm_widget import JobManager
from qjm_widget.backends import ibm_checks, ibm_listing

SHOTS = 20
LISTING = ("GET", "/runtime/jobs")


def test_the_installed_provider_is_one_the_listing_was_checked_against() -> None:
    # Fails when qiskit-ibm-provider changes: check ibm_listing's private names against the
    # new release, then add it to ibm_listing.CHECKED.
    import qiskit_ibm_provider

    assert ibm_listing.listing_for("qiskit_ibm_provider") is not None, (
        f"qiskit-ibm-provider {qiskit_ibm_provider.__version__} is not in ibm_listing.CHECKED"
    )


def test_a_poll_round_reads_every_queued_job_with_one_listing_request(
    api: Any, backend: Any, manager: JobManager
) -> None:
    api.hold()  # every job stays queued: each poll round has all of them to read
    job_set = manager.run(basis_circuits(30), backend, max_experiments_per_job=1, shots=SHOTS)
    assert wait_until(lambda: len(api.jobs) == 30, 30), len(api.jobs)
    seen = len(api.requests)
    # Ten more rounds of polls (every 20-200 ms here) while all 30 jobs are queued.
    assert wait_until(lambda: api.requests[seen:].count((*LISTING, 200)) >= 10, 30)
    while_queued = api.requests[seen:]
    api.release()
    assert job_set.results(timeout=60).success, job_set.report()
    assert_exact(job_set, 30, SHOTS)
    per_job = [r for r in while_queued if r[0] == "GET" and r[1].startswith("/runtime/jobs/")]
    assert per_job == [], per_job[:5]
    assert {r[:2] for r in while_queued} == {LISTING}, set(while_queued)


def test_the_installed_provider_is_one_the_shared_checks_were_checked_against() -> None:
    # Fails when qiskit-ibm-provider changes: check that IBMBackend.run still reads
    # self.status() only to warn, then add the release to ibm_checks.CHECKED_RELEASES.
    import qiskit_ibm_provider

    assert ibm_checks.checked("qiskit_ibm_provider"), (
        f"qiskit-ibm-provider {qiskit_ibm_provider.__version__} is not in "
        "ibm_checks.CHECKED_RELEASES"
    )


def test_a_sets_submits_share_one_backend_status_read(
    api: Any, backend: Any, manager: JobManager, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(ibm_checks, "CHECK_TTL", 3600.0)
    seen = len(api.requests)
    job_set = manager.run(basis_circuits(12), backend, max_experiments_per_job=1, shots=SHOTS)
    assert job_set.results(timeout=60).success, job_set.report()
    assert_exact(job_set, 12, SHOTS)
    made = [r[:2] for r in api.requests[seen:]]
    assert made.count(("GET", f"/runtime/backends/{backend.name}/status")) == 1, made
    assert made.count(("POST", "/runtime/jobs")) == 12, made
    # The user's own read still goes to IBM.
    seen = len(api.requests)
    assert backend.status().status_msg == "active"
    assert [r[:2] for r in api.requests[seen:]] == [
        ("GET", f"/runtime/backends/{backend.name}/status")
    ]
