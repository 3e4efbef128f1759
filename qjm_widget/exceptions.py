"""Exceptions raised by the job manager.

Every error the package raises on purpose derives from :class:`JobManagerError`, so
``except JobManagerError`` catches them all. The ``IBMQ*`` names are aliases kept for code
written against qiskit-ibmq-provider's IBMQJobManager.
"""

from __future__ import annotations


class JobManagerError(Exception):
    """Base class for every error raised by qjm_widget."""


class JobManagerInvalidStateError(JobManagerError):
    """The operation is not allowed in the job set's current state."""


class JobManagerInvalidInputError(JobManagerInvalidStateError, ValueError):
    """An argument was rejected before anything was submitted.

    A subclass of the invalid-state error because IBMQJobManager raised that one for bad
    arguments, and code written for it catches it.
    """


class JobManagerTimeoutError(JobManagerError, TimeoutError):
    """Waiting for a job set timed out."""


class JobManagerJobNotFound(JobManagerError, LookupError):
    """No chunk or experiment matches the given index, name or circuit."""


class ManagedResultDataNotAvailable(JobManagerError):
    """The experiment's data is not available (its chunk failed, was cancelled or is lost)."""


class JobManagerUnknownJobSet(JobManagerError, LookupError):
    """No job set has the given id."""


IBMQJobManagerError = JobManagerError
IBMQJobManagerInvalidStateError = JobManagerInvalidStateError
IBMQJobManagerTimeoutError = JobManagerTimeoutError
IBMQJobManagerJobNotFound = JobManagerJobNotFound
IBMQManagedResultDataNotAvailable = ManagedResultDataNotAvailable
IBMQJobManagerUnknownJobSet = JobManagerUnknownJobSet
