"""IBMBackend of qiskit-ibm-provider 0.11 through the BackendV2 path: the real client, talking
to ProviderStandIn on 127.0.0.1 (jobs run on Aer, noiseless, so counts are exact)."""

from __future__ import annotations

import os
import pathlib
import signal
import subprocess
import sys
import warnings
from typing import Any

import pytest
from conftest import assert_exact, basis_circuits, expected_key, wait_until
from qiskit import transpile
from support import sweep_binds, sweep_circuit

from qjm_widget import (
    ChunkState,
    JobManager,
    JobSetEvent,
    ManagedJobSet,
    ManagedResultDataNotAvailable,
    RetryPolicy,
    pending_limit,
)
from qjm_widget.manager import DEFAULT_MAX_WORKERS

# The stand-in is set up before the manager, so it is stopped after the manager's sets end.
pytestmark = pytest.mark.usefixtures("api")

SHOTS = 30
FAST = RetryPolicy(initial_delay=0.01, max_delay=0.05)
SET_TAG = "qjm_jobset_"
DONE, ERROR, FAILED, CANCELLED, QUEUED, LOST, SUBMITTING = (
    ChunkState(s) for s in ("done", "error", "failed", "cancelled", "queued", "lost", "submitting")
)


def start(manager: JobManager, backend: Any, num: int, per_job: int, **options: Any) -> Any:
    options = {"shots": SHOTS, "retry_policy": FAST, **options}
    return manager.run(basis_circuits(num), backend, max_experiments_per_job=per_job, **options)


def submits(api: Any) -> list[int]:
    """The status of every job submission the stand-in saw (0: connection dropped)."""
    submit = ("POST", "/runtime/jobs")
    return [status for method, path, status in api.requests if (method, path) == submit]


def server_jobs(api: Any, job_set: ManagedJobSet) -> dict[str, Any]:
    tag = SET_TAG + job_set.job_set_id()
    return {job_id: info for job_id, info in api.jobs.items() if tag in info.tags}


def states(job_set: ManagedJobSet) -> list[ChunkState]:
    return [chunk.state for chunk in job_set.managed_jobs()]


def test_ibm_backend_runs_chunks_with_exact_counts_and_tagged_jobs(
    api: Any, provider: Any, backend: Any, manager: JobManager
) -> None:
    job_set = start(manager, backend, 7, 3, job_tags=["mine"])
    results = job_set.results(timeout=30)
    assert results.success, job_set.report()
    assert_exact(job_set, 7, SHOTS)
    assert [results.get_counts(i) for i in range(7)] == [{expected_key(i): SHOTS} for i in range(7)]
    combined = results.combine_results()
    assert [combined.get_counts(i) for i in range(7)] == [
        {expected_key(i): SHOTS} for i in range(7)
    ]
    # Every job was submitted once, to the runtime API as circuit-runner, with both tags.
    set_tag = SET_TAG + job_set.job_set_id()
    job_ids = [chunk.job_id for chunk in job_set.managed_jobs()]
    assert submits(api) == [200, 200, 200]
    assert set(server_jobs(api, job_set)) == set(job_ids)
    for job_id in job_ids:
        info = api.jobs[job_id]
        assert (info.status, info.backend) == ("Completed", "fake_manila")
        assert {"mine", set_tag} <= set(info.tags), info.tags
    # ... and the provider's own job listing finds them by those tags.
    listed = provider.backend.jobs(job_tags=["mine", set_tag], limit=None)
    assert sorted(job.job_id() for job in listed) == sorted(job_ids)
    again = provider.backend.retrieve_job(job_ids[1])
    assert again.result().get_counts(0) == {expected_key(3): SHOTS}


def test_a_set_is_rebuilt_from_its_tags_when_no_store_knows_it_and_a_lost_job_is_tolerated(
    api: Any, backend: Any, manager: JobManager, tmp_path: pathlib.Path
) -> None:
    job_set = start(manager, backend, 6, 2, name="sweep", job_tags=["mine"])
    assert job_set.results(timeout=30).success, job_set.report()
    gone = job_set.managed_jobs()[1].job_id
    api.delete_job(gone)
    before = len(submits(api))
    rebuilt = JobManager(store=tmp_path / "elsewhere.sqlite3").retrieve_job_set(
        job_set.job_set_id(), backend=backend
    )
    rebuilt.wait(timeout=30)
    assert (rebuilt.name(), rebuilt.tags()) == ("sweep", ["mine"])
    assert states(rebuilt) == [DONE, LOST, DONE], rebuilt.report()
    assert "cannot be retried" in (rebuilt.managed_jobs()[1].error or "")
    assert rebuilt.retry_failed() == []
    results = rebuilt.results(timeout=10, partial=True)
    for i in (0, 1, 4, 5):
        assert results.get_counts(i) == {expected_key(i): SHOTS}
    with pytest.raises(ManagedResultDataNotAvailable):
        results.get_counts(2)
    assert len(submits(api)) == before, "rebuilding submitted a job"


def crashed_run(api: Any, store: pathlib.Path, num: int, per_job: int) -> tuple[str, list[str]]:
    """Run a set in another process until every chunk has a job id, then SIGKILL it."""
    script = pathlib.Path(__file__).with_name("run_on_provider.py")
    args = [api.auth_url, api.token, str(store), str(num), str(per_job), str(SHOTS)]
    worker = subprocess.Popen(
        [sys.executable, str(script), *args], stdout=subprocess.PIPE, text=True,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
    )  # fmt: skip
    try:
        assert worker.stdout is not None
        job_set_id = worker.stdout.readline().strip()
        job_ids = worker.stdout.readline().split()
    finally:
        os.kill(worker.pid, signal.SIGKILL)
        worker.wait(timeout=10)  # reaped: a zombie would still count as the set's live owner
    assert job_set_id, "the worker printed no job set id"
    assert len(job_ids) == -(-num // per_job), job_ids
    return job_set_id, job_ids


def test_unfinished_chunks_are_reattached_through_retrieve_job_after_a_crash(
    api: Any, backend: Any, manager: JobManager
) -> None:
    api.hold()
    job_set_id, job_ids = crashed_run(api, manager.store.path, 4, 2)
    assert [info.status for info in api.jobs.values()] == ["Queued", "Queued"]

    again = manager.retrieve_job_set(job_set_id, backend=backend)
    assert states(again) == [QUEUED, QUEUED], again.report()
    assert [chunk.job_id for chunk in again.managed_jobs()] == job_ids
    looked_up = {path.split("/")[5] for _, path, _ in api.requests if "/facade/v1/jobs/" in path}
    assert looked_up == set(job_ids)  # through provider.backend.retrieve_job
    api.release()
    results = again.results(timeout=30)
    assert results.success, again.report()
    for index in range(4):
        assert results.get_counts(index) == {expected_key(index): SHOTS}
    assert [chunk.job_id for chunk in again.managed_jobs()] == job_ids  # the same jobs
    assert submits(api) == [200, 200]  # nothing submitted twice


def test_a_job_the_service_forgot_comes_back_lost_and_retry_failed_runs_it_again(
    api: Any, backend: Any, manager: JobManager
) -> None:
    api.hold()
    job_set_id, (job_id,) = crashed_run(api, manager.store.path, 2, 2)
    api.delete_job(job_id)
    again = manager.retrieve_job_set(job_set_id, backend=backend)
    (chunk,) = again.managed_jobs()
    assert chunk.state is LOST
    assert job_id in (chunk.error or ""), chunk.error
    assert "cannot be looked up" in (chunk.error or ""), chunk.error
    api.release()
    again.retry_failed()
    assert again.results(timeout=30).success, again.report()
    assert_exact(again, 2, SHOTS)


def test_a_job_deleted_on_the_service_while_it_runs_ends_lost_not_polled_forever(
    api: Any, backend: Any, manager: JobManager
) -> None:
    api.hold()
    job_set = start(manager, backend, 4, 2)
    assert wait_until(lambda: states(job_set) == [QUEUED, QUEUED], 10), job_set.report()
    gone = job_set.managed_jobs()[1].job_id
    api.delete_job(gone)
    assert wait_until(lambda: states(job_set)[1] is LOST, 10), job_set.report()
    assert f"job {gone} no longer exists" in (job_set.managed_jobs()[1].error or "")
    api.release()
    job_set.wait(timeout=30)
    assert job_set.retry_failed() == [1]
    assert job_set.results(timeout=30).success, job_set.report()
    assert_exact(job_set, 4, SHOTS)


def test_pending_job_limit_3458_waits_then_resubmits_without_losing_or_doubling_counts(
    api: Any, backend: Any, manager: JobManager
) -> None:
    api.faults.pending_limit(1)
    notes: list[str] = []
    job_set = start(manager, backend, 4, 2)
    job_set.subscribe(lambda _: notes.extend(c.note or "" for c in job_set.managed_jobs()))
    assert job_set.results(timeout=30).success, job_set.report()
    assert_exact(job_set, 4, SHOTS)
    assert submits(api) == [429, 200, 200]
    assert len(server_jobs(api, job_set)) == 2
    assert [chunk.attempts for chunk in job_set.managed_jobs()] == [1, 1]
    assert any("3458" in note for note in notes), notes


def test_a_real_pending_limit_is_learned_and_each_chunk_waits_for_a_free_slot(
    api: Any, backend: Any, manager: JobManager
) -> None:
    api.max_pending, api.job_seconds = 3, 0.2
    job_set = start(manager, backend, 12, 1)  # no max_concurrent_jobs: the limit is unknown
    assert job_set.results(timeout=60).success, job_set.report()
    assert_exact(job_set, 12, SHOTS)
    # Only the submits under way when the first refusal came may be refused (at most one per
    # worker of the manager); after it, each chunk waits for a free slot. Not learning the limit
    # costs one refusal per waiting chunk per freed slot (dozens here).
    assert submits(api).count(429) <= DEFAULT_MAX_WORKERS, submits(api)
    assert submits(api).count(200) == 12
    assert [chunk.attempts for chunk in job_set.managed_jobs()] == [1] * 12


def test_two_sets_on_one_account_share_the_learned_limit(
    api: Any, backend: Any, manager: JobManager
) -> None:
    api.max_pending, api.job_seconds = 2, 0.2
    first = start(manager, backend, 6, 1)
    # The second set starts once the first has learned the limit (refused, and no submit of its
    # still under way to be refused too), and must not relearn it.
    assert wait_until(lambda: 429 in submits(api) and SUBMITTING not in states(first), 30), submits(
        api
    )
    refused_before_second = submits(api).count(429)
    second = start(manager, backend, 6, 1)
    for job_set in (first, second):
        assert job_set.results(timeout=60).success, job_set.report()
        assert_exact(job_set, 6, SHOTS)
    assert submits(api).count(429) == refused_before_second, submits(api)
    assert submits(api).count(200) == 12


def test_a_limit_lifted_mid_set_is_found_by_a_probe_beyond_it(
    api: Any, backend: Any, manager: JobManager, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(pending_limit, "_PROBE_AFTER", (0.3, 0.6))
    api.max_pending = 2
    api.hold()  # every job stays queued: only a lifted limit lets more than two in
    job_set = start(manager, backend, 6, 1)
    assert wait_until(lambda: 429 in submits(api), 30), submits(api)
    assert len(server_jobs(api, job_set)) == 2
    api.max_pending = None  # IBM lifted the limit (a plan upgrade), without a word
    assert wait_until(lambda: len(server_jobs(api, job_set)) == 6, 30), submits(api)
    api.release()
    assert job_set.results(timeout=60).success, job_set.report()
    assert_exact(job_set, 6, SHOTS)
    assert [chunk.attempts for chunk in job_set.managed_jobs()] == [1] * 6


def test_a_5xx_burst_is_ridden_out_by_the_client_and_nothing_is_submitted_twice(
    api: Any, backend: Any, manager: JobManager
) -> None:
    api.faults.http_error(status=503, count=2, method="POST", path_contains="/runtime/jobs")
    api.faults.http_error(status=502, count=1, method="GET", path_contains="/runtime/jobs/")
    job_set = start(manager, backend, 4, 2)
    assert job_set.results(timeout=30).success, job_set.report()
    assert_exact(job_set, 4, SHOTS)
    assert submits(api) == [503, 503, 200, 200]
    assert len(server_jobs(api, job_set)) == 2
    assert [(c.attempts, c.error) for c in job_set.managed_jobs()] == [(1, None), (1, None)]
    assert ("GET", 502) in {(method, status) for method, _, status in api.requests}


def test_a_rate_limited_submit_goes_again_no_sooner_than_its_retry_after(
    api: Any, backend: Any, manager: JobManager
) -> None:
    # qiskit-ibm-provider retries no 429: the submit's answer reaches us wrapped, with the
    # requests HTTPError (and its headers) in the chain. FAST's own back-off is 0.05 s.
    api.faults.http_error(
        status=429, count=1, method="POST", path_contains="/runtime/jobs", retry_after=2
    )
    job_set = start(manager, backend, 4, 2, max_concurrent_jobs=1)  # chunk 0 meets the 429
    assert job_set.results(timeout=30).success, job_set.report()
    assert_exact(job_set, 4, SHOTS)
    timed = [
        (status, at)
        for (method, path, status), at in zip(api.requests, api.times, strict=True)
        if (method, path) == ("POST", "/runtime/jobs")
    ]
    assert [status for status, _ in timed] == [429, 200, 200], timed
    waited = [round(at - timed[0][1], 2) for _, at in timed[1:]]
    assert min(waited) >= 2.0, f"submits {waited} s after a 429 asking for 2 s"
    assert [(c.attempts, c.error) for c in job_set.managed_jobs()] == [(2, None), (1, None)]


def test_a_dropped_submit_is_retried_by_the_manager_and_a_dropped_poll_by_the_client(
    api: Any, backend: Any, manager: JobManager
) -> None:
    api.faults.drop_connection(count=1, method="POST", path_contains="/runtime/jobs")
    api.faults.drop_connection(count=1, method="GET", path_contains="/runtime/jobs/")
    job_set = start(manager, backend, 2, 2)
    assert job_set.results(timeout=30).success, job_set.report()
    assert_exact(job_set, 2, SHOTS)
    (chunk,) = job_set.managed_jobs()
    assert (chunk.state, chunk.attempts, chunk.error) == (DONE, 2, None)
    assert submits(api) == [0, 200]
    assert len(server_jobs(api, job_set)) == 1


def test_a_job_that_fails_on_the_device_reports_why_and_retry_failed_completes_it(
    api: Any, backend: Any, manager: JobManager
) -> None:
    api.faults.fail_job(count=1, reason="qubit 3 lost its calibration")
    job_set = start(manager, backend, 4, 2)
    job_set.wait(timeout=30)
    assert sorted(states(job_set)) == sorted([ERROR, DONE]), job_set.report()  # either ran first
    failed = states(job_set).index(ERROR)
    assert "qubit 3 lost its calibration" in (job_set.error_messages() or "")
    failed_job = job_set.managed_jobs()[failed].job_id
    assert api.jobs[failed_job].status == "Failed"

    job_set.retry_failed()
    assert job_set.results(timeout=30).success, job_set.report()
    assert_exact(job_set, 4, SHOTS)
    assert job_set.managed_jobs()[failed].job_id != failed_job
    assert sorted(info.status for info in server_jobs(api, job_set).values()) == [
        "Completed",
        "Completed",
        "Failed",
    ]


def test_cancel_job_cancels_a_queued_job_on_the_service(
    api: Any, backend: Any, manager: JobManager
) -> None:
    api.hold()
    job_set = start(manager, backend, 4, 2)
    assert wait_until(lambda: states(job_set) == [QUEUED, QUEUED], 10), job_set.report()
    job_set.cancel_job(0)
    assert wait_until(lambda: states(job_set)[0] is CANCELLED, 10), job_set.report()
    assert api.jobs[job_set.managed_jobs()[0].job_id].status == "Cancelled"
    api.release()
    job_set.wait(timeout=30)
    assert states(job_set) == [CANCELLED, DONE], job_set.report()
    results = job_set.results(timeout=5)
    assert results.get_counts(2) == {expected_key(2): SHOTS}
    with pytest.raises(ManagedResultDataNotAvailable):
        results.get_counts(0)


def test_cancel_mid_run_keeps_finished_counts_and_leaves_no_job_running(
    api: Any, backend: Any, manager: JobManager
) -> None:
    def hold_after_first_counts(event: JobSetEvent) -> None:
        if event.kind == "counts":
            api.hold()  # jobs submitted from now on stay queued

    job_set = start(manager, backend, 8, 2, max_concurrent_jobs=1)
    job_set.subscribe(hold_after_first_counts)

    def one_done_one_held() -> bool:
        first, *rest = job_set.managed_jobs()
        return first.state is DONE and any(c.state is QUEUED and c.job_id for c in rest)

    assert wait_until(one_done_one_held, 10), job_set.report()
    job_set.cancel()
    job_set.wait(timeout=30)
    chunks = job_set.managed_jobs()
    assert chunks[0].state is DONE, job_set.report()
    assert {c.state for c in chunks} <= {DONE, CANCELLED}, job_set.report()
    assert (chunks[-1].state, chunks[-1].job_id) == (CANCELLED, None)  # never submitted
    merged = job_set.counts().per_experiment
    for chunk in chunks:
        for index in range(chunk.start_index, chunk.end_index + 1):
            expected = {expected_key(index): SHOTS} if chunk.state is DONE else {}
            assert (merged[index] or {}) == expected, job_set.report()
    on_service = server_jobs(api, job_set)
    assert len(on_service) == sum(c.job_id is not None for c in chunks) == len(submits(api))
    assert {info.status for info in on_service.values()} <= {"Completed", "Cancelled"}


def revoked_run(api: Any, backend: Any, manager: JobManager) -> str:
    """Run one chunk after the service revoked every token; return the chunk's error."""
    assert backend.target.num_qubits == 5  # configuration and properties read while allowed
    api.revoke_tokens()
    job_set = start(manager, backend, 2, 2)
    job_set.wait(timeout=30)
    (chunk,) = job_set.managed_jobs()
    assert chunk.state is FAILED, job_set.report()
    assert chunk.attempts == 1, job_set.report()  # the same token would only be refused again
    assert chunk.error in (job_set.error_messages() or ""), job_set.error_messages()
    return chunk.error or ""


def test_a_revoked_token_fails_the_chunk_at_once_with_words_saying_so(
    api: Any, backend: Any, manager: JobManager
) -> None:
    error = revoked_run(api, backend, manager)
    assert "refused the credentials (HTTP 401)" in error, error
    assert "revoked" in error, error


def test_a_revoked_token_tells_a_provider_user_how_to_log_in_again(
    api: Any, backend: Any, manager: JobManager
) -> None:
    error = revoked_run(api, backend, manager)
    assert "IBMProvider" in error, error
    assert "QiskitRuntimeService" not in error, error


def test_the_stand_in_can_run_its_device_noise_model(manager: JobManager) -> None:
    from provider_api import ProviderStandIn

    with ProviderStandIn(noise_model="device") as noisy:
        backend = noisy.provider().get_backend("fake_manila")
        job_set = start(manager, backend, 4, 2, shots=200)
        assert job_set.results(timeout=30).success, job_set.report()
    for index, counts in enumerate(job_set.counts().per_experiment):
        assert sum(counts.values()) == 200, counts
        assert max(counts, key=counts.__getitem__) == expected_key(index), counts


def test_a_sweep_on_the_provider_path_is_bound_per_chunk_with_exact_counts(
    api: Any, backend: Any, manager: JobManager
) -> None:
    """qiskit-ibm-provider's run() takes no parameter_binds: each job gets its points as bound
    copies (one circuit per point), and the counts are exact per point."""
    states = [6, 1, 4, 3, 0]
    sweep = transpile(sweep_circuit(), backend, optimization_level=0, seed_transpiler=1)
    job_set = manager.run(
        [sweep],
        backend,
        shots=SHOTS,
        parameter_binds=[sweep_binds(states, sweep)],
        max_executions_per_job=2 * SHOTS,
        retry_policy=FAST,
    )
    results = job_set.results(timeout=60)
    assert results.success, job_set.report()
    assert [c.points for c in job_set.managed_jobs()] == [(0, 0, 1), (0, 2, 3), (0, 4, 4)]
    assert [results.get_counts(0, p) for p in range(5)] == [
        {expected_key(s): SHOTS} for s in states
    ]
    assert submits(api)[-3:] == [200, 200, 200]


def test_a_set_is_retrieved_by_its_id_and_the_ibm_provider_alone_and_retried(
    api: Any, provider: Any, backend: Any, manager: JobManager
) -> None:
    api.faults.fail_job(count=1, reason="qubit 3 lost its calibration")
    job_set = start(manager, backend, 4, 2)
    job_set.wait(timeout=30)
    failed = states(job_set).index(ERROR)
    # A new manager on the store stands in for a new process; only the provider is given.
    again = JobManager(store=manager.store).retrieve_job_set(
        job_set.job_set_id(), provider=provider
    )
    assert again is not job_set
    assert again.backend_name == backend.name
    assert [type(job).__name__ for job in again.jobs()] == ["IBMCircuitJob", "IBMCircuitJob"]
    assert again.retry_failed() == [failed]
    assert again.results(timeout=30).success, again.report()
    assert_exact(again, 4, SHOTS)
    assert type(again.jobs()[failed]).__name__ == "IBMCircuitJob"


def test_a_retrieved_sets_finished_jobs_are_the_providers_own_found_by_one_listing(
    api: Any, provider: Any, backend: Any, manager: JobManager
) -> None:
    job_set = start(manager, backend, 6, 1)
    assert job_set.results(timeout=30).success, job_set.report()
    job_ids = [c.job_id for c in job_set.managed_jobs()]
    gone = job_ids[2]
    api.delete_job(gone)

    def job_requests(since: int) -> list[tuple[str, str]]:
        return [(m, p) for m, p, _ in api.requests[since:] if p.startswith("/runtime/jobs")]

    seen = len(api.requests)
    # A new manager and provider on the store stand in for a new process.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        fresh = api.provider()
    again = JobManager(store=manager.store).retrieve_job_set(job_set.job_set_id(), provider=fresh)
    assert job_requests(seen) == [], "the retrieval looked jobs up"
    seen = len(api.requests)
    jobs = again.jobs()
    # One page of 6 jobs, then an empty one for each of the client's two paging loops (they
    # stop on an empty page): no request a chunk.
    listed = job_requests(seen)
    assert set(listed) == {("GET", "/runtime/jobs")}, listed
    assert len(listed) <= 3, listed
    kinds = ["StoredJob" if i == 2 else "IBMCircuitJob" for i in range(6)]
    assert [type(job).__name__ for job in jobs] == kinds
    assert [job.job_id() for job in jobs] == job_ids
    assert all(c.job is job for c, job in zip(again.managed_jobs(), jobs, strict=True))
    assert [job.result().get_counts(0) for job in jobs] == [
        {expected_key(i): SHOTS} for i in range(6)
    ]
