"""Chunks as tasks on a Dask cluster: ``JobManager().run(circuits, backend, executor=client)``.

Each chunk is one task (``run_chunk`` in dask_task.py) keyed ``qjm-<set id>-c<chunk>-a<attempt>``,
so the Dask dashboard names what runs. The worker rebuilds the backend from its description
(shipping.py). The client is read by duck type: importing qjm_widget never imports Dask.

States, from the client's futures and one scheduler query per poll round (which tasks are on a
worker): queued or waiting for a worker -> QUEUED, on a worker -> RUNNING, finished -> DONE,
erred -> ERROR with the worker's traceback, cancelled by us -> CANCELLED, dropped with the
scheduler connection -> LOST (a retry runs it again once the client reconnects). A task whose
worker dies is re-run by the scheduler itself (up to its ``allowed-failures``), under the same
key: its result is read once, so nothing is counted twice.
"""

from __future__ import annotations

import dataclasses
import threading
import traceback
from collections.abc import Mapping, Sequence
from functools import cached_property
from typing import Any

from qiskit.primitives import BaseSamplerV2
from qiskit.providers import JobStatus

from ..exceptions import JobManagerInvalidInputError, JobManagerInvalidStateError
from ..job_tags import CHUNK_TAG_PREFIX, SET_TAG_PREFIX
from ..outcomes import SliceResult
from ..workload import Slice
from .backend_v2 import BackendV2Adapter
from .base import BackendAdapter, CancelOutcome, Capabilities, StatusReading, describe_exception
from .dask_task import decode, run_chunk, slice_specs, to_qpy
from .sampler import SamplerAdapter
from .shipping import describe

POLL_INTERVAL = (0.01, 0.25)
_RPC_TIMEOUT = 10.0
_FETCH_TIMEOUT = 120.0
CANNOT_CANCEL = "a Dask worker cannot stop a task it has started: it runs to the end"
KILLED_WORKER_HINT = (
    "every worker that ran it died or was restarted; a common cause: Aer holds the Python GIL "
    "for the whole of a chunk, so a worker running one for longer than the scheduler's "
    "distributed.scheduler.worker-ttl (5 minutes by default) cannot send its heartbeats and "
    "the scheduler restarts it. Cut the set into shorter chunks (max_experiments_per_job) or "
    "raise worker-ttl, then retry"
)


class JobNotFoundError(LookupError):
    """Named like the job-not-found errors of IBM's clients, which ``ibm_errors.job_is_gone``
    reads by name: the poller makes the chunk LOST, which a retry runs again."""


class DaskTaskLost(JobNotFoundError):
    """The scheduler dropped the task: the client lost its connection, or was closed."""


def is_dask_client(obj: Any) -> bool:
    """A ``distributed.Client``, told by its class without importing distributed."""
    return any(
        cls.__name__ == "Client" and cls.__module__.split(".")[0] == "distributed"
        for cls in type(obj).__mro__
    )


def _is_aer_simulator(backend: Any) -> bool:
    return any(
        cls.__name__ == "AerSimulator" and cls.__module__.startswith("qiskit_aer")
        for cls in type(backend).__mro__
    )


def aer_executor(backend: Any) -> Any:
    """The Dask client in an AerSimulator's ``executor`` option (AerJobSet-era code), else
    None. Aer itself has ignored that option since 0.15."""
    if not _is_aer_simulator(backend):
        return None
    executor = getattr(backend.options, "executor", None)
    return executor if is_dask_client(executor) else None


def _max_job_size(backend: Any) -> int | None:
    size = getattr(backend.options, "max_job_size", None) if _is_aer_simulator(backend) else None
    return size if isinstance(size, int) and not isinstance(size, bool) and size > 0 else None


def _dashboard_link(client: Any) -> str:
    try:
        link = client.dashboard_link
    except Exception:  # no dashboard served (bokeh missing): the scheduler lists none
        return ""
    return link if isinstance(link, str) and link.startswith(("http://", "https://")) else ""


class DaskTask:
    """A chunk's task on the cluster: what ``job_set.jobs()`` holds for it."""

    def __init__(self, key: str, future: Any) -> None:
        self.key = key
        self.future = future
        """The ``distributed.Future`` of the task."""
        self.worker: str | None = None
        """Address of the worker that runs (or ran) it, as last seen."""

    def job_id(self) -> str:
        return self.key

    def __repr__(self) -> str:
        return f"<DaskTask {self.key} {self.future.status} worker={self.worker}>"


class DaskAdapter(BackendAdapter):
    """Runs each chunk as a task on ``client``'s cluster; the worker rebuilds ``backend``."""

    def __init__(self, backend: Any, client: Any, *, transpile: bool = False) -> None:
        if not is_dask_client(client):
            raise JobManagerInvalidInputError(
                f"executor must be a dask distributed.Client, got {type(client).__name__}"
            )
        self.description = describe(backend)
        """The backend as plain data, as workers rebuild it (kept in the store)."""
        status = getattr(client, "status", None)
        if status != "running":
            raise JobManagerInvalidInputError(
                f"the Dask client is {status}, not running: connect it to a scheduler first"
            )
        super().__init__(backend, transpile=transpile)
        self.executor = client
        self._local: BackendAdapter = (
            SamplerAdapter(backend, transpile=transpile)
            if isinstance(backend, BaseSamplerV2)
            else BackendV2Adapter(backend, transpile=transpile)
        )
        self._num_workers = len(client.nthreads())
        self.dashboard_link = _dashboard_link(client)
        """The cluster's Dask dashboard, "" where it serves none."""
        self.experiments_per_job = _max_job_size(backend)
        """AerSimulator's ``max_job_size``: the set's ``max_experiments_per_job`` when the user
        gives none (what AerJobSet did with it)."""
        self._lock = threading.Lock()
        self._cancelled: set[str] = set()

    @property
    def name(self) -> str:
        n = self._num_workers
        return f"{self._local.name} on Dask ({n} worker{'s' * (n != 1)})"

    @property
    def version(self) -> str:
        return self._local.version

    @cached_property
    def capabilities(self) -> Capabilities:
        return dataclasses.replace(
            self._local.capabilities,
            takes_tags=False,
            takes_names=False,
            can_cancel=True,
            cannot_cancel_reason=CANNOT_CANCEL,
            poll_interval=POLL_INTERVAL,
        )

    def default_shots(self) -> int | None:
        return self._local.default_shots()

    def executions_per_job_limit(self) -> int | None:
        return self._local.executions_per_job_limit()

    def validate(self, circuits: Sequence[Any], run_config: Mapping[str, Any]) -> None:
        self._local.validate(circuits, run_config)

    def _require_connected(self) -> None:
        status = self.executor.status
        if status in ("closed", "closing"):
            raise JobManagerInvalidStateError(
                "the Dask client of this set is closed: make a new Client and retrieve the set "
                "with JobManager().retrieve_job_set(job_set_id, executor=client) to run it there"
            )
        if status != "running":
            raise ConnectionError(
                f"the Dask client is not connected to its scheduler (it is {status}); it "
                "reconnects on its own once a scheduler answers at "
                f"{self._scheduler_address()}"
            )

    def _scheduler_address(self) -> str:
        return str(getattr(self.executor.scheduler, "address", None) or "its address")

    def _key(self, tags: Sequence[str], job_number: int) -> str:
        def tagged(prefix: str) -> str:
            return next((t[len(prefix) :] for t in tags if t.startswith(prefix)), "x")

        job_set, chunk = tagged(SET_TAG_PREFIX), tagged(CHUNK_TAG_PREFIX)
        # A key this client still holds (a submit that failed after sending its task) would
        # give back that task's result: the next number instead.
        held = self.executor.futures
        attempt = job_number
        while (key := f"qjm-{job_set}-c{chunk}-a{attempt}") in held:
            attempt += 1
        return key

    def submit(
        self,
        slices: Sequence[Slice],
        *,
        shots: int | None,
        run_config: Mapping[str, Any],
        name: str,
        tags: Sequence[str],
        job_number: int,
    ) -> DaskTask:
        self._require_connected()
        key = self._key(tags, job_number)
        future = self.executor.submit(
            run_chunk,
            self.description,
            to_qpy([s.circuit for s in slices]),
            slice_specs(slices),
            shots,
            dict(run_config),
            self.transpiles,
            key=key,
            pure=False,
        )
        return DaskTask(key, future)

    def _processing(self) -> dict[str, str]:
        """Which of the cluster's tasks are on a worker: one scheduler query."""
        self._require_connected()
        client = self.executor
        by_worker = client.sync(
            client.scheduler.processing, workers=None, callback_timeout=_RPC_TIMEOUT
        )
        return {str(key): str(worker) for worker, keys in by_worker.items() for key in keys}

    def status(self, job: Any) -> JobStatus | None:
        reading = self.read_status(job)
        if isinstance(reading, Exception):
            raise reading
        return reading

    def read_status(self, job: Any) -> StatusReading:
        return self.read_statuses([job], "")[0]

    def read_statuses(self, jobs: Sequence[Any], tag: str) -> list[StatusReading]:
        where: dict[str, str] = {}
        failure: Exception | None = None
        if any(job.future.status in ("pending", "lost") for job in jobs):
            try:
                where = self._processing()
            except Exception as exc:
                failure = exc
        return [self._reading(job, where, failure) for job in jobs]

    def _reading(self, job: DaskTask, where: Mapping[str, str], failure: Exception | None) -> Any:
        status = job.future.status
        if status == "finished":
            return JobStatus.DONE
        if status == "error":
            return JobStatus.ERROR
        if status == "cancelled":
            if job.key in self._cancelled:
                return JobStatus.CANCELLED
            return DaskTaskLost(self._lost_words(job))
        if status in ("pending", "lost"):  # lost: its result went with a worker; it runs again
            if failure is not None:
                return failure
            worker = where.get(job.key)
            if worker is None:
                return JobStatus.QUEUED
            job.worker = worker
            return JobStatus.RUNNING
        return None

    def _lost_words(self, job: DaskTask) -> str:
        exception = getattr(getattr(job.future, "_state", None), "exception", None)
        reason = getattr(exception, "reason", None)
        if reason == "scheduler-connection-lost":
            return (
                f"the Dask client lost its connection to the scheduler at "
                f"{self._scheduler_address()}, which dropped the task; retry once the client "
                "has reconnected (it does so on its own when a scheduler answers there again), "
                "or retrieve the set with executor=<a new Client>"
            )
        return (
            f"Dask dropped the task ({reason or 'no reason given'}; the client is "
            f"{self.executor.status}); retry to run it again"
        )

    def job_worker(self, job: Any) -> str | None:
        """The worker that runs or ran the chunk's task, as last seen; None where unknown."""
        worker = getattr(job, "worker", None)
        return worker if isinstance(worker, str) else None

    def cancel(self, job: Any) -> CancelOutcome:
        if job.future.done():
            return CancelOutcome(False, "the task had already ended")
        try:
            worker = self._processing().get(job.key)
        except Exception as exc:
            return CancelOutcome(False, f"cancel failed: {describe_exception(exc)}")
        if worker is not None:
            job.worker = worker
            return CancelOutcome(False, f"{CANNOT_CANCEL} (it runs on {worker})")
        with self._lock:
            self._cancelled.add(job.key)
        try:
            self.executor.cancel([job.future])
        except Exception as exc:
            with self._lock:
                self._cancelled.discard(job.key)
            return CancelOutcome(False, f"cancel failed: {describe_exception(exc)}")
        return CancelOutcome(True, "cancel requested: the task leaves the scheduler's queue")

    def fetch(
        self, job: Any, slices: Sequence[Slice], run_config: Mapping[str, Any]
    ) -> list[SliceResult]:
        payload = job.future.result(timeout=_FETCH_TIMEOUT)
        results = decode(payload)
        if len(results) != len(slices):
            raise RuntimeError(f"the task returned {len(results)} results for {len(slices)}")
        job.worker = payload.get("worker") or job.worker
        job.future.release()  # read once: the worker may drop it now
        return results

    def error_text(self, job: Any) -> str:
        future = job.future
        try:
            exc = future.exception(timeout=_RPC_TIMEOUT)
            tb = future.traceback(timeout=_RPC_TIMEOUT)
        except Exception as read_failure:
            return f"the task failed; its error could not be read: {read_failure!r}"
        finally:
            future.release()
        where = f" on worker {job.worker}" if job.worker else ""
        if exc is None:
            return f"the task failed{where} without an error"
        text = "".join(traceback.format_exception(type(exc), exc, tb)).strip()
        if type(exc).__name__ == "KilledWorker":
            text = f"{KILLED_WORKER_HINT}\n{text}"
        return f"the task failed{where}:\n{text}"
