"""The pending-job limit's slot counting, on its own (the real refusals are in the stand-in tests:
test_ibm_runtime_faults.py, test_ibm_requests.py and the qiskit 1.4 provider tests)."""

from __future__ import annotations

import pytest

from qjm_widget import pending_limit
from qjm_widget.pending_limit import PendingJobLimit, PendingJobLimits


def submitted(limit: PendingJobLimit, count: int) -> None:
    for _ in range(count):
        assert limit.reserve()
        assert limit.still_fits()
        limit.accepted()


def test_an_unknown_limit_lets_every_submit_go() -> None:
    limit = PendingJobLimit()
    assert all(limit.reserve() for _ in range(100))
    assert limit.limit is None


def test_the_first_refusal_makes_our_pending_jobs_the_limit_and_one_goes_per_freed_slot() -> None:
    limit = PendingJobLimit()
    submitted(limit, 3)
    assert limit.reserve()
    assert limit.refused() == 3
    assert not limit.reserve(), "a fourth job went while three are pending"
    limit.ended()
    assert limit.reserve(), "the freed slot was not given"
    assert not limit.reserve(), "one freed slot let two chunks go"


def test_submits_reserved_before_the_limit_was_learned_give_their_slots_back() -> None:
    limit = PendingJobLimit()
    assert all(limit.reserve() for _ in range(6))  # six tasks queued before any answer
    assert limit.still_fits()
    limit.accepted()
    assert limit.still_fits()
    assert limit.refused() == 1  # one job pending when the refusal came
    # The four queued tasks find no room; giving back lets none of them through afterwards.
    assert [limit.still_fits() for _ in range(4)] == [False] * 4
    assert not limit.reserve()
    limit.ended()
    assert limit.reserve()
    assert limit.still_fits()


def test_a_submit_beyond_the_limit_that_succeeds_lifts_it() -> None:
    limit = PendingJobLimit()
    submitted(limit, 1)
    assert limit.reserve()  # under way when the refusal of the next one comes back
    assert limit.still_fits()
    assert limit.reserve()
    assert limit.refused() == 1
    limit.accepted()
    assert limit.limit == 2
    assert limit.pending == 2


def test_a_due_probe_goes_beyond_the_limit_once_and_waits_longer_after_a_refusal(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(pending_limit, "_PROBE_AFTER", (0.0, 0.0))
    limit = PendingJobLimit()
    submitted(limit, 2)
    assert limit.reserve()
    limit.refused()
    assert limit.limit == 2
    assert limit.reserve(), "the due probe was not let through"
    assert not limit.reserve(), "two probes at once"
    assert limit.still_fits()
    limit.refused()
    assert limit.limit == 2, "a refused probe changed the limit"
    assert limit.reserve()
    assert limit.still_fits()
    limit.accepted()
    assert limit.limit == 3


def test_no_probe_goes_before_its_time(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pending_limit, "_PROBE_AFTER", (1000.0, 4000.0))
    limit = PendingJobLimit()
    submitted(limit, 1)
    assert limit.reserve()
    limit.refused()
    assert not limit.reserve(), "a probe went before its time"


def test_sets_share_a_named_scope_and_only_that() -> None:
    limits = PendingJobLimits()
    account = ("QiskitRuntimeService", "https://example", "crn:1", "ibm_cloud", "ibm_x")
    assert limits.get(account) is limits.get(account)
    assert limits.get(account) is not limits.get((*account[:4], "ibm_y"))
    assert limits.get(None) is not limits.get(None)
