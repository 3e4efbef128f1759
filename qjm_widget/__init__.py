"""qjm_widget: run many Qiskit circuits as a managed set of jobs, and watch them live.

>>> from qjm_widget import JobManager
>>> job_set = JobManager().run(circuits, backend=AerSimulator(), max_experiments_per_job=100)
>>> job_set.results().get_counts(0)
"""

from __future__ import annotations

from .chunk import ChunkState, ManagedJob
from .counts import MergedCounts
from .events import JobSetEvent
from .exceptions import (
    IBMQJobManagerError,
    IBMQJobManagerInvalidStateError,
    IBMQJobManagerJobNotFound,
    IBMQJobManagerTimeoutError,
    IBMQJobManagerUnknownJobSet,
    IBMQManagedResultDataNotAvailable,
    JobManagerError,
    JobManagerInvalidInputError,
    JobManagerInvalidStateError,
    JobManagerJobNotFound,
    JobManagerTimeoutError,
    JobManagerUnknownJobSet,
    ManagedResultDataNotAvailable,
)
from .jobset import ManagedJobSet
from .manager import IBMQJobManager, JobManager
from .policy import RetryPolicy

# The function shadows its module's name here: qjm_widget.progress(job_set) is the public spelling.
from .progress import JobSetProgress, progress
from .results import ManagedResults
from .store import Store
from .store_format import StoreError
from .stored_job import StoredJob

__version__ = "0.1.0"

__all__ = [
    "ChunkState",
    "IBMQJobManager",
    "IBMQJobManagerError",
    "IBMQJobManagerInvalidStateError",
    "IBMQJobManagerJobNotFound",
    "IBMQJobManagerTimeoutError",
    "IBMQJobManagerUnknownJobSet",
    "IBMQManagedResultDataNotAvailable",
    "JobManager",
    "JobManagerError",
    "JobManagerInvalidInputError",
    "JobManagerInvalidStateError",
    "JobManagerJobNotFound",
    "JobManagerTimeoutError",
    "JobManagerUnknownJobSet",
    "JobSetEvent",
    "JobSetProgress",
    "ManagedJob",
    "ManagedJobSet",
    "ManagedResultDataNotAvailable",
    "ManagedResults",
    "MergedCounts",
    "RetryPolicy",
    "Store",
    "StoreError",
    "StoredJob",
    "progress",
]
