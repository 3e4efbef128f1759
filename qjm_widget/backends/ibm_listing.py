"""The states of a set's IBM Quantum jobs from one listing request a page, not one read a job.

Neither IBM client has a public way to do this: qiskit-ibm-runtime's ``service.jobs()`` drops
the state each listed job carries (every job it returns reads its status again, one request
each), and qiskit-ibm-provider's ``jobs()`` builds new job objects that are not the ones we
poll. So this module calls the client's REST layer (``jobs_get`` of the client each job holds)
and hands each listed state to its job, so that the job's ``result()`` does not read the state
again. Those names are private: ``CHECKED`` names the client releases they were checked
against. On any other release, or where the names are gone, :func:`listing_for` gives None and
jobs are read one by one, as before; tests/test_ibm_listing.py (and its qiskit 1.4 twin) fail
loudly when the installed client is not one of them, so that an upgrade is checked, not guessed.

The listing asks for the set's jobs by tag, every state (not ``pending=True``), newest first, and
stops paging once every in-flight job is seen. A pending-only listing would be shorter, but a
job that finished since the last round is missing from it, and each one missing costs a GET of
its own to learn how it ended: one request more per finished job than this, which costs more
per chunk, not less.
"""

from __future__ import annotations

import importlib
import logging
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from qiskit.providers import JobStatus

from .base import StatusReading
from .status import to_job_status

logger = logging.getLogger(__name__)

_FINAL = frozenset({JobStatus.DONE, JobStatus.ERROR, JobStatus.CANCELLED})

PAGE_SIZE = 200
"""Jobs per listing request: the most IBM Quantum's ``GET /jobs`` returns in one page."""


@dataclass(frozen=True, slots=True)
class _Client:
    """How one IBM client's jobs are listed and told their state."""

    package: str
    releases: tuple[str, ...]
    """major.minor releases whose private names below were checked."""
    job_class: str
    """Module path and class name of the jobs this client returns from a submit."""
    rest_client: str
    """The job attribute holding the REST client that has ``jobs_get``."""
    apply: Callable[[Any, dict[str, Any]], JobStatus | None]
    """Hands a listed entry's state to the job; the job's status after it."""


def _apply_runtime(job: Any, raw: dict[str, Any]) -> JobStatus | None:
    job._set_status(raw)
    job._set_error_message(raw)  # so that error_message() does not read it again
    return to_job_status(job._status)


def _apply_provider(job: Any, raw: dict[str, Any]) -> JobStatus | None:
    utils = importlib.import_module("qiskit_ibm_provider.utils.utils")
    job._api_status = (raw.get("state") or {}).get("status") or raw["status"]
    job._status = utils.api_status_to_job_status(job._api_status)
    return to_job_status(job._status)


CHECKED = (
    _Client(
        "qiskit_ibm_runtime",
        ("0.51",),
        "qiskit_ibm_runtime.runtime_job_v2.RuntimeJobV2",
        "_api_client",
        _apply_runtime,
    ),
    _Client(
        "qiskit_ibm_provider",
        ("0.11",),
        "qiskit_ibm_provider.job.ibm_circuit_job.IBMCircuitJob",
        "_runtime_client",
        _apply_provider,
    ),
)


def release_of(package: str) -> str:
    """major.minor of an imported package ('' where it is not imported)."""
    version = str(getattr(sys.modules.get(package), "__version__", ""))
    return ".".join(version.split(".")[:2])


def is_checked_release(package: str, releases: Sequence[str], otherwise: str) -> bool:
    """Whether the installed release of ``package`` is one of ``releases`` (those a module's
    private names were checked against); logs ``otherwise`` (what is done instead) if not."""
    if release_of(package) in releases:
        return True
    logger.info(
        "%s %s is not one of %s: %s", package, release_of(package), ", ".join(releases), otherwise
    )
    return False


def _job_class(client: _Client) -> type | None:
    module, _, name = client.job_class.rpartition(".")
    try:
        found = getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError):
        return None
    return found if isinstance(found, type) else None


class JobListing:
    """Reads every in-flight job of a set with one ``GET /jobs`` (per page of 200)."""

    def __init__(self, client: _Client, job_class: type) -> None:
        self._client = client
        self._job_class = job_class
        self._usage: dict[str, float] = {}

    def read(
        self, jobs: Sequence[Any], tag: str, read_one: Callable[[Any], StatusReading]
    ) -> list[StatusReading]:
        """The status of each job, listed by the set's ``tag``; a job the listing misses (it
        was deleted, say) is read on its own by ``read_one``, which says what became of it."""
        if not jobs:
            return []
        if not all(isinstance(job, self._job_class) for job in jobs):
            return [read_one(job) for job in jobs]
        try:
            rest = getattr(jobs[0], self._client.rest_client)
            listed = _list(rest, tag, {job.job_id() for job in jobs})
        except Exception as exc:  # the listing failed: each job's read failed with it
            return [exc] * len(jobs)
        readings: list[StatusReading] = []
        for job in jobs:
            raw = listed.get(job.job_id())
            if raw is None:
                readings.append(read_one(job))
                continue
            try:
                status = self._client.apply(job, raw)
            except Exception as exc:  # a state this release of the client does not know
                readings.append(exc)
                continue
            seconds = (raw.get("usage") or {}).get("quantum_seconds")
            if status in _FINAL and isinstance(seconds, int | float):
                self._usage[job.job_id()] = float(seconds)
            readings.append(status)
        return readings

    def usage_seconds(self, job_id: str) -> float | None:
        """The QPU seconds a finished job's listing entry carried (once: it is then forgotten)."""
        return self._usage.pop(job_id, None)


def _list(rest: Any, tag: str, wanted: set[str]) -> dict[str, dict[str, Any]]:
    """The listed jobs of ``wanted``, newest first, paging only until all of them are seen:
    a set's unfinished jobs are its newest, so later pages hold only finished ones."""
    found: dict[str, dict[str, Any]] = {}
    offset = 0
    while True:
        page = rest.jobs_get(limit=PAGE_SIZE, skip=offset, job_tags=[tag])
        jobs = page.get("jobs") or []
        for raw in jobs:
            if raw.get("id") in wanted:
                found[raw["id"]] = raw
        offset += len(jobs)
        if not jobs or offset >= int(page.get("count") or 0) or len(found) == len(wanted):
            return found


def listing_for(package: str) -> JobListing | None:
    """A JobListing for the jobs of IBM client ``package`` where the installed release is one
    this module was checked against; None otherwise (jobs are then read one by one)."""
    client = next((c for c in CHECKED if c.package == package), None)
    if client is None:
        return None
    if not is_checked_release(package, client.releases, "job statuses are read one by one"):
        return None
    job_class = _job_class(client)
    if job_class is None or not hasattr(job_class, "job_id"):
        return None
    return JobListing(client, job_class)
