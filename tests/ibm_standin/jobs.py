"""Job and session storage of the IBM Quantum runtime stand-in, and the worker that runs jobs.

Stands in for the runtime API's job records (``/jobs``) and sessions (``/sessions``) as
qiskit-ibm-runtime 0.51.0 reads them. One worker thread runs queued jobs one at a time, oldest
first, on qiskit-aer's ``SamplerV2`` (``AerSimulator.from_backend(fake)`` with noise, a
noiseless ``AerSimulator`` without). Two programs run: ``sampler`` (the legacy SamplerV2: PUBs
in, the ``PrimitiveResult`` encoded with ``RuntimeEncoder`` out, as IBM's ``/results`` does) and
``executor`` (the executor-based Sampler: a quantum program in schema v2.0, decoded with the
client's own converters; a ``QuantumProgramResultModel`` out, which the client decodes and
post-processes into a ``PrimitiveResult`` itself). Twirled (samplex) items are refused: Aer
cannot run them without samplomatic's sampling, which the client's local mode does.

States on the wire are the API's ``Queued``, ``Running``, ``Completed``, ``Failed``,
``Cancelled`` (the client upper-cases them and maps COMPLETED to "DONE", FAILED to "ERROR");
``api.jobs`` shows them upper-case.
"""

from __future__ import annotations

import json
import secrets
import string
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

import numpy as np
from ibm_quantum_schemas.common import CompressedTensorModel
from ibm_quantum_schemas.executor.version_2_0 import (
    ChunkPart,
    ChunkSpan,
    ItemMetadataModel,
    MetadataModel,
    QuantumProgramResultItemModel,
    QuantumProgramResultModel,
)
from qiskit.primitives import PrimitiveResult
from qiskit.primitives.containers.sampler_pub import SamplerPub
from qiskit_aer import AerSimulator
from qiskit_aer.primitives import SamplerV2 as AerSamplerV2
from qiskit_ibm_runtime import RuntimeEncoder
from qiskit_ibm_runtime.quantum_program import CircuitItem
from qiskit_ibm_runtime.quantum_program.params_converters import (
    QUANTUM_PROGRAM_PARAMS_CONVERTERS,
)

from .backends import StandInBackend
from .errors import ApiError, job_not_found, pending_limit_error
from .faults import Faults
from .sessions import SessionBook

QUEUED, RUNNING, COMPLETED = "QUEUED", "RUNNING", "COMPLETED"
FAILED, CANCELLED = "FAILED", "CANCELLED"
PENDING = (QUEUED, RUNNING)
WIRE_STATUS = {s: s.capitalize() for s in (QUEUED, RUNNING, COMPLETED, FAILED, CANCELLED)}
DEFAULT_SHOTS = 4096
SAMPLER, EXECUTOR = "sampler", "executor"
EXECUTOR_SCHEMA = "v2.0"  # what the 0.51 client sends; its results answer in the same version
_ID_ALPHABET = string.ascii_lowercase + string.digits


def new_id() -> str:
    """An id shaped like IBM's (20 lower-case letters and digits)."""
    return "".join(secrets.choice(_ID_ALPHABET) for _ in range(20))


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


def iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat().replace("+00:00", "Z")


@dataclass(frozen=True, slots=True)
class JobView:
    """A snapshot of one stored job, for test assertions."""

    id: str
    status: str
    backend: str
    tags: tuple[str, ...]
    session_id: str | None
    num_pubs: int
    created: datetime
    program_id: str
    reason: str | None
    pubs: tuple[Any, ...] = ()
    """The PUBs as the server decoded them: (circuit, parameter values or None, shots); for an
    executor job, one per item of its quantum program (values: its circuit arguments)."""
    quantum_seconds: float = 0.0
    """The usage IBM bills: from running to finished (0 while pending)."""


@dataclass(slots=True)
class _Job:
    id: str
    program_id: str
    backend: str
    pubs: list[Any]
    params: dict[str, Any]
    tags: list[str]
    session_id: str | None
    private: bool
    program: Any = None
    """An executor job's decoded ``ParamsModel`` (its items' passthrough data and role)."""
    created: datetime = field(default_factory=utc_now)
    status: str = QUEUED
    reason: str | None = None
    reason_code: int | None = None
    result: str | None = None
    running: datetime | None = None
    finished: datetime | None = None

    def view(self) -> JobView:
        return JobView(
            self.id,
            self.status,
            self.backend,
            tuple(self.tags),
            self.session_id,
            len(self.pubs),
            self.created,
            self.program_id,
            self.reason,
            tuple(self.pubs),
            self.quantum_seconds(),
        )

    def quantum_seconds(self) -> float:
        if self.running and self.finished:
            return (self.finished - self.running).total_seconds()
        return 0.0

    def wire(self, with_params: bool) -> dict[str, Any]:
        seconds = self.quantum_seconds()
        body: dict[str, Any] = {
            "id": self.id,
            "backend": self.backend,
            "state": {
                "status": WIRE_STATUS[self.status],
                "reason": self.reason,
                "reason_code": self.reason_code,
            },
            "status": WIRE_STATUS[self.status],
            "program": {"id": self.program_id},
            "created": iso(self.created),
            "runtime": "",
            "tags": list(self.tags),
            "session_id": self.session_id,
            "private": self.private,
            "user_id": "standin-user",
            "usage": {"quantum_seconds": seconds, "seconds": seconds},
            "estimated_running_time_seconds": 1.0,
        }
        if with_params:
            body["params"] = self.params
        return body


def decode_inputs(program_id: str, params: dict[str, Any]) -> tuple[list[Any], Any]:
    """A submitted job's PUBs as (circuit, values or None, shots), and for ``executor`` its
    params model, read with the client's own schema models and decoders."""
    if program_id != EXECUTOR:
        return list(params["pubs"]), None
    version = params.get("schema_version")
    if version != EXECUTOR_SCHEMA:
        raise ValueError(f"the stand-in reads executor schema {EXECUTOR_SCHEMA}, not {version!r}")
    converter = QUANTUM_PROGRAM_PARAMS_CONVERTERS[EXECUTOR_SCHEMA]
    model = converter.model.model_validate(params)
    program, _ = converter.decoder(model)
    if program.meas_level != "classified":
        raise ValueError(f"the stand-in returns classified bits only, not {program.meas_level}")
    pubs = []
    for index, item in enumerate(program.items):
        if not isinstance(item, CircuitItem):
            raise ValueError(f"item {index} is a {type(item).__name__}: no twirling here")
        values = item.circuit_arguments if item.circuit.num_parameters else None
        pubs.append((item.circuit, values, program.shots))
    return pubs, model


def executions_of(pubs: list[Any], default_shots: int) -> int:
    """Circuit executions of a job as IBM counts them: every PUB's points times its shots."""
    total = 0
    for circuit, values, shots in pubs:
        points = SamplerPub.coerce((circuit, values if circuit.num_parameters else None))
        total += points.parameter_values.size * int(shots or default_shots)
    return total


class JobStore:
    """Jobs and sessions behind one lock; a single worker thread runs the queue."""

    def __init__(
        self,
        backends: dict[str, StandInBackend],
        faults: Faults,
        noise: bool,
        seed: int | None = None,
    ) -> None:
        self._backends = backends
        self._faults = faults
        self._noise = noise
        self._seed = seed
        self._cond = threading.Condition()
        self._jobs: dict[str, _Job] = {}
        self.sessions = SessionBook(self._cond, self._pending_in_session)
        self._held = False
        self._stopping = False
        self.max_pending: int | None = None
        self.max_executions: int | None = None
        self.job_seconds = 0.0
        """Each job holds the device at least this long, as on a real QPU."""
        self._samplers: dict[str, AerSamplerV2] = {}
        self._worker = threading.Thread(target=self._work, name="ibm-standin-worker", daemon=True)

    # -- lifecycle ------------------------------------------------------------------------------

    def start(self) -> None:
        self._worker.start()

    def stop(self, timeout: float = 10.0) -> None:
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        if self._worker.is_alive():
            self._worker.join(timeout)

    def hold(self) -> None:
        with self._cond:
            self._held = True

    def release(self) -> None:
        with self._cond:
            self._held = False
            self._cond.notify_all()

    # -- views ----------------------------------------------------------------------------------

    def views(self) -> dict[str, JobView]:
        with self._cond:
            return {job_id: job.view() for job_id, job in self._jobs.items()}

    def queue_length(self, backend: str) -> int:
        with self._cond:
            return sum(
                1 for j in self._jobs.values() if j.backend == backend and j.status == QUEUED
            )

    def wait_idle(self, timeout: float) -> bool:
        """Wait until no job is QUEUED or RUNNING (False on timeout or while held)."""
        with self._cond:
            return self._cond.wait_for(
                lambda: not any(j.status in PENDING for j in self._jobs.values()), timeout
            )

    # -- API operations -------------------------------------------------------------------------

    def submit(
        self, payload: dict[str, Any], pubs: list[Any], program: Any = None
    ) -> dict[str, Any]:
        backend = payload.get("backend")
        if backend not in self._backends:
            raise ApiError(400, 1216, f"Backend {backend} is not available for this instance.")
        tags = payload.get("tags") or []
        if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
            raise ApiError(400, 1209, "Job tags must be a list of strings.")
        options = (payload.get("params") or {}).get("options") or {}
        executions = executions_of(pubs, int(options.get("default_shots") or DEFAULT_SHOTS))
        if self.max_executions is not None and executions > self.max_executions:
            raise ApiError(
                400,
                1305,
                f"The job holds {executions} circuit executions; a job may hold at most "
                f"{self.max_executions}.",
            )
        with self._cond:
            pending = sum(1 for j in self._jobs.values() if j.status in PENDING)
            if self._faults.take_pending_limit():
                raise pending_limit_error(self.max_pending)
            if self.max_pending is not None and pending >= self.max_pending:
                raise pending_limit_error(self.max_pending)
            session_id = payload.get("session_id")
            if session_id is not None:
                self.sessions.check_accepting(session_id)
            job = _Job(
                id=new_id(),
                program_id=str(payload.get("program_id", "")),
                backend=backend,
                pubs=pubs,
                params=payload.get("params") or {},
                tags=list(tags),
                session_id=session_id,
                private=bool(payload.get("private", False)),
                program=program,
            )
            self._jobs[job.id] = job
            self._cond.notify_all()
        return {"id": job.id, "backend": backend}

    def _job(self, job_id: str) -> _Job:
        job = self._jobs.get(job_id)
        if job is None:
            raise job_not_found(job_id)
        return job

    def get(self, job_id: str, with_params: bool) -> dict[str, Any]:
        with self._cond:
            return self._job(job_id).wire(with_params)

    def results(self, job_id: str) -> str:
        """IBM's ``/results`` text: the encoded PrimitiveResult, or the failure text."""
        with self._cond:
            job = self._job(job_id)
            if job.status == COMPLETED and job.result is not None:
                return job.result
            if job.status == FAILED:
                return job.reason or "Job failed."
            raise ApiError(404, 1291, f"Results for job {job_id} are not available ({job.status}).")

    def metrics(self, job_id: str) -> dict[str, Any]:
        with self._cond:
            job = self._job(job_id)
            final = job.status not in PENDING
            seconds = job.wire(False)["usage"]["quantum_seconds"]
            return {
                "timestamps": {
                    "created": iso(job.created),
                    "running": iso(job.running),
                    "finished": iso(job.finished),
                },
                "usage": {
                    "quantum_seconds": seconds,
                    "seconds": seconds,
                    "qpu_charge_time_seconds": seconds,
                    "status": "final" if final else "pending",
                },
                "num_pubs": len(job.pubs),
            }

    def cancel(self, job_id: str) -> None:
        with self._cond:
            job = self._job(job_id)
            if job.status not in PENDING:
                raise ApiError(
                    409, 3209, f"Job {job_id} is {WIRE_STATUS[job.status]} and cannot be cancelled."
                )
            self._finish(job, CANCELLED)

    def delete(self, job_id: str) -> None:
        with self._cond:
            self._job(job_id)
            del self._jobs[job_id]
            self._cond.notify_all()

    def update_tags(self, job_id: str, tags: Any) -> None:
        if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
            raise ApiError(400, 1209, "Job tags must be a list of strings.")
        with self._cond:
            self._job(job_id).tags = list(tags)

    def cancel_session_jobs(self, session_id: str) -> None:
        """Cancel the session's queued and running jobs, then close it (``DELETE .../close``)."""
        with self._cond:
            self.sessions.close(session_id, cancel=True)
            for job in self._jobs.values():
                if job.session_id == session_id and job.status in PENDING:
                    self._finish(job, CANCELLED)

    def list(self, query: dict[str, list[str]]) -> dict[str, Any]:
        """``GET /jobs``: filters backend, pending, program, tags (all must match), session_id,
        created_after/before; newest first unless ``sort=ASC``; ``limit``/``offset`` paging."""

        def first(name: str) -> str | None:
            values = query.get(name)
            return values[0] if values else None

        tags = set(query.get("tags", []))
        pending = first("pending")
        after, before = first("created_after"), first("created_before")
        checks: list[Callable[[_Job], bool]] = [lambda j: tags.issubset(j.tags)]
        if (backend := first("backend")) is not None:
            checks.append(lambda j: j.backend == backend)
        if (program := first("program")) is not None:
            checks.append(lambda j: j.program_id == program)
        if (session := first("session_id")) is not None:
            checks.append(lambda j: j.session_id == session)
        if pending is not None:
            want_pending = pending.lower() == "true"
            checks.append(lambda j: (j.status in PENDING) == want_pending)
        if after is not None:
            since = datetime.fromisoformat(after.replace("Z", "+00:00"))
            checks.append(lambda j: j.created >= since.astimezone(timezone.utc))
        if before is not None:
            until = datetime.fromisoformat(before.replace("Z", "+00:00"))
            checks.append(lambda j: j.created <= until.astimezone(timezone.utc))
        limit = int(first("limit") or 200)
        offset = int(first("offset") or 0)
        with self._cond:
            found = [j for j in self._jobs.values() if all(check(j) for check in checks)]
            found.sort(key=lambda j: j.created, reverse=first("sort") != "ASC")
            page = [
                j.wire(first("exclude_params") != "true") for j in found[offset : offset + limit]
            ]
        return {"jobs": page, "count": len(found), "limit": limit, "offset": offset}

    # -- the worker -----------------------------------------------------------------------------

    def _pending_in_session(self, session_id: str) -> bool:
        return any(j.session_id == session_id and j.status in PENDING for j in self._jobs.values())

    def _finish(
        self, job: _Job, status: str, reason: str | None = None, code: int | None = None
    ) -> None:
        job.status, job.reason, job.reason_code = status, reason, code
        job.finished = utc_now()
        if job.session_id is not None:
            self.sessions.job_finished(job.session_id, job.finished)
        self._cond.notify_all()

    def _next_job(self) -> _Job | None:
        with self._cond:
            while True:
                if self._stopping:
                    return None
                if not self._held:
                    job = next((j for j in self._jobs.values() if j.status == QUEUED), None)
                    if job is not None:
                        job.status, job.running = RUNNING, utc_now()
                        if job.session_id is not None:
                            self.sessions.job_started(job.session_id, job.running)
                        self._cond.notify_all()
                        return job
                self._cond.wait()

    def _work(self) -> None:
        while (job := self._next_job()) is not None:
            failure = self._faults.take_job_failure()
            result: str | None = None
            reason, code = (failure.reason, failure.reason_code) if failure else (None, None)
            started = time.monotonic()
            if failure is None:
                try:
                    result = self._execute(job)
                except Exception as ex:  # the job fails; the worker goes on
                    reason, code = f"{type(ex).__name__}: {ex}", 1517
            with self._cond:
                # The device stays busy for job_seconds (a cancel or stop ends the wait).
                self._cond.wait_for(
                    lambda job=job: self._stopping or job.status != RUNNING,
                    max(0.0, started + self.job_seconds - time.monotonic()),
                )
                if self._jobs.get(job.id) is not job or job.status != RUNNING:
                    continue  # cancelled or deleted while it ran: drop the outcome
                job.result = result
                self._finish(job, COMPLETED if result is not None else FAILED, reason, code)

    def _sampler(self, backend: str) -> AerSamplerV2:
        if backend not in self._samplers:
            options = {"seed": self._seed} if self._seed is not None else {}
            if self._noise:
                simulator = AerSimulator.from_backend(self._backends[backend].fake())
            else:
                simulator = AerSimulator()
            self._samplers[backend] = AerSamplerV2.from_backend(simulator, **options)
        return self._samplers[backend]

    def _execute(self, job: _Job) -> str:
        if job.program_id not in (SAMPLER, EXECUTOR):
            raise ValueError(f"the stand-in runs sampler and executor only, not {job.program_id!r}")
        options = job.params.get("options") or {}
        default_shots = int(options.get("default_shots") or DEFAULT_SHOTS)
        width = self._backends[job.backend].num_qubits
        pubs = []
        for circuit, values, shots in job.pubs:
            if circuit.num_qubits > width:
                raise ValueError(
                    f"circuit {circuit.name!r} has {circuit.num_qubits} qubits, "
                    f"{job.backend} has {width}"
                )
            values = values if circuit.num_parameters else None
            pubs.append((circuit, values, int(shots or default_shots)))
        pub_results = list(self._sampler(job.backend).run(pubs).result())
        if job.program_id == EXECUTOR:
            return self._program_result(job, pub_results)
        primitive = PrimitiveResult(pub_results, metadata={"version": 2})
        return json.dumps(primitive, cls=RuntimeEncoder)

    def _program_result(self, job: _Job, pub_results: list[Any]) -> str:
        """The executor's answer: each item's registers as booleans shaped (*item shape, shots,
        bits) in little-endian bit order, and the program's passthrough data back untouched
        (the client's post-processor reads its options and shots from there)."""
        data, parts = [], []
        for index, ((_, values, _), pub_result) in enumerate(
            zip(job.pubs, pub_results, strict=True)
        ):
            results = {
                name: CompressedTensorModel.from_numpy(bits.to_bool_array(order="little"))
                for name, bits in pub_result.data.items()
            }
            data.append(
                QuantumProgramResultItemModel(results=results, metadata=ItemMetadataModel())
            )
            shape = np.shape(values)[:-1] if values is not None else ()
            size = int(np.prod(shape, dtype=int))
            parts.append(
                ChunkPart(
                    idx_item=index,
                    size=size,
                    permutation=list(range(len(shape))),
                    element_range=(0, size, 1),
                )
            )
        span = ChunkSpan(start=job.running or utc_now(), stop=utc_now(), parts=parts)
        program = job.program.quantum_program
        return QuantumProgramResultModel(
            data=data,
            metadata=MetadataModel(chunk_timing=[span]),
            passthrough_data=program.passthrough_data,
            semantic_role=program.semantic_role,
        ).model_dump_json()
