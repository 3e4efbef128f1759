"""The jobs behind ProviderStandIn: what circuit-runner jobs the stand-in holds, the faults it
injects, and the one worker thread that runs the jobs on qiskit-aer, one at a time."""

from __future__ import annotations

import datetime
import json
import threading
import time
import uuid
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from qiskit_aer import AerSimulator
from qiskit_ibm_provider.utils.json import RuntimeDecoder, RuntimeEncoder

try:  # as tests.ibm_standin.provider_jobs, or with tests/ibm_standin on sys.path
    from .faults import Faults
except ImportError:
    from faults import Faults  # type: ignore[no-redef]

# The runtime API's spelling; the provider upper-cases it into its ApiJobStatus.
QUEUED, RUNNING, COMPLETED, FAILED, CANCELLED = (
    "Queued",
    "Running",
    "Completed",
    "Failed",
    "Cancelled",
)
FINAL = frozenset({COMPLETED, FAILED, CANCELLED})
PENDING_LIMIT_MESSAGE = (
    "You have reached the limit of the number of jobs that can be queued. "
    "Please wait for a job to complete before submitting again."
)


@dataclass(frozen=True, slots=True)
class JobInfo:
    """What a test reads about one job: ``api.jobs[job_id]``."""

    status: str
    tags: tuple[str, ...]
    backend: str


@dataclass
class StandInJob:
    id: str
    backend: str
    program_id: str
    tags: list[str]
    params: dict[str, Any]
    """The request's params as sent (circuits still encoded), returned by GET /jobs/{id}."""
    hgp: tuple[str, str, str]
    status: str = QUEUED
    reason: str | None = None
    result: str | None = None
    created: str = field(
        default_factory=lambda: datetime.datetime.now(datetime.timezone.utc).isoformat()
    )

    def info(self) -> JobInfo:
        return JobInfo(self.status, tuple(self.tags), self.backend)

    def as_json(self, *, with_params: bool = True) -> dict[str, Any]:
        hub, group, project = self.hgp
        data: dict[str, Any] = {
            "id": self.id,
            "backend": self.backend,
            "status": self.status,
            "state": {"status": self.status, "reason": self.reason},
            "program": {"id": self.program_id},
            "created": self.created,
            "hub": hub,
            "group": group,
            "project": project,
            "tags": list(self.tags),
            "session_id": None,
            "runtime": "",
        }
        if with_params:
            data["params"] = self.params
        return data


class JobBook:
    """Every job the stand-in knows, and the worker that runs them in submission order."""

    def __init__(self, faults: Faults, noise_model: Any = None) -> None:
        self._faults = faults
        self._noise_model = noise_model
        self._lock = threading.Lock()
        self._wake = threading.Condition(self._lock)
        self._jobs: dict[str, StandInJob] = {}
        self._queue: deque[str] = deque()
        self._held = False
        self._stopping = False
        self.max_pending: int | None = None
        """Refuse a submit (429, code 3458) while this many jobs are queued or running."""
        self.job_seconds = 0.0
        """Each job holds the device at least this long, as on a real QPU."""
        self._worker = threading.Thread(
            target=self._work, name="provider-standin-worker", daemon=True
        )

    # -- lifecycle -------------------------------------------------------------------------

    def start(self) -> None:
        self._worker.start()

    def stop(self) -> None:
        with self._lock:
            self._stopping = True
            self._wake.notify_all()
        self._worker.join(timeout=10)

    def hold(self) -> None:
        with self._lock:
            self._held = True

    def release(self) -> None:
        with self._lock:
            self._held = False
            self._wake.notify_all()

    # -- the API's side --------------------------------------------------------------------

    def create(self, body: bytes, hgp: tuple[str, str, str]) -> StandInJob | None:
        """The new job; None where the pending-job limit refuses it."""
        payload = json.loads(body)
        job = StandInJob(
            id=f"standin{uuid.uuid4().hex[:16]}",
            backend=str(payload.get("backend", "")),
            program_id=str(payload["program_id"]),
            tags=list(payload.get("tags") or []),
            params=payload["params"],
            hgp=hgp,
        )
        with self._lock:
            pending = sum(1 for j in self._jobs.values() if j.status not in FINAL)
            if self.max_pending is not None and pending >= self.max_pending:
                return None
            self._jobs[job.id] = job
            self._queue.append(job.id)
            self._wake.notify_all()
        return job

    def get(self, job_id: str) -> StandInJob | None:
        with self._lock:
            return self._jobs.get(job_id)

    def snapshot(self) -> dict[str, JobInfo]:
        with self._lock:
            return {job_id: job.info() for job_id, job in self._jobs.items()}

    def listing(self, query: dict[str, list[str]]) -> dict[str, Any]:
        """GET /jobs: filter by every tag, backend, pending, provider; newest first unless ASC."""
        tags = set(query.get("tags", []))
        with self._lock:
            jobs = list(self._jobs.values())
        if "backend" in query:
            jobs = [j for j in jobs if j.backend == query["backend"][0]]
        if "provider" in query:
            jobs = [j for j in jobs if "/".join(j.hgp) == query["provider"][0]]
        if "pending" in query:
            pending = query["pending"][0] == "true"
            jobs = [j for j in jobs if (j.status not in FINAL) == pending]
        jobs = [j for j in jobs if tags <= set(j.tags)]
        if query.get("sort", ["DESC"])[0] != "ASC":
            jobs.reverse()
        offset = int(query.get("offset", ["0"])[0])
        limit = int(query.get("limit", ["200"])[0])
        page = jobs[offset : offset + limit]
        return {"jobs": [j.as_json(with_params=False) for j in page], "count": len(jobs)}

    def cancel(self, job_id: str) -> bool:
        """True if the job was queued or running and is now cancelled; False if already final."""
        with self._lock:
            job = self._jobs[job_id]
            if job.status in FINAL:
                return False
            job.status = CANCELLED
            self._wake.notify_all()
            return True

    def set_tags(self, job_id: str, tags: list[str]) -> None:
        with self._lock:
            self._jobs[job_id].tags = [str(tag) for tag in tags]

    def delete(self, job_id: str) -> bool:
        with self._lock:
            return self._jobs.pop(job_id, None) is not None

    # -- the worker ------------------------------------------------------------------------

    def _next(self) -> StandInJob | None:
        with self._lock:
            while True:
                if self._stopping:
                    return None
                if self._queue and not self._held:
                    job = self._jobs.get(self._queue.popleft())
                    if job is not None and job.status == QUEUED:
                        job.status = RUNNING
                        return job
                    continue
                self._wake.wait()

    def _work(self) -> None:
        simulator = AerSimulator(noise_model=self._noise_model)
        while (job := self._next()) is not None:
            failure = self._faults.take_job_failure()
            reason = failure.reason if failure else None
            started = time.monotonic()
            try:
                result = None if reason else _execute(simulator, job)
            except Exception as exc:  # the job fails, as a real one would; the worker goes on
                reason = f"{type(exc).__name__}: {exc}"
            with self._lock:  # the device stays busy (stop and cancel end the wait)
                self._wake.wait_for(
                    lambda: self._stopping or job.status != RUNNING,
                    max(0.0, started + self.job_seconds - time.monotonic()),
                )
            with self._lock:
                if job.status != RUNNING:
                    continue  # cancelled while it ran: its results are dropped
                job.status, job.reason, job.result = (
                    (FAILED, reason, None) if reason else (COMPLETED, None, result)
                )


def _execute(simulator: AerSimulator, job: StandInJob) -> str:
    """Run the job's circuits on Aer; return the qiskit Result as circuit-runner sends it."""
    params = json.loads(json.dumps(job.params), cls=RuntimeDecoder)
    circuits = params["circuits"]
    options = {"shots": int(params.get("shots") or 4000)}
    if params.get("memory"):
        options["memory"] = True
    if params.get("seed_simulator") is not None:
        options["seed_simulator"] = params["seed_simulator"]
    result = simulator.run(circuits, **options).result().to_dict()
    result.update(backend_name=job.backend, job_id=job.id)
    return json.dumps(result, cls=RuntimeEncoder)
