"""Between a live job set and the store: record one as it runs, rebuild one from its rows."""

from __future__ import annotations

import weakref
from collections.abc import Callable, Mapping, Sequence
from functools import partial
from typing import Any

from .backends import BackendAdapter, Capabilities, DaskAdapter, RuntimeAdapter, adapter_for
from .backends.runtime import EXECUTION_MODES, is_cloud_backend
from .chunk import ChunkState, ManagedJob
from .events import JobSetEvent
from .exceptions import JobManagerInvalidInputError, JobManagerInvalidStateError
from .jobset import ManagedJobSet
from .outcomes import SliceResult
from .policy import RetryPolicy
from .scheduler import Scheduler
from .store import Store, StoredJobSet, current_owner
from .stored_job import StoredJob
from .workload import Slice


class DetachedAdapter(BackendAdapter):
    """Stands in for the backend of a set retrieved without one: results only, no new jobs."""

    can_submit = False

    def __init__(self, backend_name: str) -> None:
        super().__init__(None)
        self._name = backend_name

    @property
    def name(self) -> str:
        return self._name

    @property
    def capabilities(self) -> Capabilities:
        return Capabilities(
            max_experiments_per_job=None,
            max_qubits=None,
            takes_tags=False,
            takes_names=False,
            can_cancel=False,
            cannot_cancel_reason="the set was retrieved without its backend",
            poll_interval=(1.0, 10.0),
            run_options=None,
        )

    def default_shots(self) -> int | None:
        return None

    def submit(self, slices: Sequence[Slice], **_: Any) -> Any:
        raise JobManagerInvalidStateError(
            "this job set was retrieved without a backend: pass backend=... to "
            "JobManager.retrieve_job_set to run chunks again"
        )

    def fetch(
        self, job: Any, slices: Sequence[Slice], run_config: Mapping[str, Any]
    ) -> list[SliceResult]:
        raise JobManagerInvalidStateError("no backend to fetch results from")


def adapter_options(adapter: BackendAdapter) -> dict[str, Any]:
    """How the set asked its backend to run jobs, so a retrieved set asks the same way."""
    options: dict[str, Any] = {"transpile": adapter.transpiles}
    if isinstance(adapter, RuntimeAdapter) and adapter.execution_mode is not None:
        options["execution_mode"] = adapter.execution_mode
    if isinstance(adapter, DaskAdapter):
        # How workers rebuild the backend: retrieve_job_set(id, executor=client) needs no other.
        options["dask"] = {"backend": adapter.description}
    return options


def shipped_backend(options: Mapping[str, Any]) -> Any:
    """The backend a set that ran on Dask described for its workers, rebuilt here."""
    from .backends.shipping import rebuild

    dask = options.get("dask")
    if not isinstance(dask, Mapping) or not isinstance(dask.get("backend"), Mapping):
        raise JobManagerInvalidInputError(
            "this job set did not run on Dask, so the store has no backend for executor=: "
            "pass backend=... as well"
        )
    return rebuild(dask["backend"])


def adapter_options_from(options: Mapping[str, Any], backend: Any) -> dict[str, Any]:
    """The stored options that apply to ``backend`` (a set may be retrieved onto another)."""
    mode = options.get("execution_mode")
    cloud = is_cloud_backend(backend)
    return {
        "transpile": options.get("transpile") is True,
        "execution_mode": mode if cloud and mode in EXECUTION_MODES else None,
    }


def snapshot(job_set: ManagedJobSet) -> StoredJobSet:
    policy = job_set._policy
    return StoredJobSet(
        job_set_id=job_set.job_set_id(),
        name=job_set.name(),
        tags=job_set.tags(),
        share_level=job_set.job_share_level,
        backend_name=job_set.backend_name,
        run_config=dict(job_set._run_config),
        options={
            "max_concurrent_jobs": job_set._max_concurrent,
            **adapter_options(job_set._adapter),
            "unknown_chunks": sorted(job_set._unknown_chunks),
            "retry": {
                "attempts": policy.attempts,
                "initial_delay": policy.initial_delay,
                "factor": policy.factor,
                "max_delay": policy.max_delay,
            },
        },
        created_at=job_set.created_at.timestamp(),
        finished_at=None,
        owner=current_owner(),
        experiments=job_set.experiments(),
        chunks=job_set.managed_jobs(),
    )


def record(store: Store, job_set: ManagedJobSet) -> Callable[[], None]:
    """Write every change of ``job_set`` to ``store`` through its writer (in batches, off the
    set's threads); ``wait()`` and ``results()`` return once all of it is written, so a script
    may exit then. Returns unsubscribe."""
    writer = store.writer
    job_set._settle_with(partial(writer.flush, job_set.job_set_id()))
    # The set holds this listener: a strong reference back would make a cycle, and a finished
    # set the user dropped would then wait for the cyclic collector to be freed.
    job_set_ref = weakref.ref(job_set)

    def on_event(event: JobSetEvent) -> None:
        job_set = job_set_ref()
        if job_set is None:
            return
        if event.state == ChunkState.PENDING.value:
            # Retried here: this process now runs the set, which is unfinished again.
            host, pid = current_owner()
            writer.fields_changed(job_set, owner_host=host, owner_pid=pid, finished_at=None)
        if event.chunk_index is not None:
            writer.chunk_changed(job_set, event.chunk_index, new_results=event.kind == "counts")
        elif event.kind == "set":
            writer.fields_changed(job_set, name=job_set.name(), tags=job_set.tags())
        elif event.kind == "final":
            writer.fields_changed(job_set, finished_at=job_set.last_finished_at)

    return job_set.subscribe(on_event)


def restore(
    stored: StoredJobSet, backend: Any, scheduler: Scheduler, *, executor: Any = None
) -> ManagedJobSet:
    """A live job set from stored rows: finished chunks as they were, the rest re-attached by
    job id where the backend can look jobs up, otherwise LOST and left for retry. A finished
    chunk's job is a StoredJob, until ``jobs()`` swaps in the backend's own (job_lookup.py).
    With a Dask ``executor`` and no backend, the backend is the one the set shipped to its
    workers."""
    return ManagedJobSet(**restored_arguments(stored, backend, scheduler, executor=executor))


def restored_arguments(
    stored: StoredJobSet, backend: Any, scheduler: Scheduler, *, executor: Any = None
) -> dict[str, Any]:
    """What :func:`restore` builds its job set from (a listed set builds itself from them
    when first used: lazy_job_set.py)."""
    if executor is not None and backend is None:
        backend = shipped_backend(stored.options)
    adapter = (
        adapter_for(backend, executor=executor, **adapter_options_from(stored.options, backend))
        if backend is not None
        else DetachedAdapter(stored.backend_name)
    )
    for chunk in stored.chunks:
        if chunk.state.is_final:
            # Not looked up here: one request a chunk, for jobs most retrievals never read.
            chunk.job = stored_job(chunk, adapter.name, adapter.backend)
            continue
        if chunk.index in stored.missing_circuits:
            chunk.state, chunk.job_status, chunk.note = ChunkState.LOST, None, None
            chunk.error = (
                "the process that ran the set ended before it stored this chunk's circuits "
                "(nor did it submit the chunk), so it cannot be run again"
            )
            continue
        job = adapter.retrieve(chunk.job_id) if chunk.job_id and adapter.can_submit else None
        if job is not None:
            chunk.job, chunk.state = job, ChunkState.QUEUED
            chunk.note = "re-attached after a restart"
            continue
        chunk.state, chunk.job_status = ChunkState.LOST, None
        chunk.note = None
        chunk.error = (
            f"job {chunk.job_id} cannot be looked up on {adapter.name} after the process that "
            "ran it ended; retry to run it again"
            if chunk.job_id
            else "it was not submitted before the process that ran the set ended; retry to run it"
        )
        chunk.job = stored_job(chunk, adapter.name, adapter.backend)
    return {"adapter": adapter, "scheduler": scheduler, **job_set_arguments(stored)}


def job_set_arguments(stored: StoredJobSet) -> dict[str, Any]:
    """What a ManagedJobSet is built from, as the store kept it (all but adapter and
    scheduler)."""
    retry = stored.options.get("retry") or {}
    return {
        "job_set_id": stored.job_set_id,
        "name": stored.name,
        "experiments": stored.experiments,
        "chunks": stored.chunks,
        "tags": stored.tags,
        "share_level": stored.share_level,
        "run_config": stored.run_config,
        "max_concurrent_jobs": stored.options.get("max_concurrent_jobs"),
        "retry_policy": RetryPolicy(**{k: retry[k] for k in retry if k in _RETRY_FIELDS}),
        "created_at": stored.created_at,
        "unknown_chunks": stored.missing_circuits
        | frozenset(i for i in stored.options.get("unknown_chunks", []) if isinstance(i, int)),
    }


def stored_job(chunk: ManagedJob, backend_name: str, backend: Any = None) -> StoredJob | None:
    """The chunk's job as the store kept it, where it had one."""
    if chunk.job_id is None:
        return None
    return StoredJob(
        job_id=chunk.job_id,
        status=chunk.job_status,
        results=chunk.results,
        backend_name=backend_name,
        backend=backend,
        error=chunk.error,
    )


_RETRY_FIELDS = ("attempts", "initial_delay", "factor", "max_delay")
