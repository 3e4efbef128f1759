"""Map whatever a job's ``status()`` returns onto :class:`qiskit.providers.JobStatus`."""

from __future__ import annotations

from qiskit.providers import JobStatus

# Runtime jobs answer with strings; older clients and other services use a few other spellings.
_ALIASES: dict[str, JobStatus] = {
    "COMPLETED": JobStatus.DONE,
    "FAILED": JobStatus.ERROR,
    "CANCELED": JobStatus.CANCELLED,
    "CANCELLED - RAN TOO LONG": JobStatus.CANCELLED,
    "PENDING": JobStatus.QUEUED,
}

FINAL_STATUSES = frozenset({JobStatus.DONE, JobStatus.ERROR, JobStatus.CANCELLED})


def to_job_status(value: object) -> JobStatus | None:
    """Return the JobStatus that ``value`` stands for, or None when it cannot be read."""
    if isinstance(value, JobStatus):
        return value
    name = getattr(value, "name", value)
    if not isinstance(name, str):
        return None
    key = name.strip().upper()
    if key in JobStatus.__members__:
        return JobStatus[key]
    return _ALIASES.get(key)
