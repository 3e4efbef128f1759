"""Adapter for any qiskit BackendV2: Aer, BasicSimulator, fake and IBM backends."""

from __future__ import annotations

import inspect
import logging
import threading
import weakref
from collections.abc import Callable, Hashable, Mapping, Sequence
from functools import cached_property
from typing import Any

from qiskit.providers import BackendV2

from ..outcomes import SliceResult, slice_results_of_circuits
from ..workload import Slice
from . import ibm_checks
from .base import BackendAdapter, Capabilities, StatusReading
from .ibm_listing import JobListing, listing_for
from .providers import account_scope

logger = logging.getLogger(__name__)

LOCAL_POLL_INTERVAL = (0.002, 0.05)
REMOTE_POLL_INTERVAL = (2.0, 10.0)
# qiskit-ibm-runtime's IBMBackend has an adapter of its own (runtime.py).
_REMOTE_MODULES = ("qiskit_ibm_provider",)


# BasicSimulator keeps each run's options (shots, memory, seed) on the backend object and
# simulates inside run(): two runs at once would read each other's shots. Its run() blocks anyway,
# so one lock per backend object costs no parallelism.
_SERIAL_RUN_LOCKS: weakref.WeakKeyDictionary[Any, threading.Lock] = weakref.WeakKeyDictionary()
_SERIAL_RUN_GUARD = threading.Lock()


def serial_run_lock(backend: Any) -> threading.Lock:
    """The lock that serializes ``run()`` calls on one backend object."""
    with _SERIAL_RUN_GUARD:
        lock = _SERIAL_RUN_LOCKS.get(backend)
        if lock is None:
            lock = _SERIAL_RUN_LOCKS[backend] = threading.Lock()
        return lock


def runs_inside_submit(backend: Any) -> bool:
    return type(backend).__module__.startswith("qiskit.providers.basic_provider")


def _run_parameters(backend: BackendV2) -> frozenset[str]:
    try:
        parameters = inspect.signature(backend.run).parameters
    except (TypeError, ValueError):
        return frozenset()
    return frozenset(
        name for name, p in parameters.items() if p.kind is not inspect.Parameter.VAR_KEYWORD
    )


def _is_remote(backend: BackendV2) -> bool:
    return any(type(backend).__module__.startswith(m) for m in _REMOTE_MODULES)


def _cannot_cancel_reason(backend: BackendV2) -> tuple[bool, str]:
    module = type(backend).__module__
    if runs_inside_submit(backend):
        return False, "BasicSimulator runs each job inside run(); there is nothing left to cancel"
    if module.startswith("qiskit_aer") or module.startswith("qiskit_ibm_runtime.fake_provider"):
        return True, "the simulator cannot stop a job once it has started; it will run to the end"
    return True, "the backend refused to cancel the job (it may have finished already)"


def _provider_job_service(backend: BackendV2) -> Any:
    """qiskit-ibm-provider 0.11: IBMProvider.backend is the service that finds jobs."""
    if not type(backend).__module__.startswith("qiskit_ibm_provider"):
        return None
    return getattr(getattr(backend, "provider", None), "backend", None)


def _job_lookup(backend: BackendV2) -> Callable[[str], Any] | None:
    lookup = getattr(backend, "retrieve_job", None)
    if not callable(lookup):
        lookup = getattr(_provider_job_service(backend), "retrieve_job", None)
    return lookup if callable(lookup) else None


class BackendV2Adapter(BackendAdapter):
    backend: BackendV2

    @property
    def name(self) -> str:
        return str(self.backend.name)

    @cached_property
    def capabilities(self) -> Capabilities:
        parameters = _run_parameters(self.backend)
        can_cancel, reason = _cannot_cancel_reason(self.backend)
        max_circuits = self.backend.max_circuits
        return Capabilities(
            max_experiments_per_job=int(max_circuits) if max_circuits else None,
            max_qubits=self.backend.num_qubits,
            takes_tags="job_tags" in parameters,
            takes_names="job_name" in parameters,
            can_cancel=can_cancel,
            cannot_cancel_reason=reason,
            poll_interval=REMOTE_POLL_INTERVAL if _is_remote(self.backend) else LOCAL_POLL_INTERVAL,
            run_options=None,
        )

    def retrieve(self, job_id: str) -> Any:
        """Look a job up through the backend's ``retrieve_job`` or (for qiskit-ibm-provider)
        its provider's ``backend.retrieve_job``."""
        lookup = _job_lookup(self.backend)
        if lookup is None:
            return None
        try:
            return lookup(job_id)
        except Exception as exc:
            logger.info("job %s cannot be looked up on %s: %s", job_id, self.name, exc)
            return None

    @cached_property
    def _listing(self) -> JobListing | None:
        """qiskit-ibm-provider's jobs can be read with one listing per poll round."""
        if _provider_job_service(self.backend) is None:
            return None
        return listing_for("qiskit_ibm_provider")

    def read_statuses(self, jobs: Sequence[Any], tag: str) -> list[StatusReading]:
        if self._listing is None:
            return super().read_statuses(jobs, tag)
        return self._listing.read(jobs, tag, self.read_status)

    @property
    def can_search(self) -> bool:  # type: ignore[override]
        return callable(getattr(_provider_job_service(self.backend), "jobs", None))

    def pending_limit_scope(self) -> Hashable | None:
        """qiskit-ibm-provider counts pending jobs per account: sets on one share its limit."""
        if _provider_job_service(self.backend) is None:
            return None
        return account_scope(self.backend.provider, self.name)

    def find_jobs(self, tag: str) -> list[Any]:
        service = _provider_job_service(self.backend)
        if service is None:
            return []
        return list(service.jobs(job_tags=[tag], limit=None, backend_name=self.name))

    def default_shots(self) -> int | None:
        shots = getattr(self.backend.options, "shots", None)
        return shots if isinstance(shots, int) and shots > 0 else None

    @cached_property
    def binds_natively(self) -> bool:
        """True where ``backend.run`` takes ``parameter_binds`` itself (AerSimulator)."""
        return "parameter_binds" in _run_parameters(self.backend)

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
        options = dict(run_config)
        if shots is not None:
            # Always per call: set_options from another thread races (see DESIGN.md).
            options["shots"] = shots
        if self.capabilities.takes_tags:
            options["job_tags"] = list(tags)
        if self.capabilities.takes_names:
            options["job_name"] = name
        prepared = self.prepare([s.circuit for s in slices])
        if any(s.experiment.parameterized for s in slices):
            if self.binds_natively:
                options["parameter_binds"] = [s.experiment.binds(s.first, s.last) for s in slices]
            else:
                prepared = [
                    bound
                    for s, circuit in zip(slices, prepared, strict=True)
                    for bound in s.experiment.bound_circuits(s.first, s.last, circuit)
                ]
        if runs_inside_submit(self.backend):
            with serial_run_lock(self.backend):
                return self.backend.run(prepared, **options)
        if not self._shares_checks:
            return self.backend.run(prepared, **options)
        with ibm_checks.sharing():
            return self.backend.run(prepared, **options)

    @cached_property
    def _shares_checks(self) -> bool:
        """qiskit-ibm-provider reads the backend's status before each job: our submits share
        one answer (ibm_checks.py)."""
        if _provider_job_service(self.backend) is None:
            return False
        return ibm_checks.share_checks("qiskit_ibm_provider", self.backend)

    def fetch(
        self, job: Any, slices: Sequence[Slice], run_config: Mapping[str, Any]
    ) -> list[SliceResult]:
        # One result per circuit and point, circuit after circuit, bound client-side or not.
        results = list(job.result().results)
        return slice_results_of_circuits(results, [s.num_points for s in slices])
