"""Fault injection around real backends, for tests of code that uses the job manager.

Wrap any BackendV2 in :class:`FaultyBackend` or any SamplerV2 in :class:`FaultySampler` and the
real backend runs every job, except where a fault was asked for::

    flaky = FaultyBackend(AerSimulator(), fail_submit=2, hold_queued=0.5)
    job_set = JobManager().run(circuits, flaky, max_experiments_per_job=10)

Counted faults (``fail_submit=2``) hit the first calls that qualify and then stop, so a retry
succeeds; every fault is labelled "injected fault" in its message.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from qiskit import QuantumCircuit
from qiskit.primitives import BaseSamplerV2
from qiskit.providers import BackendV2, JobError, JobStatus, JobTimeoutError, JobV1, Options

from .backends.backend_v2 import runs_inside_submit, serial_run_lock
from .backends.ibm_errors import PENDING_JOB_LIMIT_CODE

if TYPE_CHECKING:
    from .store import Store

__all__ = [
    "FaultyBackend",
    "FaultyJob",
    "FaultySampler",
    "InjectedJobError",
    "InjectedResultError",
    "InjectedSubmitError",
    "PendingJobLimitError",
    "full_store",
]

CircuitsPredicate = Callable[[Sequence[QuantumCircuit]], bool]
CircuitPredicate = Callable[[QuantumCircuit], bool]


class InjectedSubmitError(ConnectionError):
    """A transient submit failure (the service did not answer)."""


class InjectedResultError(ConnectionError):
    """A transient failure while fetching results."""


class InjectedJobError(JobError):
    """The job ended in ERROR."""


class PendingJobLimitError(RuntimeError):
    """IBM's answer when too many jobs are pending (error code 3458)."""

    code = PENDING_JOB_LIMIT_CODE


class _Faults:
    """The fault plan shared by a wrapper and its jobs; counters are consumed under a lock."""

    def __init__(
        self,
        *,
        fail_submit: int,
        pending_limit: int,
        error_jobs: int,
        error_when: CircuitsPredicate | None,
        hold_queued: float,
        release: threading.Event | None,
        fail_result: int,
        fail_experiments: int,
        fail_experiment_when: CircuitPredicate | None,
    ) -> None:
        for name, value in (
            ("fail_submit", fail_submit),
            ("pending_limit", pending_limit),
            ("error_jobs", error_jobs),
            ("fail_result", fail_result),
            ("fail_experiments", fail_experiments),
        ):
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ValueError(f"{name} must be an int >= 0, got {value!r}")
        if (
            isinstance(hold_queued, bool)
            or not isinstance(hold_queued, int | float)
            or not hold_queued >= 0
        ):
            raise ValueError(f"hold_queued must be a number of seconds >= 0, got {hold_queued!r}")
        if fail_experiments and fail_experiment_when is None:
            raise ValueError("fail_experiments needs fail_experiment_when to pick the experiments")
        self._lock = threading.Lock()
        self._left = {
            "fail_submit": fail_submit,
            "pending_limit": pending_limit,
            "error_jobs": error_jobs,
            "fail_result": fail_result,
            "fail_experiments": fail_experiments,
        }
        self.error_when = error_when
        self.fail_experiment_when = fail_experiment_when
        self.hold_queued = hold_queued
        self.release = release
        self.submissions = 0
        """run() calls seen so far, refused ones included."""

    def take(self, name: str, applies: bool = True) -> bool:
        """Consume one fault of kind ``name`` if any is left and it applies here."""
        with self._lock:
            if applies and self._left[name] > 0:
                self._left[name] -= 1
                return True
            return False

    def on_submit(self, circuits: Sequence[QuantumCircuit]) -> bool:
        """Raise for refused submissions; return whether this job is to end in ERROR."""
        with self._lock:
            self.submissions += 1
        if self.take("pending_limit"):
            raise PendingJobLimitError(
                f"injected fault: error code {PENDING_JOB_LIMIT_CODE}: "
                "you have reached the limit of pending jobs"
            )
        if self.take("fail_submit"):
            raise InjectedSubmitError("injected fault: the service did not answer the submit")
        matches = self.error_when is None or self.error_when(circuits)
        return self.take("error_jobs", matches)

    def failing_experiments(self, circuits: Sequence[QuantumCircuit]) -> list[int]:
        when = self.fail_experiment_when
        failing = [i for i, c in enumerate(circuits) if when is not None and when(c)]
        return failing if failing and self.take("fail_experiments") else []


class FaultyJob(JobV1):
    """A job that starts its real job only after ``hold_queued`` seconds, and fails on request."""

    def __init__(
        self,
        backend: Any,
        start: Callable[[], Any],
        faults: _Faults,
        circuits: Sequence[QuantumCircuit],
        ends_in_error: bool,
    ) -> None:
        super().__init__(backend, f"faulty-{uuid.uuid4().hex}")
        self._start = start
        self._faults = faults
        self._circuits = list(circuits)
        self._ends_in_error = ends_in_error
        self._release_at = time.monotonic() + faults.hold_queued
        self._lock = threading.Lock()
        self._inner: Any = None
        self._cancelled = False

    @property
    def inner_job(self) -> Any:
        """The real job, once it has started; None before."""
        return self._inner

    def submit(self) -> None:
        raise NotImplementedError("FaultyJob is submitted by its backend's run()")

    def _held(self) -> bool:
        release = self._faults.release
        return time.monotonic() < self._release_at or (release is not None and not release.is_set())

    def _started(self) -> Any:
        """The real job, started once the hold is over; None while held, cancelled or failing."""
        with self._lock:
            if self._cancelled or self._ends_in_error or self._held():
                return None
            if self._inner is None:
                self._inner = self._start()
            return self._inner

    def status(self) -> JobStatus:
        inner = self._started()
        if inner is not None:
            status = inner.status()
            return status if isinstance(status, JobStatus) else JobStatus[str(status)]
        with self._lock:  # one reading of why it has not started: the hold may end meanwhile
            if self._cancelled:
                return JobStatus.CANCELLED
            if self._ends_in_error:
                return JobStatus.QUEUED if self._held() else JobStatus.ERROR
        return JobStatus.QUEUED  # held when _started looked; it starts at the next status read

    def cancel(self) -> bool:
        with self._lock:
            if self._inner is None:
                if self._ends_in_error and not self._held():
                    return False  # it has already ended, in ERROR
                self._cancelled = True
                return True
            inner = self._inner
        return bool(inner.cancel())

    def error_message(self) -> str | None:
        return "injected fault: the job ended in ERROR" if self._ends_in_error else None

    def result(self, timeout: float | None = None) -> Any:
        deadline = None if timeout is None else time.monotonic() + timeout
        delay = self._release_at - time.monotonic()
        if delay > 0:
            time.sleep(delay if timeout is None else min(delay, timeout))
        if self._faults.release is not None:
            self._faults.release.wait(None if deadline is None else deadline - time.monotonic())
        if not self._cancelled and self._held():
            raise JobTimeoutError(f"job {self.job_id()} was still queued after {timeout} s")
        inner = self._started()
        if inner is None:
            if self._cancelled:
                raise JobError(f"job {self.job_id()} was cancelled")
            raise InjectedJobError("injected fault: the job ended in ERROR")
        if self._faults.take("fail_result"):
            raise InjectedResultError("injected fault: the result could not be fetched")
        result = inner.result()
        for index in self._faults.failing_experiments(self._circuits):
            experiment = result.results[index]
            experiment.success = False
            experiment.status = "injected fault: this experiment failed"
            experiment.data.counts = None
        return result


class FaultyBackend(BackendV2):
    """A real BackendV2 with faults injected into its submits, jobs and results.

    Args:
        backend: The real backend that runs every job.
        fail_submit: The first N ``run()`` calls raise :class:`InjectedSubmitError`.
        pending_limit: The first N ``run()`` calls are refused with error code 3458.
        error_jobs: The first N jobs (matching ``error_when`` if given) end in ERROR.
        error_when: Which jobs may end in ERROR, by their circuits.
        hold_queued: Seconds each job reports QUEUED (and can be cancelled) before it starts.
        release: Each job reports QUEUED until this event is set (after ``hold_queued``).
        fail_result: The first N ``result()`` calls raise :class:`InjectedResultError`.
        fail_experiments: In the first N jobs holding a circuit that matches
            ``fail_experiment_when``, those experiments fail while the job is DONE.
    """

    def __init__(
        self,
        backend: BackendV2,
        *,
        fail_submit: int = 0,
        pending_limit: int = 0,
        error_jobs: int = 0,
        error_when: CircuitsPredicate | None = None,
        hold_queued: float = 0.0,
        release: threading.Event | None = None,
        fail_result: int = 0,
        fail_experiments: int = 0,
        fail_experiment_when: CircuitPredicate | None = None,
    ) -> None:
        super().__init__(
            provider=None,
            name=f"faulty_{backend.name}",
            backend_version=str(getattr(backend, "backend_version", "")),
        )
        self.inner = backend
        self.faults = _Faults(
            fail_submit=fail_submit,
            pending_limit=pending_limit,
            error_jobs=error_jobs,
            error_when=error_when,
            hold_queued=hold_queued,
            release=release,
            fail_result=fail_result,
            fail_experiments=fail_experiments,
            fail_experiment_when=fail_experiment_when,
        )

    @property
    def target(self) -> Any:
        return self.inner.target

    @property
    def max_circuits(self) -> Any:
        return self.inner.max_circuits

    @property
    def num_qubits(self) -> Any:
        return self.inner.num_qubits

    @classmethod
    def _default_options(cls) -> Options:
        return Options()

    @property
    def options(self) -> Options:
        return self.inner.options

    def run(self, run_input: Any, **options: Any) -> FaultyJob:
        circuits = [run_input] if isinstance(run_input, QuantumCircuit) else list(run_input)
        ends_in_error = self.faults.on_submit(circuits)

        def start() -> Any:
            if not runs_inside_submit(self.inner):
                return self.inner.run(circuits, **options)
            with serial_run_lock(self.inner):
                return self.inner.run(circuits, **options)

        return FaultyJob(self, start, self.faults, circuits, ends_in_error)


class FaultySampler(BaseSamplerV2):
    """A real SamplerV2 with faults injected; takes the same fault options as FaultyBackend
    except ``fail_experiments`` (a sampler job fails as a whole)."""

    def __init__(
        self,
        sampler: BaseSamplerV2,
        *,
        fail_submit: int = 0,
        pending_limit: int = 0,
        error_jobs: int = 0,
        error_when: CircuitsPredicate | None = None,
        hold_queued: float = 0.0,
        release: threading.Event | None = None,
        fail_result: int = 0,
    ) -> None:
        self.inner = sampler
        self.faults = _Faults(
            fail_submit=fail_submit,
            pending_limit=pending_limit,
            error_jobs=error_jobs,
            error_when=error_when,
            hold_queued=hold_queued,
            release=release,
            fail_result=fail_result,
            fail_experiments=0,
            fail_experiment_when=None,
        )

    @property
    def default_shots(self) -> Any:
        return getattr(self.inner, "default_shots", None)

    @property
    def mode(self) -> Any:
        inner_mode = getattr(self.inner, "mode", None)
        return inner_mode if inner_mode is not None else getattr(self.inner, "_backend", None)

    def run(self, pubs: Any, *, shots: int | None = None) -> FaultyJob:
        pubs = list(pubs)
        circuits = [pub[0] if isinstance(pub, tuple) else pub for pub in pubs]
        ends_in_error = self.faults.on_submit(circuits)
        return FaultyJob(
            None, lambda: self.inner.run(pubs, shots=shots), self.faults, circuits, ends_in_error
        )


@contextmanager
def full_store(store: Store, spare_pages: int = 0) -> Iterator[None]:
    """While the block runs, ``store``'s file cannot grow by more than ``spare_pages`` pages: a
    write that needs more fails with SQLite's own "database or disk is full", as on a full disk
    (``PRAGMA max_page_count`` on the store's connection)."""
    with store._transaction() as db:
        pages = int(db.execute("PRAGMA page_count").fetchone()[0])
        previous = int(db.execute("PRAGMA max_page_count").fetchone()[0])
        db.execute(f"PRAGMA max_page_count={pages + int(spare_pages)}")
    try:
        yield
    finally:
        with store._transaction() as db:
            db.execute(f"PRAGMA max_page_count={previous}")
