"""A finished job set of the store, as ``JobManager.job_sets()`` lists it: its name, tags,
backend and dates at hand, its chunks and results read from the store on first use.

Listing 100 stored sets of 20,000 circuits each must not read 2,000,000 results, so the listed
objects are real :class:`ManagedJobSet` instances that build themselves only when anything but
their metadata is asked for.
"""

from __future__ import annotations

import datetime
import threading
from collections.abc import Callable
from typing import Any

from .chunk import ManagedJob, total_usage
from .jobset import ManagedJobSet
from .report import render_job_set_report

Loader = Callable[["LazyJobSet"], dict[str, Any]]
"""Reads the set from the store and returns what ManagedJobSet.__init__ takes."""


class LazyJobSet(ManagedJobSet):
    """A stored, finished set that reads its chunks and results from the store on first use."""

    def __init__(
        self,
        *,
        job_set_id: str,
        name: str,
        tags: list[str],
        backend_name: str,
        created_at: float,
        load: Loader,
        on_loaded: Callable[[LazyJobSet], None],
        read_chunk_headers: Callable[[], list[ManagedJob]],
    ) -> None:
        # Only attributes whose names ManagedJobSet does not use: until it is built, reading any
        # of its own attributes builds it (see __getattr__).
        self._lazy_meta = (job_set_id, name, list(tags), backend_name)
        self._lazy_created = datetime.datetime.fromtimestamp(created_at, datetime.timezone.utc)
        self._lazy_load: Loader | None = load
        self._lazy_on_loaded: Callable[[LazyJobSet], None] | None = on_loaded
        self._lazy_chunk_headers = read_chunk_headers
        self._lazy_lock = threading.RLock()
        self._lazy_state = "stored"  # then "loading", then "loaded"

    def __getattr__(self, attribute: str) -> Any:
        # Called only for attributes the instance lacks: those ManagedJobSet.__init__ sets.
        if attribute.startswith("_lazy") or attribute.startswith("__"):
            raise AttributeError(attribute)
        self._lazy_build()
        return object.__getattribute__(self, attribute)

    def _lazy_build(self) -> None:
        with self._lazy_lock:
            if self._lazy_state == "loaded":
                return
            if self._lazy_state == "loading":
                raise AttributeError("the job set is being read from the store")
            self._lazy_state = "loading"
            try:
                assert self._lazy_load is not None
                assert self._lazy_on_loaded is not None
                ManagedJobSet.__init__(self, **self._lazy_load(self))
            except BaseException:
                self._lazy_state = "stored"
                raise
            self._lazy_state = "loaded"
            on_loaded, self._lazy_load, self._lazy_on_loaded = self._lazy_on_loaded, None, None
        on_loaded(self)

    @property
    def loaded(self) -> bool:
        """False until something beyond the set's metadata was asked for."""
        return self._lazy_state == "loaded"

    # -- metadata, answered without reading the store ----------------------------------------

    def job_set_id(self) -> str:
        return self._lazy_meta[0]

    def name(self) -> str:
        return super().name() if self.loaded else self._lazy_meta[1]

    def tags(self) -> list[str]:
        return super().tags() if self.loaded else list(self._lazy_meta[2])

    @property
    def backend_name(self) -> str:
        return super().backend_name if self.loaded else self._lazy_meta[3]

    @property
    def created_at(self) -> datetime.datetime:
        return self._lazy_created

    @created_at.setter
    def created_at(self, value: datetime.datetime) -> None:
        self._lazy_created = value

    def done(self) -> bool:
        return super().done() if self.loaded else True  # only finished sets are listed lazily

    def report(self, detailed: bool = True) -> str:
        if self.loaded:
            return super().report(detailed)
        return render_job_set_report(_Headers(self, self._lazy_chunk_headers()), detailed)

    def __repr__(self) -> str:
        state = "" if self.loaded else ", not read yet"
        return f"<ManagedJobSet {self._lazy_meta[0]} {self.name()!r}{state}>"


class _Headers:
    """A stored set's metadata and its chunks without results, for its report."""

    def __init__(self, job_set: LazyJobSet, chunks: list[ManagedJob]) -> None:
        self._job_set = job_set
        self._chunks = chunks

    @property
    def backend_name(self) -> str:
        return self._job_set.backend_name

    def name(self) -> str:
        return self._job_set.name()

    def job_set_id(self) -> str:
        return self._job_set.job_set_id()

    def tags(self) -> list[str]:
        return self._job_set.tags()

    def managed_jobs(self) -> list[ManagedJob]:
        return list(self._chunks)

    def usage_seconds(self) -> float | None:
        return total_usage(self._chunks)
