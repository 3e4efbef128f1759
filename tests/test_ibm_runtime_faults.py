"""The job manager on the IBM Quantum cloud path, with faults injected by the runtime stand-in.

Everything here is real but the service: qjm_widget's RuntimeAdapter drives the real
qiskit-ibm-runtime 0.51 client, which talks to the loopback stand-in (tests/ibm_standin) that
runs each Sampler job on a noiseless Aer. Basis-state circuits give exact counts, so every test
checks that no shot was lost and none counted twice, on our side (per experiment and in
aggregate) and on the stand-in's (one COMPLETED job per chunk, found by its ``qjm_chunk_<i>``
tag, except where a retry legitimately made a second job).
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import comm
import pytest
from comm_recorder import RecordingComm, kernel_event_loop, on_loop
from conftest import basis_circuits, expected_key, qjm_threads, wait_until
from ibm_standin import JobView, RuntimeStandIn
from qiskit.providers import JobStatus

from qjm_widget import (
    ChunkState,
    JobManager,
    JobSetEvent,
    ManagedJobSet,
    ManagedResultDataNotAvailable,
    RetryPolicy,
    pending_limit,
)
from qjm_widget.widget import JobSetWidget

SHOTS = 16
TIMEOUT = 60  # generous: the machine is small and other suites may run beside this one
FAST = RetryPolicy(initial_delay=0.05, max_delay=0.5)
JOBS_PATH = "/api/v1/jobs"
LIMIT_NOTE = "pending-job limit"
CREDENTIALS_WORDS = "IBM Quantum refused the credentials"
UNREACHABLE_WORDS = "could not reach IBM Quantum"
DONE, ERROR, FAILED, CANCELLED, PENDING, QUEUED = (
    ChunkState(s) for s in ("done", "error", "failed", "cancelled", "pending", "queued")
)


# -- fixtures -----------------------------------------------------------------------------
def standin_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("ibm-standin")]


@pytest.fixture
def api() -> Iterator[RuntimeStandIn]:
    """A fresh noiseless stand-in per test. Ask for it before ``manager`` so that the
    manager's sets are final (and its threads gone) before the stand-in stops."""
    with RuntimeStandIn(backends=("fake_manila",), noise=False) as standin:
        yield standin
    assert wait_until(lambda: not standin_threads(), 5), f"left: {standin_threads()}"


@pytest.fixture
def backend(api: RuntimeStandIn) -> Any:
    """fake_manila as the real QiskitRuntimeService builds it from the stand-in."""
    return api.service().backend("fake_manila")


@pytest.fixture
def kernel_loop() -> Iterator[asyncio.AbstractEventLoop]:
    with kernel_event_loop() as loop:
        yield loop


# -- helpers ------------------------------------------------------------------------------
def start(
    manager: JobManager, backend: Any, num: int, per_job: int, **options: Any
) -> ManagedJobSet:
    options = {"shots": SHOTS, "retry_policy": FAST, **options}
    return manager.run(basis_circuits(num), backend, max_experiments_per_job=per_job, **options)


def set_jobs(api: RuntimeStandIn, job_set: ManagedJobSet) -> dict[int, list[JobView]]:
    """The stand-in's jobs of ``job_set``, by the chunk index in their tags, oldest first."""
    set_tag = f"qjm_jobset_{job_set.job_set_id()}"
    found: dict[int, list[JobView]] = {}
    for view in sorted(api.jobs.values(), key=lambda v: v.created):
        if set_tag not in view.tags:
            continue
        (chunk_tag,) = [t for t in view.tags if t.startswith("qjm_chunk_")]
        found.setdefault(int(chunk_tag.removeprefix("qjm_chunk_")), []).append(view)
    return found


def statuses_by_chunk(api: RuntimeStandIn, job_set: ManagedJobSet) -> dict[int, list[str]]:
    return {i: [v.status for v in views] for i, views in set_jobs(api, job_set).items()}


def one_completed_job_per_chunk(api: RuntimeStandIn, job_set: ManagedJobSet) -> None:
    expected = {c.index: ["COMPLETED"] for c in job_set.managed_jobs()}
    found = statuses_by_chunk(api, job_set)
    assert found == expected, f"stand-in jobs by chunk: {found}\n{job_set.report()}"
    ids = {c.index: c.job_id for c in job_set.managed_jobs()}
    assert ids == {i: views[0].id for i, views in set_jobs(api, job_set).items()}


def assert_exact(job_set: ManagedJobSet, good: range | list[int], num: int) -> None:
    """Experiments in ``good`` read exactly SHOTS of their basis state, the others nothing;
    the aggregate is their sum (nothing merged twice, nothing from a failed job)."""
    results = job_set.results(timeout=TIMEOUT, partial=True)
    for index in good:
        counts = results.get_counts(index)
        assert counts == {expected_key(index): SHOTS}, f"experiment {index}: {counts}"
    merged = job_set.counts()
    expected = [{expected_key(i): SHOTS} if i in good else {} for i in range(num)]
    assert merged.per_experiment == expected, job_set.report()
    total: dict[str, int] = {}
    for counts in expected:
        for key, value in counts.items():
            total[key] = total.get(key, 0) + value
    assert merged.aggregate == total, f"aggregate {merged.aggregate}, expected {total}"


def requests_to(api: RuntimeStandIn, method: str, path: str, status: int | None = None) -> int:
    return sum(
        1
        for r in api.requests
        if r.method == method and r.path == path and (status is None or r.status == status)
    )


def polled(api: RuntimeStandIn, job_set: ManagedJobSet) -> bool:
    """Every chunk with a job has had its status read at least once (a submitted job is
    INITIALIZING until the set reads it; the stand-in holds it QUEUED)."""
    chunks = [c for c in job_set.managed_jobs() if c.job_id]
    return bool(chunks) and all(c.job_status is JobStatus.QUEUED for c in chunks)


class EventLog:
    """Every chunk event of a set, with the chunk's note as the event is delivered."""

    def __init__(self, job_set: ManagedJobSet) -> None:
        self.seen: list[tuple[int, str, str | None]] = []
        self._job_set = job_set
        self._lock = threading.Lock()
        self.unsubscribe = job_set.subscribe(self._on_event)

    def _on_event(self, event: JobSetEvent) -> None:
        if event.kind == "chunk" and event.chunk_index is not None and event.state:
            note = self._job_set.managed_jobs()[event.chunk_index].note
            with self._lock:
                self.seen.append((event.chunk_index, event.state, note))

    def states(self) -> set[str]:
        with self._lock:
            return {state for _, state, _ in self.seen}

    def notes_in(self, state: str) -> list[str | None]:
        with self._lock:
            return [note for _, s, note in self.seen if s == state]


def once_chunk_done(job_set: ManagedJobSet, index: int, action: Callable[[], None]) -> None:
    """Call ``action`` when chunk ``index`` is delivered as done, before the set goes on.

    Events are delivered before the coordinator hands out the tasks of the step that follows
    a change, so with max_concurrent_jobs=1 no other chunk has been submitted yet.
    """
    fired = threading.Event()

    def listener(event: JobSetEvent) -> None:
        if (event.chunk_index, event.state) == (index, "done") and not fired.is_set():
            fired.set()
            action()

    job_set.subscribe(listener)


# -- 1, 2: the pending-job limit (IBM error 3458) -------------------------------------------
def test_pending_limit_answer_makes_chunks_wait_then_resubmit_never_fail(
    api: RuntimeStandIn, manager: JobManager, backend: Any
) -> None:
    api.faults.pending_limit(2)
    job_set = start(manager, backend, 6, 2)
    log = EventLog(job_set)
    assert_exact(job_set, range(6), 6)

    assert requests_to(api, "POST", JOBS_PATH, 409) == 2, "the stand-in did not refuse twice"
    waiting_notes = log.notes_in("waiting")
    assert waiting_notes, f"no chunk was shown waiting: {log.seen}"
    assert all(LIMIT_NOTE in (note or "") for note in waiting_notes), waiting_notes
    assert "failed" not in log.states(), f"a 3458 answer failed a chunk: {log.seen}"
    assert [c.attempts for c in job_set.managed_jobs()] == [1, 1, 1], (
        "a pending-limit answer is not a failed try"
    )
    assert job_set.error_messages() is None
    one_completed_job_per_chunk(api, job_set)


def test_max_concurrent_jobs_keeps_under_ibms_pending_limit_without_a_3458(
    api: RuntimeStandIn, manager: JobManager, backend: Any
) -> None:
    api.max_pending = 2
    api.hold()
    job_set = start(manager, backend, 6, 1, max_concurrent_jobs=2)
    assert wait_until(lambda: len(api.jobs) == 2 and polled(api, job_set), TIMEOUT)
    # The coordinator has stepped since (it polled both jobs) and still holds back the rest.
    assert len(api.jobs) == 2, f"a third job while two were queued: {api.jobs}"
    assert [c.state for c in job_set.managed_jobs()][2:] == [PENDING] * 4

    most = 0
    stop = threading.Event()

    def sample() -> None:
        nonlocal most
        while not stop.is_set():
            pending = sum(v.status in ("QUEUED", "RUNNING") for v in api.jobs.values())
            most = max(most, pending)
            stop.wait(0.005)

    sampler = threading.Thread(target=sample, name="pending-sampler", daemon=True)
    sampler.start()
    try:
        api.release()
        assert_exact(job_set, range(6), 6)
    finally:
        stop.set()
        sampler.join(5)
    assert most <= 2, f"{most} jobs were pending at the stand-in at once"
    assert requests_to(api, "POST", JOBS_PATH, 409) == 0, "max_concurrent_jobs met a 3458"
    assert requests_to(api, "POST", JOBS_PATH) == 6
    one_completed_job_per_chunk(api, job_set)


def test_real_pending_limit_without_a_cap_waits_out_3458_and_completes_exactly(
    api: RuntimeStandIn,
    manager: JobManager,
    backend: Any,
    kernel_loop: asyncio.AbstractEventLoop,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(comm, "create_comm", RecordingComm)
    api.max_pending = 2
    api.hold()  # the first two jobs stay queued: the other submits must meet the limit
    job_set = start(manager, backend, 4, 1)
    log = EventLog(job_set)
    widget = on_loop(kernel_loop, lambda: JobSetWidget(job_set, loop=kernel_loop))
    try:
        # Two chunks queue; submits start one at a time on IBM, so the third meets the limit.
        assert wait_until(lambda: requests_to(api, "POST", JOBS_PATH, 409) >= 1, TIMEOUT)
        assert len(api.jobs) == 2, "the stand-in made a job beyond its pending limit"
        # The set-level figure, while the limit holds two chunks back.
        assert wait_until(lambda: widget.pending_job_limit == 2, 10), widget.pending_job_limit
        assert job_set.pending_job_limit == 2
        sent = [m.data.get("state", {}) for m in widget.comm.updates()]
        assert {"pending_job_limit": 2} in [
            {k: v for k, v in state.items() if k == "pending_job_limit"} for state in sent
        ], "the learned limit never went to the front end"
        api.release()
        assert_exact(job_set, range(4), 4)
        assert widget.pending_job_limit == 2, "the limit a finished set learned went away"
    finally:
        on_loop(kernel_loop, widget.close)

    # The refusal taught the set the limit: the other chunks waited for free slots, in line,
    # and each went once, into a slot that one of the first two jobs freed.
    assert requests_to(api, "POST", JOBS_PATH, 409) == 1, "a chunk was refused again"
    learned = "takes at most 2 pending jobs from this account (learned from its error 3458)"
    assert any(learned in (note or "") for note in log.notes_in("pending")), log.seen
    assert "failed" not in log.states(), log.seen
    assert [c.attempts for c in job_set.managed_jobs()] == [1] * 4
    one_completed_job_per_chunk(api, job_set)


def test_a_limit_ibm_lifts_mid_set_is_found_by_a_probe_beyond_it(
    api: RuntimeStandIn, manager: JobManager, backend: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(pending_limit, "_PROBE_AFTER", (0.3, 0.6))
    api.max_pending = 2
    api.hold()  # every job stays queued: only a lifted limit lets more than two in
    job_set = start(manager, backend, 6, 1)
    assert wait_until(lambda: requests_to(api, "POST", JOBS_PATH, 409) >= 1, TIMEOUT)
    assert len(api.jobs) == 2
    api.max_pending = None  # a plan upgrade: IBM says nothing
    assert wait_until(lambda: len(api.jobs) == 6, TIMEOUT), job_set.report()
    api.release()
    assert_exact(job_set, range(6), 6)
    assert [c.attempts for c in job_set.managed_jobs()] == [1] * 6
    one_completed_job_per_chunk(api, job_set)


def test_an_unknown_limit_of_3_costs_at_most_1_2_submits_and_5_requests_per_chunk(
    api: RuntimeStandIn, manager: JobManager, backend: Any
) -> None:
    # The set (benchmarks/pending_limit.py): the open plan's limit, each job on the one
    # device for 1 s, no max_concurrent_jobs. Not fewer chunks: the set's fixed requests (batch,
    # properties, the refused submit) make 12 chunks cost exactly 5.0 a chunk, with no margin.
    chunks = 24
    api.max_pending, api.job_seconds = 3, 1.0
    before = len(api.requests)
    job_set = start(manager, backend, chunks, 1)
    assert_exact(job_set, range(chunks), chunks)
    (session_id,) = api.sessions
    closed = ("PATCH", f"/api/v1/sessions/{session_id}", 204)
    assert wait_until(lambda: closed in api.requests, TIMEOUT), "the set's Batch was not closed"

    seen = api.requests[before:]
    submits = [r.status for r in seen if (r.method, r.path) == ("POST", JOBS_PATH)]
    assert submits.count(409) >= 1, f"the limit of 3 was never met: {submits}"
    assert submits.count(200) == chunks, submits
    assert set(submits) == {200, 409}, submits
    assert len(submits) / chunks <= 1.2, f"{len(submits)} submits for {chunks} chunks: {submits}"
    assert len(seen) / chunks <= 5, f"{len(seen)} requests for {chunks} chunks:\n{seen}"
    assert job_set.pending_job_limit is not None
    assert [c.attempts for c in job_set.managed_jobs()] == [1] * chunks
    one_completed_job_per_chunk(api, job_set)


def test_two_sets_on_one_account_share_the_learned_limit(
    api: RuntimeStandIn, manager: JobManager, backend: Any
) -> None:
    api.max_pending = 2
    api.hold()  # the first set's two jobs stay queued: it learns exactly 2 from its refusal
    first = start(manager, backend, 6, 1)
    # The second set starts once the first has learned the limit (refused, and no submit of
    # its still under way to be refused too), and must not learn it again.
    assert wait_until(
        lambda: (
            requests_to(api, "POST", JOBS_PATH, 409) >= 1
            and ChunkState.SUBMITTING not in {c.state for c in first.managed_jobs()}
        ),
        TIMEOUT,
    ), first.report()
    refused_before_second = requests_to(api, "POST", JOBS_PATH, 409)
    second = start(manager, backend, 6, 1)
    assert second.pending_job_limit == first.pending_job_limit == 2
    api.release()
    for job_set in (first, second):
        assert_exact(job_set, range(6), 6)
        assert [c.attempts for c in job_set.managed_jobs()] == [1] * 6, job_set.report()
        one_completed_job_per_chunk(api, job_set)
    assert requests_to(api, "POST", JOBS_PATH, 409) == refused_before_second, (
        "the second set was refused: it did not share the limit the first had learned"
    )
    assert requests_to(api, "POST", JOBS_PATH, 200) == 12


# -- 3: 5xx bursts ------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("method", "path_contains"),
    [("POST", "/jobs"), ("GET", "/jobs/")],
    ids=["on-submit", "on-status-polls"],
)
def test_5xx_burst_is_survived_with_one_job_per_chunk(
    api: RuntimeStandIn, manager: JobManager, backend: Any, method: str, path_contains: str
) -> None:
    api.faults.http_error(status=503, count=3, method=method, path_contains=path_contains)
    job_set = start(manager, backend, 6, 2)
    assert_exact(job_set, range(6), 6)

    answered_503 = [r for r in api.requests if r.status == 503]
    assert len(answered_503) == 3, answered_503
    assert all(r.method == method and path_contains in r.path for r in answered_503)
    assert [c.attempts for c in job_set.managed_jobs()] == [1, 1, 1]
    assert len(api.jobs) == 3, "a 503 answer must not have made a job"
    one_completed_job_per_chunk(api, job_set)


# -- 3b: rate limited (429 with Retry-After) -----------------------------------------------
def test_a_rate_limited_submit_goes_again_no_sooner_than_its_retry_after(
    api: RuntimeStandIn, manager: JobManager, backend: Any
) -> None:
    # The client retries a 429 (waiting its Retry-After) only on reads; a submit's 429 reaches
    # us, and FAST's own back-off (0.05 s) would send it again at once. The limiter counts the
    # account's requests: the set's other chunk waits too.
    api.faults.http_error(status=429, count=1, method="POST", path=JOBS_PATH, retry_after=2)
    job_set = start(manager, backend, 4, 2, max_concurrent_jobs=1)  # chunk 0 meets the 429
    log = EventLog(job_set)
    assert_exact(job_set, range(4), 4)

    requests, times = api.requests, api.times  # times: when each was answered, in order
    submits = [
        (r.status, at)
        for r, at in zip(requests, times, strict=False)
        if (r.method, r.path) == ("POST", JOBS_PATH)
    ]
    assert [status for status, _ in submits] == [429, 200, 200], submits
    refused_at = submits[0][1]
    waited = [round(at - refused_at, 2) for _, at in submits[1:]]
    assert min(waited) >= 2.0, f"submits {waited} s after a 429 asking for 2 s"
    assert any("Retry-After" in (note or "") for note in log.notes_in("waiting")), log.seen
    chunks = job_set.managed_jobs()
    assert [(c.state, c.attempts, c.error) for c in chunks] == [(DONE, 2, None), (DONE, 1, None)]
    one_completed_job_per_chunk(api, job_set)


def test_a_rate_limited_submit_holds_every_set_on_the_account(
    api: RuntimeStandIn, manager: JobManager, backend: Any
) -> None:
    api.faults.http_error(status=429, count=1, method="POST", path=JOBS_PATH, retry_after=2)
    first = start(manager, backend, 4, 2, max_concurrent_jobs=1)  # chunk 0 meets the 429
    assert wait_until(lambda: any(r.status == 429 for r in api.requests), TIMEOUT)
    second = start(manager, backend, 4, 2)  # same account and backend, after the refusal
    assert_exact(first, range(4), 4)
    assert_exact(second, range(4), 4)
    submits = [
        (r.status, at)
        for r, at in zip(api.requests, api.times, strict=False)
        if (r.method, r.path) == ("POST", JOBS_PATH)
    ]
    assert [status for status, _ in submits] == [429] + [200] * 4, submits
    refused_at = submits[0][1]
    waited = [round(at - refused_at, 2) for _, at in submits[1:]]
    assert min(waited) >= 2.0, f"submits {waited} s after a 429 asking for 2 s"


# -- 4: dropped connections ---------------------------------------------------------------
def test_dropped_connection_on_status_and_result_reads_is_survived(
    api: RuntimeStandIn, manager: JobManager, backend: Any
) -> None:
    api.faults.drop_connection(count=2, method="GET", path_contains="/jobs/")
    job_set = start(manager, backend, 4, 2)
    assert_exact(job_set, range(4), 4)

    dropped = [r for r in api.requests if r.status == 0]
    assert len(dropped) == 2, dropped
    assert all(r.path.startswith(f"{JOBS_PATH}/") for r in dropped), dropped
    assert [c.attempts for c in job_set.managed_jobs()] == [1, 1]
    one_completed_job_per_chunk(api, job_set)


def test_dropped_submit_is_retried_by_the_retry_policy_and_makes_one_job(
    api: RuntimeStandIn, manager: JobManager, backend: Any
) -> None:
    api.faults.drop_connection(count=1, method="POST", path_contains=JOBS_PATH)
    job_set = start(manager, backend, 4, 2, max_concurrent_jobs=1)  # chunk 0 submits first
    assert_exact(job_set, range(4), 4)

    assert ("POST", JOBS_PATH, 0) in api.requests, "the submit was not dropped"
    chunks = job_set.managed_jobs()
    assert [(c.attempts, c.error) for c in chunks] == [(2, None), (1, None)], job_set.report()
    one_completed_job_per_chunk(api, job_set)


# -- 5: a job that ends FAILED on IBM -------------------------------------------------------
def test_failed_job_shows_its_reason_everywhere_and_retry_replaces_never_adds(
    api: RuntimeStandIn,
    manager: JobManager,
    backend: Any,
    kernel_loop: asyncio.AbstractEventLoop,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(comm, "create_comm", RecordingComm)
    reason = "Qubit 3 calibration failed"
    api.faults.fail_job(count=1, reason=reason)
    job_set = start(manager, backend, 6, 2)
    widget = on_loop(kernel_loop, lambda: JobSetWidget(job_set, loop=kernel_loop))
    try:
        job_set.wait(timeout=TIMEOUT)
        (bad,) = [c for c in job_set.managed_jobs() if c.state is not DONE]
        assert bad.state is ERROR, job_set.report()
        assert reason in (bad.error or ""), bad.error
        assert bad.attempts == 1, "a job that ended FAILED must wait for retry, not be rerun"
        assert reason in (job_set.error_messages() or "")
        assert wait_until(lambda: [e.get("index") for e in widget.errors] == [bad.index], 10)
        assert reason in widget.errors[0]["error"], widget.errors
        assert widget.errors[0]["state"] == "error", widget.errors

        bad_experiments = range(bad.start_index, bad.end_index + 1)
        good = [i for i in range(6) if i not in bad_experiments]
        assert_exact(job_set, good, 6)  # nothing of the failed job was merged
        with pytest.raises(ManagedResultDataNotAvailable, match=reason):
            job_set.results(timeout=TIMEOUT).get_counts(bad.start_index)
        failed_id = bad.job_id
        assert api.jobs[failed_id or ""].status == "FAILED"
        assert api.jobs[failed_id or ""].reason == reason

        job_set.retry(bad.index)
        assert_exact(job_set, range(6), 6)
        assert (bad.state, bad.attempts) == (DONE, 2), job_set.report()
        assert bad.previous_job_ids == [failed_id]
        assert job_set.error_messages() is None
        assert wait_until(lambda: widget.errors == [], 10), widget.errors
        found = statuses_by_chunk(api, job_set)
        expected = {c.index: ["COMPLETED"] for c in job_set.managed_jobs()}
        expected[bad.index] = ["FAILED", "COMPLETED"]
        assert found == expected, found
    finally:
        on_loop(kernel_loop, widget.close)


# -- 6, 7: cancel -------------------------------------------------------------------------
def test_cancelling_a_queued_job_cancels_it_on_ibm_and_keeps_the_others(
    api: RuntimeStandIn, manager: JobManager, backend: Any
) -> None:
    api.hold()
    job_set = start(manager, backend, 6, 2)
    assert wait_until(lambda: [c.state for c in job_set.managed_jobs()] == [QUEUED] * 3, TIMEOUT)
    victim = job_set.managed_jobs()[1]
    job_set.cancel_job(1)
    assert wait_until(lambda: api.jobs[victim.job_id or ""].status == "CANCELLED", TIMEOUT)
    assert wait_until(lambda: victim.state is CANCELLED, TIMEOUT), job_set.report()
    assert ("POST", f"{JOBS_PATH}/{victim.job_id}/cancel", 204) in api.requests
    api.release()

    assert_exact(job_set, [0, 1, 4, 5], 6)
    results = job_set.results(timeout=TIMEOUT, partial=True)
    assert not results.success
    for index in (2, 3):
        with pytest.raises(ManagedResultDataNotAvailable, match="cancelled"):
            results.get_counts(index)
    found = statuses_by_chunk(api, job_set)
    assert found == {0: ["COMPLETED"], 1: ["CANCELLED"], 2: ["COMPLETED"]}, found
    assert victim.attempts == 1


def test_cancelling_the_set_mid_run_cancels_on_ibm_submits_nothing_more_and_closes_the_batch(
    api: RuntimeStandIn, manager: JobManager, backend: Any
) -> None:
    api.hold()
    job_set = start(manager, backend, 6, 1, max_concurrent_jobs=2)
    assert wait_until(lambda: len(api.jobs) == 2 and polled(api, job_set), TIMEOUT)
    states = [c.state for c in job_set.managed_jobs()]
    assert states == [QUEUED] * 2 + [PENDING] * 4, states

    job_set.cancel()
    job_set.wait(timeout=TIMEOUT)

    assert [c.state for c in job_set.managed_jobs()] == [CANCELLED] * 6, job_set.report()
    assert {v.status for v in api.jobs.values()} == {"CANCELLED"}
    submits = (len(api.jobs), requests_to(api, "POST", JOBS_PATH))
    assert submits == (2, 2), "a job was submitted after the set was cancelled"
    (session_id,) = {v.session_id for v in api.jobs.values()}
    assert session_id is not None
    assert api.sessions == {session_id: "batch"}
    assert wait_until(
        lambda: requests_to(api, "PATCH", f"/api/v1/sessions/{session_id}", 204) == 1, TIMEOUT
    ), "the set's Batch was not closed"
    assert job_set.counts().aggregate == {}


# -- 8: revoked credentials ---------------------------------------------------------------
def run_and_revoke_after_chunk_0(
    api: RuntimeStandIn, manager: JobManager, backend: Any, policy: RetryPolicy
) -> ManagedJobSet:
    """Three chunks, one at a time; the tokens are revoked as soon as chunk 0 is done."""
    job_set = start(manager, backend, 6, 2, max_concurrent_jobs=1, retry_policy=policy)
    once_chunk_done(job_set, 0, api.revoke_tokens)
    job_set.wait(timeout=TIMEOUT)
    return job_set


def test_revoked_token_fails_the_rest_in_words_bounded_and_keeps_done_counts(
    api: RuntimeStandIn, manager: JobManager, backend: Any
) -> None:
    policy = RetryPolicy(attempts=3, initial_delay=0.05, max_delay=0.2)
    job_set = run_and_revoke_after_chunk_0(api, manager, backend, policy)

    chunks = job_set.managed_jobs()
    assert [c.state for c in chunks] == [DONE, FAILED, FAILED], job_set.report()
    for chunk in chunks[1:]:
        assert CREDENTIALS_WORDS in (chunk.error or ""), chunk.error
        assert 1 <= chunk.attempts <= policy.attempts, chunk
        assert chunk.job_id is None
    assert CREDENTIALS_WORDS in (job_set.error_messages() or "")
    assert_exact(job_set, [0, 1], 6)
    with pytest.raises(ManagedResultDataNotAvailable, match=CREDENTIALS_WORDS):
        job_set.results(timeout=TIMEOUT).get_counts(2)
    assert statuses_by_chunk(api, job_set) == {0: ["COMPLETED"]}


def test_revoked_token_is_not_retried(
    api: RuntimeStandIn, manager: JobManager, backend: Any
) -> None:
    policy = RetryPolicy(attempts=3, initial_delay=0.05, max_delay=0.2)
    job_set = run_and_revoke_after_chunk_0(api, manager, backend, policy)
    attempts = [(c.state, c.attempts) for c in job_set.managed_jobs()]
    assert attempts == [(DONE, 1), (FAILED, 1), (FAILED, 1)], (
        f"a 401 cannot be fixed by trying again: {attempts}"
    )


def test_revoked_token_fails_chunks_in_flight_instead_of_polling_forever(
    api: RuntimeStandIn,
    manager: JobManager,
    backend: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    api.hold()
    job_set = start(manager, backend, 4, 2)
    assert wait_until(lambda: len(api.jobs) == 2 and polled(api, job_set), TIMEOUT)
    api.revoke_tokens()
    try:
        assert wait_until(job_set.done, 12), f"still polling after 12 s:\n{job_set.report()}"
        for chunk in job_set.managed_jobs():
            assert chunk.state is FAILED, job_set.report()
            assert CREDENTIALS_WORDS in (chunk.error or ""), chunk.error
    finally:
        # Let the stand-in accept the client's tokens again, so the set can be cancelled and
        # the manager's threads end (the manager fixture checks that they do).
        monkeypatch.setattr(api._authority, "accepts", lambda authorization: True)
        job_set.cancel()
        job_set.wait(timeout=TIMEOUT)
        api.release()


# -- 9: IBM Quantum unreachable -------------------------------------------------------------
def test_unreachable_service_fails_the_rest_in_words_quickly_and_leaves_no_thread(
    api: RuntimeStandIn, manager: JobManager, backend: Any
) -> None:
    job_set = start(manager, backend, 4, 2, max_concurrent_jobs=1, retry_policy=RetryPolicy(1))
    stopped_at: list[float] = []

    def stop_service() -> None:
        api.stop()
        stopped_at.append(time.monotonic())

    once_chunk_done(job_set, 0, stop_service)
    job_set.wait(timeout=TIMEOUT)
    took = time.monotonic() - stopped_at[0]

    chunks = job_set.managed_jobs()
    assert [(c.state, c.attempts) for c in chunks] == [(DONE, 1), (FAILED, 1)], job_set.report()
    assert UNREACHABLE_WORDS in (chunks[1].error or ""), chunks[1].error
    assert took < 30, f"the unreachable service took {took:.1f} s to fail one chunk"
    assert_exact(job_set, [0, 1], 4)
    # Closing the Batch fails too (after the client's own retries); the threads still end.
    assert wait_until(lambda: not qjm_threads(), TIMEOUT), f"threads left: {qjm_threads()}"
