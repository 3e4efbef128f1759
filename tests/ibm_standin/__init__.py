"""A loopback stand-in of the IBM Quantum runtime API for the real qiskit-ibm-runtime client.

Pinned to qiskit-ibm-runtime 0.51.0 (its REST paths, payloads and error parsing were read from
that version's source). Tests own the server: ``RuntimeStandIn`` starts it on 127.0.0.1, hands
out a real ``QiskitRuntimeService`` and lets a test hold the queue, inject faults, revoke tokens
and delete jobs. Uses only the standard library, qiskit, qiskit-aer and qiskit-ibm-runtime.

The names below are imported lazily, so ``tests.ibm_standin.provider_api`` (the stand-in for
qiskit-ibm-provider, run in a venv without qiskit-ibm-runtime) imports without them.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .errors import PENDING_LIMIT_CODE
    from .faults import Faults
    from .jobs import JobView
    from .runtime_api import RequestRecord
    from .standin import RuntimeStandIn

__all__ = ["PENDING_LIMIT_CODE", "Faults", "JobView", "RequestRecord", "RuntimeStandIn"]

_HOMES = {
    "PENDING_LIMIT_CODE": ".errors",
    "Faults": ".faults",
    "JobView": ".jobs",
    "RequestRecord": ".runtime_api",
    "RuntimeStandIn": ".standin",
}


def __getattr__(name: str) -> Any:
    if name not in _HOMES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(_HOMES[name], __name__), name)
