"""The one protocol the job set uses to talk to any backend or sampler."""

from __future__ import annotations

import abc
import logging
import threading
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeAlias

from qiskit import QuantumCircuit
from qiskit.providers import JobStatus

from ..outcomes import SliceResult
from ..workload import Slice
from .ibm_errors import explain_ibm_error
from .isa import pass_manager_for
from .status import to_job_status

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Capabilities:
    """What a backend can do, as far as the job manager cares."""

    max_experiments_per_job: int | None
    """The backend's own limit on circuits per job, None where it has none."""
    max_qubits: int | None
    """Widest circuit the backend runs, None where it does not say."""
    takes_tags: bool
    takes_names: bool
    can_cancel: bool
    """False where cancel can never succeed (the job already ran inside submit)."""
    cannot_cancel_reason: str
    """Shown on a chunk whose cancel was refused."""
    poll_interval: tuple[float, float]
    """First and longest pause between status polls, in seconds."""
    run_options: frozenset[str] | None
    """run_config keys the backend accepts; None accepts any."""


StatusReading: TypeAlias = JobStatus | Exception | None
"""A job's status as read: the failure where it could not be read, None where the backend
answered something that is no JobStatus."""


@dataclass(frozen=True, slots=True)
class CancelOutcome:
    cancelled: bool
    note: str


class BackendAdapter(abc.ABC):
    """Wraps one backend or sampler; the only code that knows which kind it is."""

    can_submit = True
    """False for the stand-in of a set retrieved without its backend."""

    def __init__(self, backend: Any, *, transpile: bool = False) -> None:
        self.backend = backend
        self.transpiles = transpile
        """Transpile each chunk for the backend just before it is submitted."""
        self._transpile_lock = threading.Lock()
        self._pass_manager: Any = None

    @property
    def _target_backend(self) -> Any:
        """The backend whose instruction set circuits must be in."""
        return self.backend

    @property
    @abc.abstractmethod
    def name(self) -> str:
        """The backend's name, as reports show it."""

    @property
    def version(self) -> str:
        return str(getattr(self.backend, "backend_version", None) or "")

    @property
    @abc.abstractmethod
    def capabilities(self) -> Capabilities: ...

    @abc.abstractmethod
    def default_shots(self) -> int | None:
        """Shots the backend uses when none are given, None where unknown."""

    def executions_per_job_limit(self) -> int | None:
        """Most circuit executions (circuits x points x shots) one job may hold; None where
        the backend sets no such limit."""
        return None

    def prepare(self, circuits: Sequence[QuantumCircuit]) -> list[QuantumCircuit]:
        """The circuits as submitted: transpiled for the backend where the user asked for it."""
        if not self.transpiles:
            return list(circuits)
        with self._transpile_lock:
            if self._pass_manager is None:
                self._pass_manager = pass_manager_for(self._target_backend)
            return list(self._pass_manager.run(list(circuits)))

    @property
    def holds_resources(self) -> bool:
        """True while something opened for the set (a batch, a session) awaits :meth:`release`."""
        return False

    def release(self) -> None:  # noqa: B027
        """Close what the set opened on the backend; called once every chunk is final."""

    def validate(self, circuits: Sequence[QuantumCircuit], run_config: Mapping[str, Any]) -> None:  # noqa: B027
        """Raise JobManagerInvalidInputError for input this backend cannot run (default: none)."""

    @abc.abstractmethod
    def submit(
        self,
        slices: Sequence[Slice],
        *,
        shots: int | None,
        run_config: Mapping[str, Any],
        name: str,
        tags: Sequence[str],
        job_number: int,
    ) -> Any:
        """Start one job running ``slices`` (each an experiment or some of its points).

        ``job_number``: 1 for the chunk's first job, one more for each job it had before, in
        this process or an earlier one (a set retrieved from the store keeps its count)."""

    def status(self, job: Any) -> JobStatus | None:
        return to_job_status(job.status())

    def read_status(self, job: Any) -> StatusReading:
        try:
            return self.status(job)
        except Exception as exc:
            return exc

    def read_statuses(self, jobs: Sequence[Any], tag: str) -> list[StatusReading]:
        """The statuses of a set's jobs (all tagged ``tag``). One read per job here; a backend
        that lists jobs reads them all at once."""
        return [self.read_status(job) for job in jobs]

    def pending_limit_scope(self) -> Hashable | None:
        """What a pending-job limit learned on this backend applies to, so that the sets of a
        manager that share it share the limit; None: each set learns its own."""
        return None

    def usage_seconds(self, job: Any) -> float | None:
        """QPU seconds a finished job used, as the backend bills them; None where it has none."""
        return None

    def retrieve(self, job_id: str) -> Any:
        """The job with this id, looked up on the backend; None where jobs cannot be looked up."""
        return None

    can_search = False
    """True where :meth:`find_jobs` can look jobs up by tag."""

    def find_jobs(self, tag: str) -> list[Any]:
        """Every job on the backend that carries ``tag`` (none where it cannot search)."""
        return []

    def job_tags(self, job: Any) -> list[str]:
        tags = _read(job, "tags")
        return [str(tag) for tag in tags] if isinstance(tags, (list, tuple)) else []

    def job_circuits(self, job: Any) -> list[QuantumCircuit] | None:
        """The circuits a job ran, where the backend keeps them; None otherwise."""
        circuits = _read(job, "circuits")
        if isinstance(circuits, (list, tuple)) and all(
            isinstance(c, QuantumCircuit) for c in circuits
        ):
            return list(circuits)
        return None

    def job_created(self, job: Any) -> float:
        """Epoch seconds at which the job was created; 0.0 where unknown."""
        created = _read(job, "creation_date")
        timestamp = getattr(created, "timestamp", None)
        return float(timestamp()) if callable(timestamp) else 0.0

    def update_job_tags(self, job: Any, tags: Sequence[str]) -> None:
        """Replace the tags of a job already sent (both IBM clients take ``update_tags``)."""
        job.update_tags(list(tags))

    def job_id(self, job: Any) -> str | None:
        try:
            job_id = job.job_id()
        except Exception:
            return None
        return None if job_id is None else str(job_id)

    def cancel(self, job: Any) -> CancelOutcome:
        reason = self.capabilities.cannot_cancel_reason
        try:
            accepted = job.cancel()
        except NotImplementedError:
            return CancelOutcome(False, reason)
        except Exception as exc:
            return CancelOutcome(False, f"cancel failed: {describe_exception(exc)}")
        if accepted is False:
            return CancelOutcome(False, reason)
        return CancelOutcome(True, "cancel requested")

    @abc.abstractmethod
    def fetch(
        self, job: Any, slices: Sequence[Slice], run_config: Mapping[str, Any]
    ) -> list[SliceResult]:
        """Block until the job's results are in; one SliceResult per slice, in order."""

    def error_text(self, job: Any) -> str:
        """Words for a job that ended in ERROR."""
        message = getattr(job, "error_message", None)
        if callable(message):
            try:
                text = message()
            except Exception:
                text = None
            if text:
                return str(text)
        try:
            result = job.result()
        except Exception as exc:
            return describe_exception(exc)
        status = getattr(result, "status", None)
        return str(status) if status else "the job ended in ERROR without a message"


def _read(job: Any, name: str) -> Any:
    """A job attribute that some clients expose as a method and others as a property."""
    try:
        value = getattr(job, name, None)
        return value() if callable(value) else value
    except Exception as exc:
        logger.info("reading %s of job %r failed: %s", name, job, exc)
        return None


def describe_exception(exc: BaseException) -> str:
    explained = explain_ibm_error(exc)
    if explained is not None:
        return explained
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
