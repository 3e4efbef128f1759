"""StoredJob: the job of a chunk that came back from the store, where the backend cannot look
its jobs up (Aer, BasicSimulator, a set retrieved without a backend) or no longer has it (a job
deleted on IBM Quantum, whose other jobs ``jobs()`` looks up: job_lookup.py). Read-only: its
status and results are what the store kept, so ``for job in job_set.jobs(): job.result()``
works after a restart as it did before."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from qiskit.primitives import PrimitiveResult
from qiskit.primitives.containers import DataBin, SamplerPubResult
from qiskit.providers import JobStatus, JobV1
from qiskit.result import Result

from .exceptions import JobManagerInvalidStateError, ManagedResultDataNotAvailable
from .outcomes import PubSliceResult, SliceResult


class StoredJob(JobV1):
    """A chunk's job as the store kept it: ``job_id()``, ``status()``, ``result()``,
    ``backend()``; ``cancel()`` and ``submit()`` are refused, saying why."""

    def __init__(
        self,
        *,
        job_id: str,
        status: JobStatus | None,
        results: Sequence[SliceResult] | None,
        backend_name: str,
        backend: Any = None,
        error: str | None = None,
    ) -> None:
        super().__init__(backend, job_id)
        self._status = status
        self._results = list(results) if results is not None else None
        self._backend_name = backend_name
        self._error = error

    @property
    def backend_name(self) -> str:
        """The name of the backend the job ran on."""
        return self._backend_name

    def submit(self) -> None:
        raise JobManagerInvalidStateError(
            f"job {self.job_id()} came back from the store; it cannot be submitted again: "
            "retry its chunk instead"
        )

    def status(self) -> JobStatus:
        """The job's last status the store kept; ERROR where it was never read."""
        return self._status if self._status is not None else JobStatus.ERROR

    def cancel(self) -> bool:
        raise JobManagerInvalidStateError(
            f"job {self.job_id()} came back from the store and has ended: there is nothing to "
            "cancel"
        )

    def result(self, timeout: float | None = None) -> Result | PrimitiveResult[SamplerPubResult]:
        """The job's results as the store kept them: a qiskit Result (one experiment result per
        circuit and point), or, for a sampler's job, a PrimitiveResult of its PUBs' results."""
        if self._results is None:
            why = f": {self._error}" if self._error else ""
            raise ManagedResultDataNotAvailable(
                f"job {self.job_id()} has no stored results (it ended {self.status().name}{why})"
            )
        if self._results and all(isinstance(r, PubSliceResult) for r in self._results):
            pubs = [_pub_result(r) for r in self._results if isinstance(r, PubSliceResult)]
            return PrimitiveResult(pubs, metadata={"version": 2})
        experiments = [
            r.experiment_result(point) for r in self._results for point in range(r.num_points)
        ]
        return Result(
            backend_name=self._backend_name,
            backend_version="",
            job_id=self.job_id(),
            success=all(e.success for e in experiments),
            results=experiments,
        )

    def __repr__(self) -> str:
        return f"<StoredJob {self.job_id()} {self.status().name} on {self._backend_name}>"


def _pub_result(result: PubSliceResult) -> SamplerPubResult:
    """A slice's PUB result as the job returned it (points flattened to one axis)."""
    shape = (result.num_points,)
    return SamplerPubResult(DataBin(shape=shape, **result.registers), metadata=result.metadata)
