"""JobManager: splits experiments into jobs and keeps the job sets of this process."""

from __future__ import annotations

import dataclasses
import enum
import logging
import os
import uuid
from functools import partial
from typing import Any

from qiskit.primitives import BaseSamplerV2
from qiskit.providers import BackendV2

from .backends import adapter_for
from .backends.providers import backend_from_provider
from .exceptions import (
    JobManagerInvalidInputError,
    JobManagerInvalidStateError,
    JobManagerUnknownJobSet,
)
from .job_tags import SET_TAG_PREFIX
from .jobset import ManagedJobSet
from .lazy_job_set import LazyJobSet
from .persistence import record, restore, restored_arguments, snapshot
from .policy import RetryPolicy
from .rebuild import rebuild
from .registry import JobSetRegistry
from .run_request import run_request
from .scheduler import Scheduler
from .store import (
    JobSetHeader,
    Store,
    StoredJobSet,
    current_owner,
    default_store_path,
    owner_is_alive,
)
from .validation import positive_int, string_list

DEFAULT_MAX_WORKERS = 4
DEFAULT_LIST_LIMIT = 100

logger = logging.getLogger(__name__)


class _Default(enum.Enum):
    STORE = "the default store"


DEFAULT_STORE = _Default.STORE
StoreArg = Store | str | os.PathLike[str] | _Default | None


class JobManager:
    """Runs many circuits on any BackendV2 or SamplerV2 as a managed set of jobs.

    A drop-in for qiskit-ibmq-provider's IBMQJobManager: ``run`` returns a
    :class:`ManagedJobSet` at once; submitting and polling happen on the manager's threads
    (at most ``max_workers`` of them plus one coordinator and the store's writer, and none once
    every set is final and written).

    ``store`` is where job sets are written as they run, so they survive the process: by
    default ``$QJM_WIDGET_STORE`` or ``jobsets.sqlite3`` in the user's data folder; a path or a
    :class:`Store`; ``None`` keeps everything in memory.

    Example:
        >>> from qiskit_aer import AerSimulator
        >>> job_set = JobManager().run(circuits, backend=AerSimulator(), shots=1000,
        ...                            max_experiments_per_job=100)
        >>> counts = job_set.results().get_counts(0)
    """

    def __init__(
        self, max_workers: int = DEFAULT_MAX_WORKERS, store: StoreArg = DEFAULT_STORE
    ) -> None:
        workers = positive_int("max_workers", max_workers, optional=False)
        assert workers is not None
        if store is DEFAULT_STORE:
            store = default_store_path()
        self.store: Store | None = (
            store if isinstance(store, Store) or store is None else Store(store)
        )
        """Where job sets are kept across processes; None keeps them in memory only."""
        self._scheduler = Scheduler(workers)
        self._registry = JobSetRegistry(release_finished=self.store is not None)
        self._dashboard: Any = None

    def run(
        self,
        experiments: Any,
        backend: Any,
        name: str | None = None,
        max_experiments_per_job: int | None = None,
        job_share_level: str | None = None,
        job_tags: list[str] | None = None,
        *,
        max_concurrent_jobs: int | None = None,
        max_shots_per_job: int | None = None,
        max_executions_per_job: int | None = None,
        retry_policy: RetryPolicy | None = None,
        execution_mode: str | None = None,
        transpile: bool = False,
        executor: Any = None,
        **run_config_: Any,
    ) -> ManagedJobSet:
        """Split ``experiments`` into jobs on ``backend`` and start them in the background.

        Args:
            experiments: A QuantumCircuit or a PUB, or a list of them (measured where counts
                are wanted, no wider than the backend). A PUB is ``(circuit,)``,
                ``(circuit, values)``, ``(circuit, values, shots)`` or a ``SamplerPub``, with
                values of shape ``(..., num_parameters)``; it runs on samplers and backends
                alike. Circuits with parameters need values: a PUB, or ``parameter_binds``.
            backend: A BackendV2 (AerSimulator, BasicSimulator, a fake or IBM backend) or a
                SamplerV2 (StatevectorSampler, Aer's or qiskit-ibm-runtime's SamplerV2).
            name: The set's name; jobs are named ``{name}_{index}`` where the backend takes
                names. Defaults to the current date and time.
            max_experiments_per_job: Circuits per job; the backend's own limit wins where lower.
                Without either, all circuits go in one job.
            job_share_level: One of global, hub, group, project, none. Kept on the set; it has
                no effect on backends without sharing levels.
            job_tags: Tags for every job, where the backend takes tags; the set adds its own.
            max_concurrent_jobs: At most this many unfinished jobs at a time (None: no cap).
            max_shots_per_job: Split each experiment's shots across jobs of at most this many
                shots and merge the counts back.
            max_executions_per_job: At most this many circuit executions (circuits x points x
                shots) in one job; an experiment with more points is split along its points.
                On IBM Quantum it defaults to IBM's limit of 10 million.
            retry_policy: Retries of failed submissions and result fetches.
            execution_mode: For IBM Quantum backends of QiskitRuntimeService: ``"batch"``
                (the default: IBM schedules the set's jobs together), ``"session"`` or
                ``"job"``. A runtime SamplerV2 keeps the mode it was built with.
            transpile: Transpile each job's circuits for the backend just before submitting
                it. Without it, circuits must already be ISA where the backend requires it
                (IBM Quantum backends, runtime samplers): others are refused up front.
            executor: A Dask ``distributed.Client``: each job runs as a task on its cluster,
                whose workers rebuild the backend (AerSimulator, BasicSimulator, a fake
                backend, StatevectorSampler or Aer's SamplerV2; others are refused). An
                AerSimulator whose ``executor`` option holds a client runs there too, its
                ``max_job_size`` read as ``max_experiments_per_job`` when none is given.
            **run_config_: Passed to ``backend.run`` (shots, memory, seed_simulator, ...); a
                sampler takes shots and memory. ``parameter_binds=[{param: [v0, v1, ...]},
                ...]`` (one dict per circuit, ``{}`` for a bound one) sweeps each circuit over
                its points, on any backend or sampler; each job gets its share of them.

        Raises:
            JobManagerInvalidInputError: for any bad argument, before anything is submitted.
        """
        request = run_request(
            experiments,
            backend,
            name=name,
            max_experiments_per_job=max_experiments_per_job,
            job_share_level=job_share_level,
            job_tags=job_tags,
            max_concurrent_jobs=max_concurrent_jobs,
            max_shots_per_job=max_shots_per_job,
            max_executions_per_job=max_executions_per_job,
            retry_policy=retry_policy,
            execution_mode=execution_mode,
            transpile=transpile,
            executor=executor,
            run_config_=run_config_,
        )
        job_set = ManagedJobSet(
            job_set_id=uuid.uuid4().hex,
            name=request.name,
            experiments=request.experiments,
            chunks=request.chunks,
            adapter=request.adapter,
            scheduler=self._scheduler,
            tags=request.tags,
            share_level=request.share_level,
            run_config=request.run_config,
            max_concurrent_jobs=request.max_concurrent_jobs,
            retry_policy=request.retry_policy,
        )
        self._adopt(job_set, new=True)
        job_set._start()
        return job_set

    def _adopt(self, job_set: ManagedJobSet, *, new: bool, as_stored: bool = False) -> None:
        """Keep ``job_set`` in this manager, and in the store as it changes; ``as_stored``: it
        is exactly as the store has it (a finished set read back), so nothing is written."""
        if self.store is not None:
            if new:
                # The row now, the circuits off this thread: run() returns at once.
                self.store.begin_job_set(snapshot(job_set))
                self.store.writer.add(job_set)
                writer, job_set_id = self.store.writer, job_set.job_set_id()
                job_set._hold_submits(
                    partial(writer.stored, job_set_id), partial(writer.why_held, job_set_id)
                )
            elif not as_stored:
                # Chunks found LOST are written as such; ownership is claimed only by running.
                self.store.save_chunks(job_set.job_set_id(), job_set.managed_jobs())
                if not job_set.done():  # re-attached jobs now run here
                    host, pid = current_owner()
                    self.store.save_job_set_fields(
                        job_set.job_set_id(), owner_host=host, owner_pid=pid
                    )
            record(self.store, job_set)
        self._registry.add(job_set)

    def loaded_job_sets(self) -> dict[str, ManagedJobSet]:
        """The sets this process holds now (running here, or finished and still referenced),
        oldest first, without reading the store."""
        return self._registry.all()

    def job_sets(
        self,
        name: str | None = None,
        tags: list[str] | None = None,
        limit: int | None = DEFAULT_LIST_LIMIT,
    ) -> list[ManagedJobSet]:
        """Job sets of this manager and of its store, newest first.

        Only those called ``name`` and carrying every tag of ``tags``, at most ``limit``.
        Stored sets are retrieved without a backend (see :meth:`retrieve_job_set`); sets that
        another live process is running are left out.
        """
        wanted = set(string_list("tags", tags))
        cap = positive_int("limit", limit)
        found = {
            i: s
            for i, s in self.loaded_job_sets().items()
            if (name is None or s.name() == name) and wanted <= set(s.tags())
        }
        if self.store is not None:
            for header in self.store.headers(name=name, tags=list(wanted)):
                if cap is not None and len(found) >= cap:
                    break
                if header.job_set_id in found:
                    continue
                try:
                    found[header.job_set_id] = self._from_store(self.store, header)
                except JobManagerInvalidStateError as exc:
                    logger.info("left out of job_sets(): %s", exc)
        ordered = sorted(found.values(), key=lambda s: s.created_at, reverse=True)
        return ordered if cap is None else ordered[:cap]

    def _from_store(self, store: Store, header: JobSetHeader) -> ManagedJobSet:
        """A stored set for a listing: a finished one as a LazyJobSet (metadata now, the rest
        when used); an unfinished one retrieved now, which re-attaches its jobs."""
        if header.finished_at is None:
            return self.retrieve_job_set(header.job_set_id)
        job_set = LazyJobSet(
            job_set_id=header.job_set_id,
            name=header.name,
            tags=header.tags,
            backend_name=header.backend_name,
            created_at=header.created_at,
            load=self._read_lazy,
            on_loaded=partial(self._adopt, new=False, as_stored=True),
            read_chunk_headers=partial(store.chunk_headers, header.job_set_id),
        )
        self._registry.add_released(job_set)
        return job_set

    def _read_lazy(self, job_set: LazyJobSet) -> dict[str, Any]:
        stored = self.store.load(job_set.job_set_id()) if self.store is not None else None
        if stored is None:
            raise JobManagerUnknownJobSet(
                f"job set {job_set.job_set_id()} was deleted from the store since it was listed"
            )
        return restored_arguments(stored, None, self._scheduler)

    def retrieve_job_set(
        self,
        job_set_id: str,
        provider: Any = None,
        refresh: bool = False,
        *,
        backend: Any = None,
        executor: Any = None,
    ) -> ManagedJobSet:
        """The job set with this id, from this manager or from its store.

        From the store, finished chunks come back with their results (no backend call), their
        jobs as read-only :class:`StoredJob` objects until ``jobs()`` is first called, which
        swaps in the backend's own jobs where it can list them (IBM Quantum: one listing by
        the set's tag); unfinished ones are re-attached by job id
        where the backend can look jobs up, and otherwise marked LOST and left for ``retry`` /
        ``retry_failed``, which need a backend. A set no store knows is rebuilt from
        ``backend`` (IBM Quantum) by its jobs' tags: missing jobs make LOST chunks, cancelled
        ones CANCELLED chunks, never an error.

        Args:
            job_set_id: The set's id.
            provider: A ``QiskitRuntimeService`` or qiskit-ibm-provider's ``IBMProvider``: the
                backend is the one of the set's stored backend name, so the id is enough.
            refresh: Read the set again even when this manager holds it: a running set polls
                its jobs at once; a finished one is read again from the store.
            backend: The backend to re-attach to and retry on; wins over ``provider``.
            executor: A Dask ``distributed.Client`` to retry the set's chunks on; a set that
                ran on Dask rebuilds its backend from the store when none is given.
        """
        if not isinstance(refresh, bool):
            raise JobManagerInvalidInputError(
                f"refresh must be True or False, got {type(refresh).__name__}"
            )
        if provider is not None and backend is None and _runs_jobs(provider):
            backend, provider = provider, None  # retrieve_job_set(id, backend): the old order
        wants_backend = backend is not None or provider is not None or executor is not None
        job_set = self._registry.get(job_set_id)
        usable = job_set is not None and (not wants_backend or job_set._adapter.can_submit)
        if executor is not None and job_set is not None:  # its retries go to this client
            usable = usable and getattr(job_set._adapter, "executor", None) is executor
        if job_set is not None and usable and not (refresh and job_set.done()):
            if refresh:
                job_set.refresh()  # a finished set is read again from the store instead
            return job_set
        stored = self.store.load(job_set_id) if self.store is not None else None
        if stored is None:
            if job_set is not None:
                return job_set
            return self._rebuild(job_set_id, backend)
        if backend is None and provider is not None:
            backend = backend_from_provider(provider, stored.backend_name)
        if not wants_backend and job_set is not None and job_set._adapter.can_submit:
            # refresh=True of a held set: the copy read again keeps the backend (and Dask
            # client) it runs on, so it can still be retried.
            backend = job_set._adapter.backend
            executor = getattr(job_set._adapter, "executor", None)
        self._refuse_if_running_elsewhere(stored)
        if job_set is not None and job_set.num_experiments == len(stored.experiments):
            # Held without this backend: the set read again shares its experiments, so the
            # circuits are decoded (and held in memory) once.
            stored = dataclasses.replace(stored, experiments=job_set.experiments())
        job_set = restore(stored, backend, self._scheduler, executor=executor)
        self._adopt(job_set, new=False)
        if not job_set.done():
            job_set._start()  # re-attached jobs: poll them
        return job_set

    def _rebuild(self, job_set_id: str, backend: Any) -> ManagedJobSet:
        """The set from its jobs' tags on ``backend``, when no store knows it."""
        where = f"this manager or its store ({self.store.path})" if self.store else "memory"
        if backend is None:
            raise JobManagerUnknownJobSet(
                f"no job set with id {job_set_id!r} in {where}; pass backend=... to look for "
                "its jobs on the backend by their tag"
            )
        adapter = adapter_for(backend)
        job_set = rebuild(job_set_id, adapter, self._scheduler)
        if job_set is None:
            searched = "found no job tagged" if adapter.can_search else "cannot search jobs by"
            raise JobManagerUnknownJobSet(
                f"no job set with id {job_set_id!r} in {where}, and {adapter.name} {searched} "
                f"{SET_TAG_PREFIX}{job_set_id}"
            )
        self._adopt(job_set, new=True)
        job_set._start()
        return job_set

    @staticmethod
    def _refuse_if_running_elsewhere(stored: StoredJobSet) -> None:
        if stored.finished_at is None and owner_is_alive(stored.owner):
            raise JobManagerInvalidStateError(
                f"job set {stored.job_set_id} is being run by process {stored.owner[1]} on this "
                "host; retrieve or delete it once that process has ended"
            )

    def delete_job_set(self, job_set_id: str) -> None:
        """Forget a finished job set, here and in the store."""
        stored = self.store.load(job_set_id) if self.store is not None else None
        if stored is not None:
            self._refuse_if_running_elsewhere(stored)
        job_set = self._registry.get(job_set_id)
        if job_set is not None and not job_set.done():
            raise JobManagerInvalidStateError(
                f"job set {job_set_id} is still running: cancel it and wait first"
            )
        self._registry.remove(job_set_id)
        deleted = self.store.delete(job_set_id) if self.store is not None else False
        if job_set is None and not deleted:
            raise JobManagerUnknownJobSet(f"no job set with id {job_set_id!r}")

    def follow(self, job_set_id: str) -> ManagedJobSet:
        """The set with this id, live: where another live process on this host runs it, a
        read-only copy that follows it through the store (about once a second; retry and
        cancel are refused, naming that process; ``close()`` stops following), else the set
        itself, as :meth:`retrieve_job_set` gives it."""
        own = self._registry.get(job_set_id)
        if own is not None:
            return own
        stored = self.store.load(job_set_id) if self.store is not None else None
        if self.store is not None and stored is not None:
            from .follow import follow, runs_elsewhere

            if runs_elsewhere(stored):
                return follow(self.store, stored, self._scheduler)
        return self.retrieve_job_set(job_set_id)

    def watch(self, job_set_id: str) -> Any:
        """A live Jupyter widget of the set with this id (needs anywidget), read-only where
        another process runs it: see :meth:`follow`. The set's one widget (``widget()``), so
        watching a set again shows another view of it over the same comm."""
        # follow() gives the one followed copy of a set while it is followed, and widget() the
        # one open widget of that copy: both are what keeps one comm per set in the kernel.
        return self.follow(job_set_id).widget()

    def report(self, detailed: bool = True) -> str:
        """Reports of every job set of this manager."""
        sets = self.job_sets()
        if not sets:
            return "No job sets."
        return "\n\n".join(s.report(detailed) for s in sets)

    def dashboard(self, backends: dict[str, Any] | None = None, provider: Any = None) -> Any:
        """A live Jupyter table of this manager's sets and its store's (needs anywidget): filter,
        sort, page, open a set's widget, retry, cancel, delete. ``backends`` ({backend name:
        backend}) or ``provider`` let stored sets be retried and cancelled from it."""
        from .dashboard import DashboardWidget  # the core needs no widget libraries until asked

        # One dashboard (one comm, one store reader) per manager, however often it is shown.
        dashboard = self._dashboard
        if dashboard is not None and not dashboard.closed:
            dashboard.use(backends, provider)
            return dashboard
        self._dashboard = DashboardWidget(self, backends=backends, provider=provider)
        return self._dashboard

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> Any:
        try:
            widget = self.dashboard()
        except ImportError:
            return {"text/plain": self.report(detailed=False)}
        return widget._repr_mimebundle_(include=include, exclude=exclude)


def _runs_jobs(candidate: Any) -> bool:
    """A backend or sampler where a provider was expected (an old positional call)."""
    return isinstance(candidate, BackendV2 | BaseSamplerV2)


IBMQJobManager = JobManager
