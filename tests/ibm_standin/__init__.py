"""A loopback stand-in of the IBM Quantum runtime API for the real qiskit-ibm-runtime client.

Pinned to qiskit-ibm-runtime 0.51.0 (its REST paths, payloads and error parsing were read from
that version's source). Tests own the server: ``RuntimeStandIn`` starts it on 127.0.0.1, hands
out a real ``QiskitRuntimeService`` and lets a test hold the queue, inject faults, revoke tokens
and delete jobs. Uses only the standard library, qiskit, qiskit-aer and qiskit-ibm-runtime.
"""

from __future__ import annotations

from .errors import PENDING_LIMIT_CODE
from .faults import Faults
from .jobs import JobView
from .runtime_api import RequestRecord
from .standin import RuntimeStandIn

__all__ = ["PENDING_LIMIT_CODE", "Faults", "JobView", "RequestRecord", "RuntimeStandIn"]
