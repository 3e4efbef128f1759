"""IBM Quantum through qiskit-ibm-runtime's cloud service: each chunk is one Sampler job.

Written against qiskit-ibm-runtime 0.51. On an IBMBackend each job is sent by the executor-based
Sampler where the client has one (0.50 on, the ``executor`` program; see executor.py), by the
legacy SamplerV2 (the ``sampler`` program) where it has not. The set's jobs run in a Batch by
default, so IBM schedules them together; ``execution_mode="session"`` asks for a Session and
``"job"`` for plain jobs. A runtime Sampler of either kind handed in by the user keeps its own
kind, mode and options.
"""

from __future__ import annotations

import copy
import logging
import sys
import threading
import warnings
from collections.abc import Hashable, Mapping, Sequence
from functools import cached_property
from typing import Any

from qiskit import QuantumCircuit

from ..exceptions import JobManagerInvalidInputError
from ..workload import Slice
from . import executor, ibm_checks
from .backend_v2 import REMOTE_POLL_INTERVAL
from .base import Capabilities, StatusReading
from .ibm_listing import PAGE_SIZE, JobListing, listing_for
from .isa import check_isa
from .providers import account_scope
from .sampler import SAMPLER_RUN_OPTIONS, SamplerAdapter, pubs_of

logger = logging.getLogger(__name__)

EXECUTION_MODES = ("batch", "session", "job")

# IBM caps a Sampler job at this many circuit executions (circuits x shots).
MAX_EXECUTIONS_PER_JOB = 10_000_000

# A user's legacy SamplerV2 is built again for each job (tags are per job, and the user's
# object stays untouched): they were warned of its deprecation when they built theirs.
warnings.filterwarnings(
    "ignore",
    message="The SamplerV2 class is deprecated",
    category=DeprecationWarning,
    module=__name__,
)


class SessionEnded(RuntimeError):
    """The batch or session the job manager opened for a set ended before the set did."""


def _runtime() -> Any:
    """qiskit_ibm_runtime, if the user's objects come from it (it is never imported for them)."""
    return sys.modules.get("qiskit_ibm_runtime")


def is_cloud_backend(backend: Any) -> bool:
    runtime = _runtime()
    return runtime is not None and isinstance(backend, runtime.IBMBackend)


def is_runtime_sampler(sampler: Any) -> bool:
    """A qiskit-ibm-runtime Sampler: the legacy SamplerV2 or the executor-based one."""
    runtime = _runtime()
    if runtime is None:
        return False
    return isinstance(sampler, runtime.SamplerV2) or executor.is_executor_sampler(sampler)


def is_cloud_sampler(sampler: Any) -> bool:
    """A qiskit-ibm-runtime Sampler whose jobs go to IBM (not local mode on a fake backend)."""
    return is_runtime_sampler(sampler) and is_cloud_backend(sampler.backend())


def _pub_circuit(pub: Any) -> Any:
    """The circuit of a pub as the runtime client decodes it: a SamplerPub or a tuple."""
    if isinstance(pub, QuantumCircuit):
        return pub
    if isinstance(pub, (list, tuple)) and pub:
        return pub[0]
    return getattr(pub, "circuit", None)


class RuntimeAdapter(SamplerAdapter):
    """Submits each chunk as a cloud Sampler job through the real client."""

    can_search = True

    def __init__(
        self, backend: Any, *, execution_mode: str | None = None, transpile: bool = False
    ) -> None:
        if is_runtime_sampler(backend):
            if execution_mode is not None:
                raise JobManagerInvalidInputError(
                    "execution_mode is for a backend; this sampler already has its mode "
                    f"({type(backend.mode).__name__ if backend.mode else 'job'}): build it "
                    "with the Batch or Session you want instead"
                )
            self._ibm_backend = backend.backend()
            self._user_mode: Any = backend.mode or self._ibm_backend
            self._options: Any = backend.options
            self._sampler_class: Any = type(backend)
            self.execution_mode: str | None = None  # the sampler's own
        else:
            mode = execution_mode or "batch"
            if mode not in EXECUTION_MODES:
                raise JobManagerInvalidInputError(
                    f"execution_mode must be one of {', '.join(EXECUTION_MODES)}, got {mode!r}"
                )
            self._ibm_backend = backend
            self._user_mode = None
            self._options = None
            # The legacy SamplerV2 only where the client has nothing else: it is deprecated
            # from 0.50, which brought the executor-based one.
            self._sampler_class = executor.sampler_class() or _runtime().SamplerV2
            self.execution_mode = mode
        super().__init__(backend, transpile=transpile)
        ibm_checks.share_checks("qiskit_ibm_runtime", self._ibm_backend)
        self._mode_lock = threading.Lock()
        self._opened: Any = None

    @property
    def _target_backend(self) -> Any:
        return self._ibm_backend

    @property
    def name(self) -> str:
        return str(self._ibm_backend.name)

    @cached_property
    def capabilities(self) -> Capabilities:
        max_circuits = getattr(self._ibm_backend, "max_circuits", None)
        return Capabilities(
            max_experiments_per_job=max_circuits if isinstance(max_circuits, int) else None,
            max_qubits=self._ibm_backend.num_qubits,
            takes_tags=True,
            takes_names=False,
            can_cancel=True,
            cannot_cancel_reason="IBM Quantum refused the cancel (the job may have finished)",
            poll_interval=REMOTE_POLL_INTERVAL,
            run_options=SAMPLER_RUN_OPTIONS,
        )

    def executions_per_job_limit(self) -> int | None:
        return MAX_EXECUTIONS_PER_JOB

    def default_shots(self) -> int | None:
        shots = getattr(self._options, "default_shots", None)
        return shots if isinstance(shots, int) and shots > 0 else None

    def validate(self, circuits: Sequence[QuantumCircuit], run_config: Mapping[str, Any]) -> None:
        super().validate(circuits, run_config)
        if not self.transpiles:
            check_isa(circuits, self._ibm_backend)

    @cached_property
    def _listing(self) -> JobListing | None:
        return listing_for("qiskit_ibm_runtime")

    def read_statuses(self, jobs: Sequence[Any], tag: str) -> list[StatusReading]:
        """One ``GET /jobs`` (per page of 200) for the set's jobs, not one GET a job."""
        if self._listing is None:
            return super().read_statuses(jobs, tag)
        return self._listing.read(jobs, tag, self.read_status)

    def pending_limit_scope(self) -> Hashable | None:
        """IBM counts pending jobs per instance: the sets on this one share what is learned."""
        return account_scope(self._ibm_backend.service, self.name)

    def usage_seconds(self, job: Any) -> float | None:
        """IBM's QPU charge time of the job: from its listing entry where the poll listed it,
        otherwise ``job.usage()`` (one request, once it has ended)."""
        listed = self._listing.usage_seconds(job.job_id()) if self._listing else None
        if listed is not None:
            return listed
        seconds = job.usage()
        return float(seconds) if isinstance(seconds, int | float) else None

    def retrieve(self, job_id: str) -> Any:
        try:
            return self._ibm_backend.service.job(job_id)
        except Exception as exc:
            logger.info("job %s cannot be looked up on IBM Quantum: %s", job_id, exc)
            return None

    def find_jobs(self, tag: str) -> list[Any]:
        """Every job tagged ``tag``, newest first, with one request a page of 200 jobs (the
        client's ``limit=None`` pages 20 at a time)."""
        service = self._ibm_backend.service
        found: list[Any] = []
        while True:
            page = service.jobs(job_tags=[tag], limit=PAGE_SIZE, skip=len(found))
            found += page
            if len(page) < PAGE_SIZE:
                return found

    def job_circuits(self, job: Any) -> list[QuantumCircuit] | None:
        inputs = job.inputs
        if getattr(job, "primitive_id", None) == executor.PROGRAM_ID:
            return executor.program_circuits(inputs)
        pubs = inputs.get("pubs")
        if not isinstance(pubs, list):
            return None
        circuits = [_pub_circuit(pub) for pub in pubs]
        return circuits if all(isinstance(c, QuantumCircuit) for c in circuits) else None

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
        options = copy.deepcopy(self._options) if self._options is not None else None
        mode = self._mode()
        sampler = self._sampler_class(mode=mode, options=options)
        own = list(sampler.options.environment.job_tags or [])
        sampler.options.environment.job_tags = [*tags, *(t for t in own if t not in tags)]
        # PUBs with their values: IBM binds on its side, one transpiled circuit per PUB.
        pubs = pubs_of(slices, self.prepare([s.circuit for s in slices]))
        try:
            with ibm_checks.sharing():
                return sampler.run(pubs, shots=shots)
        except Exception as exc:
            if "session" not in str(exc).lower() or not self._forget(mode):
                raise
            # Not the 4xx it came as: another try, in a new batch, will do.
            raise SessionEnded(
                f"the {self.execution_mode} this job was sent to has ended on IBM Quantum "
                f"({exc}); the next try opens a new one"
            ) from None

    def _forget(self, mode: Any) -> bool:
        """Drop our batch or session if IBM closed it or it expired (they last hours; a set
        may last longer), so that the next submission opens a new one; False if not ours."""
        if self._user_mode is not None or mode is self._ibm_backend:
            return False
        with self._mode_lock:
            if self._opened is mode:  # not yet replaced by another failed submission
                self._opened = None
        return True

    def _mode(self) -> Any:
        """Where the next job goes: the user's mode, our Batch / Session, or the backend."""
        if self._user_mode is not None:
            return self._user_mode
        if self.execution_mode == "job":
            return self._ibm_backend
        with self._mode_lock:
            if self._opened is None:
                runtime = _runtime()
                kind = runtime.Batch if self.execution_mode == "batch" else runtime.Session
                self._opened = kind(backend=self._ibm_backend)
            return self._opened

    @property
    def holds_resources(self) -> bool:
        return self._opened is not None

    def release(self) -> None:
        """Tell IBM the set sends no more jobs: its jobs still run, the batch closes after."""
        with self._mode_lock:
            opened, self._opened = self._opened, None
        if opened is None:
            return
        try:
            opened.close()
        except Exception as exc:
            logger.warning("closing the %s on IBM Quantum failed: %s", self.execution_mode, exc)
