"""The backend's own jobs of a retrieved set's finished chunks, looked up once, when first asked.

A set retrieved from the store holds a read-only :class:`StoredJob` for each chunk that had
ended. Where the backend lists jobs by tag (IBM Quantum, through either client), ``jobs()``
swaps them for the backend's jobs with one listing of the set's tag (a request a page), not one
lookup a chunk, and not at retrieval: a set retrieved to be retried or shown costs nothing more.
Only the user's accessors ask for it; the widget, the poller and the store read ``chunk.job``
as a plain attribute and never wait on the network for it. A job the listing lacks (deleted on
the backend), or a listing that fails, leaves the chunk its StoredJob, which still answers
``result()`` from the store; the failure is logged, not raised.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from typing import Any

from .backends import BackendAdapter, describe_exception
from .chunk import ManagedJob
from .job_tags import SET_TAG_PREFIX
from .stored_job import StoredJob

logger = logging.getLogger(__name__)


class JobLookup:
    """Swaps the StoredJobs of one set's finished chunks for the backend's jobs, once."""

    def __init__(self, adapter: BackendAdapter, job_set_id: str) -> None:
        self._adapter = adapter
        self._tag = SET_TAG_PREFIX + job_set_id
        # Held across the listing, so that two callers at once list once; never the set's lock,
        # which its threads must not wait on while we wait on the network.
        self._lock = threading.Lock()
        self._looked = not adapter.can_search

    def swap_in(self, chunks: Sequence[ManagedJob], set_lock: Any) -> None:
        if self._looked:
            return
        with self._lock:
            if self._looked:
                return
            self._looked = True
            with set_lock:
                wanted = {
                    c.job_id: (c, c.job)
                    for c in chunks
                    if isinstance(c.job, StoredJob) and c.job_id
                }
            if not wanted:
                return
            try:
                listed = self._adapter.find_jobs(self._tag)
            except Exception as exc:
                logger.warning(
                    "the jobs tagged %s could not be listed on %s (%s): the set keeps the jobs "
                    "the store kept; retrieve_job_set(..., refresh=True) looks again",
                    self._tag,
                    self._adapter.name,
                    describe_exception(exc),
                )
                return
            found = {self._adapter.job_id(job): job for job in listed}
            with set_lock:
                for job_id, (chunk, stored) in wanted.items():
                    job = found.get(job_id)
                    # A chunk retried meanwhile holds its new job: leave it.
                    if job is not None and chunk.job is stored:
                        chunk.job = job
            missing = sorted(set(wanted) - set(found))
            if missing:
                logger.info(
                    "jobs %s are not listed on %s (deleted there?): their chunks keep the jobs "
                    "the store kept",
                    ", ".join(missing),
                    self._adapter.name,
                )
