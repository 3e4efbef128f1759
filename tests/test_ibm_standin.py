"""The real qiskit-ibm-runtime 0.51 client against the loopback IBM Quantum stand-in.

No qjm_widget code here: these tests pin what the stand-in answers and how the client takes it,
so the job manager's own runtime tests can rely on both.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest
from conftest import NUM_QUBITS, basis_circuit, expected_key, wait_until
from ibm_standin import PENDING_LIMIT_CODE, RuntimeStandIn
from qiskit import QuantumCircuit, transpile
from qiskit_ibm_runtime import Batch, SamplerV2, Session
from qiskit_ibm_runtime.accounts.exceptions import InvalidAccountError
from qiskit_ibm_runtime.exceptions import (
    IBMNotAuthorizedError,
    IBMRuntimeError,
    RuntimeInvalidStateError,
    RuntimeJobFailureError,
    RuntimeJobNotFound,
)

SHOTS = 64


def isa_circuits(backend: object, count: int) -> list[QuantumCircuit]:
    circuits = [basis_circuit(i) for i in range(count)]
    return list(transpile(circuits, backend=backend, seed_transpiler=7))


def standin_threads() -> list[str]:
    return [t.name for t in threading.enumerate() if t.name.startswith("ibm-standin")]


@pytest.fixture(autouse=True)
def no_threads_left() -> Iterator[None]:
    yield
    assert standin_threads() == [], f"stand-in threads outlived the test: {standin_threads()}"


@pytest.fixture
def api() -> Iterator[RuntimeStandIn]:
    with RuntimeStandIn(backends=("fake_manila",), noise=False) as standin:
        yield standin


def test_service_connects_and_builds_the_backend_from_the_fake_device(
    api: RuntimeStandIn,
) -> None:
    service = api.service()
    backend = service.backend("fake_manila")

    assert backend.name == "fake_manila"
    assert backend.num_qubits == 5
    assert service.active_instance() == api.instance
    assert backend.status().operational
    paths = {(r.method, r.path) for r in api.requests}
    assert ("POST", "/identity/token") in paths, "the client never asked IAM for a token"
    assert ("GET", "/api/v1/backends/fake_manila/configuration") in paths


def test_noiseless_sampler_job_gives_exact_counts_per_pub(api: RuntimeStandIn) -> None:
    backend = api.service().backend("fake_manila")
    circuits = isa_circuits(backend, 2**NUM_QUBITS)

    job = SamplerV2(mode=backend).run(circuits, shots=SHOTS)
    result = job.result()

    assert job.status() == "DONE"
    assert len(result) == len(circuits)
    for index, pub_result in enumerate(result):
        counts = pub_result.data.c.get_counts()
        assert counts == {expected_key(index): SHOTS}, f"pub {index} read {counts}"
        assert pub_result.join_data().get_counts() == counts
    stored = api.jobs[job.job_id()]
    assert (stored.status, stored.num_pubs, stored.backend) == ("COMPLETED", 8, "fake_manila")


def test_noisy_sampler_job_reads_mostly_the_prepared_state() -> None:
    with RuntimeStandIn(backends=("fake_manila",), noise=True, seed=11) as api:
        backend = api.service().backend("fake_manila")
        circuits = isa_circuits(backend, 4)
        result = SamplerV2(mode=backend).run(circuits, shots=200).result()

    for index, pub_result in enumerate(result):
        counts = pub_result.data.c.get_counts()
        assert sum(counts.values()) == 200
        assert max(counts, key=counts.__getitem__) == expected_key(index), f"pub {index}: {counts}"


def test_tags_are_sent_listed_and_updated(api: RuntimeStandIn) -> None:
    service = api.service()
    backend = service.backend("fake_manila")
    sampler = SamplerV2(mode=backend)
    sampler.options.environment.job_tags = ["set-a", "chunk-0"]
    tagged = sampler.run(isa_circuits(backend, 1), shots=SHOTS)
    untagged = SamplerV2(mode=backend).run(isa_circuits(backend, 1), shots=SHOTS)
    tagged.result()
    untagged.result()

    assert api.jobs[tagged.job_id()].tags == ("set-a", "chunk-0")
    assert [j.job_id() for j in service.jobs(job_tags=["set-a"])] == [tagged.job_id()]
    assert service.jobs(job_tags=["set-a", "other"]) == [], "every tag must match"
    assert sorted(tagged.update_tags(["renamed"])) == ["renamed"]
    assert service.job(tagged.job_id()).tags == ["renamed"]
    assert [j.job_id() for j in service.jobs(job_tags=["renamed"], limit=5)] == [tagged.job_id()]


def test_batch_creates_a_session_and_its_jobs_carry_the_id(api: RuntimeStandIn) -> None:
    backend = api.service().backend("fake_manila")
    circuits = isa_circuits(backend, 2)
    batch = Batch(backend=backend)
    sampler = SamplerV2(mode=batch)
    jobs = [sampler.run([circuit], shots=SHOTS) for circuit in circuits]
    for job in jobs:
        job.result()
    batch.close()

    assert batch.session_id is not None
    assert api.sessions == {batch.session_id: "batch"}
    assert {api.jobs[j.job_id()].session_id for j in jobs} == {batch.session_id}
    assert ("POST", "/api/v1/sessions", 200) in api.requests
    assert ("PATCH", f"/api/v1/sessions/{batch.session_id}", 204) in api.requests
    assert batch.status() == "Closed"


def test_session_is_dedicated_and_reports_details(api: RuntimeStandIn) -> None:
    backend = api.service().backend("fake_manila")
    with Session(backend=backend) as session:
        SamplerV2(mode=session).run(isa_circuits(backend, 1), shots=SHOTS).result()
        details = session.details()
    assert details is not None
    assert (details["mode"], details["backend_name"]) == ("dedicated", "fake_manila")
    assert details["state"] == "active"
    assert session.status() == "Closed"


def test_held_job_stays_queued_and_cancels(api: RuntimeStandIn) -> None:
    service = api.service()
    backend = service.backend("fake_manila")
    api.hold()
    job = SamplerV2(mode=backend).run(isa_circuits(backend, 1), shots=SHOTS)

    assert job.status() == "QUEUED"
    assert [j.job_id() for j in service.jobs(pending=True)] == [job.job_id()]
    assert service.jobs(pending=False) == []
    job.cancel()
    api.release()

    assert service.job(job.job_id()).status() == "CANCELLED"
    assert api.jobs[job.job_id()].status == "CANCELLED"
    assert ("POST", f"/api/v1/jobs/{job.job_id()}/cancel", 204) in api.requests


def test_cancelling_a_finished_job_is_refused(api: RuntimeStandIn) -> None:
    backend = api.service().backend("fake_manila")
    job = SamplerV2(mode=backend).run(isa_circuits(backend, 1), shots=SHOTS)
    job.result()
    with pytest.raises(RuntimeInvalidStateError, match="409"):
        job.cancel()
    assert api.jobs[job.job_id()].status == "COMPLETED"


def test_pending_limit_is_ibms_409_with_code_3458(api: RuntimeStandIn) -> None:
    backend = api.service().backend("fake_manila")
    circuits = isa_circuits(backend, 1)
    api.faults.pending_limit(1)

    with pytest.raises(IBMRuntimeError) as refused:
        SamplerV2(mode=backend).run(circuits, shots=SHOTS)
    assert str(PENDING_LIMIT_CODE) in str(refused.value)
    assert "409" in str(refused.value)
    assert api.jobs == {}, "a refused submit must not create a job"
    SamplerV2(mode=backend).run(circuits, shots=SHOTS).result()  # the fault was used up


def test_max_pending_refuses_while_that_many_jobs_wait(api: RuntimeStandIn) -> None:
    backend = api.service().backend("fake_manila")
    circuits = isa_circuits(backend, 1)
    api.max_pending = 2
    api.hold()
    first = [SamplerV2(mode=backend).run(circuits, shots=SHOTS) for _ in range(2)]
    with pytest.raises(IBMRuntimeError, match=str(PENDING_LIMIT_CODE)):
        SamplerV2(mode=backend).run(circuits, shots=SHOTS)
    api.release()
    for job in first:
        job.result()
    SamplerV2(mode=backend).run(circuits, shots=SHOTS).result()
    assert len(api.jobs) == 3


def test_client_retries_a_5xx_burst_on_job_status(api: RuntimeStandIn) -> None:
    service = api.service()
    backend = service.backend("fake_manila")
    job = SamplerV2(mode=backend).run(isa_circuits(backend, 1), shots=SHOTS)
    api.wait_idle()
    retrieved = service.job(job.job_id())
    api.faults.http_error(status=503, count=2, method="GET", path_contains="/jobs/")

    started = time.monotonic()
    assert retrieved.status() == "DONE"  # urllib3 retried twice (waits 0 s, then 1 s)
    assert time.monotonic() - started < 5
    statuses = [r.status for r in api.requests if r.path == f"/api/v1/jobs/{job.job_id()}"]
    assert statuses[-3:] == [503, 503, 200]


def test_client_retries_a_5xx_on_submit(api: RuntimeStandIn) -> None:
    backend = api.service().backend("fake_manila")
    api.faults.http_error(status=502, count=1, method="POST", path_contains="/jobs")
    job = SamplerV2(mode=backend).run(isa_circuits(backend, 1), shots=SHOTS)
    job.result()
    assert len(api.jobs) == 1, "the retried submit must create exactly one job"


def test_dropped_connection_on_get_is_retried_but_on_submit_is_not(api: RuntimeStandIn) -> None:
    service = api.service()
    backend = service.backend("fake_manila")
    circuits = isa_circuits(backend, 1)
    job = SamplerV2(mode=backend).run(circuits, shots=SHOTS)
    api.wait_idle()
    api.faults.drop_connection(count=1, method="GET", path_contains="/jobs/")
    assert service.job(job.job_id()).status() == "DONE"
    assert ("GET", f"/api/v1/jobs/{job.job_id()}", 0) in api.requests

    # urllib3 retries read errors for idempotent methods only: a dropped POST reaches the caller.
    api.faults.drop_connection(count=1, method="POST", path_contains="/jobs")
    with pytest.raises(IBMRuntimeError, match="Connection aborted"):
        SamplerV2(mode=backend).run(circuits, shots=SHOTS)
    assert len(api.jobs) == 1, "a dropped submit must not create a job"


def test_failed_job_reason_is_visible(api: RuntimeStandIn) -> None:
    backend = api.service().backend("fake_manila")
    api.faults.fail_job(count=1, reason="Qubit 3 lost calibration", reason_code=1517)
    job = SamplerV2(mode=backend).run(isa_circuits(backend, 1), shots=SHOTS)

    with pytest.raises(RuntimeJobFailureError, match="Qubit 3 lost calibration"):
        job.result()
    assert job.status() == "ERROR"
    message = job.error_message()
    assert message is not None
    assert "Qubit 3 lost calibration" in message
    assert api.jobs[job.job_id()].status == "FAILED"


def test_wrong_api_key_is_the_clients_own_error(api: RuntimeStandIn) -> None:
    with pytest.raises(InvalidAccountError, match="valid API token"):
        api.service(token="bad")
    assert ("POST", "/identity/token", 400) in api.requests


def test_revoked_tokens_raise_the_clients_auth_error(api: RuntimeStandIn) -> None:
    service = api.service()
    backend = service.backend("fake_manila")
    job = SamplerV2(mode=backend).run(isa_circuits(backend, 1), shots=SHOTS)
    api.wait_idle()
    api.revoke_tokens()

    with pytest.raises(IBMNotAuthorizedError, match="401"):
        service.job(job.job_id())
    with pytest.raises(InvalidAccountError):
        api.service()


def test_deleted_job_is_not_found(api: RuntimeStandIn) -> None:
    service = api.service()
    backend = service.backend("fake_manila")
    job = SamplerV2(mode=backend).run(isa_circuits(backend, 1), shots=SHOTS)
    api.wait_idle()
    api.delete_job(job.job_id())

    with pytest.raises(RuntimeJobNotFound):
        service.job(job.job_id())
    assert ("GET", f"/api/v1/jobs/{job.job_id()}", 404) in api.requests
    assert wait_until(lambda: job.job_id() not in api.jobs), "the job did not disappear"
