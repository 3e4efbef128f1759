"""The devices the stand-in serves: IBM's fake backends, as the runtime API describes them.

Stands in for ``GET /backends``, ``GET /backends/{name}/configuration``, ``.../properties`` and
``.../status`` of the IBM Quantum runtime API as qiskit-ibm-runtime 0.51.0 reads them. The JSON
comes from the snapshot files that ship with ``qiskit_ibm_runtime.fake_provider`` (the same
files ``FakeManilaV2`` etc. are built from), so the client builds an ``IBMBackend`` whose target
matches the fake backend's.
"""

from __future__ import annotations

import copy
import functools
import inspect
import json
import os
from typing import Any

from qiskit_ibm_runtime import fake_provider
from qiskit_ibm_runtime.fake_provider.fake_backend import FakeBackendV2


@functools.cache
def fake_backend_classes() -> dict[str, type[FakeBackendV2]]:
    """Every ``FakeXxxV2`` class of the fake provider, by its ``backend_name`` (``fake_manila``)."""
    classes: dict[str, type[FakeBackendV2]] = {}
    for _, member in inspect.getmembers(fake_provider, inspect.isclass):
        name = getattr(member, "backend_name", None)
        if issubclass(member, FakeBackendV2) and isinstance(name, str):
            classes[name] = member
    return classes


class StandInBackend:
    """One device: configuration and properties JSON of a fake backend, renamed to ``name``."""

    def __init__(self, name: str) -> None:
        classes = fake_backend_classes()
        if name not in classes:
            known = ", ".join(sorted(classes))
            raise ValueError(f"unknown fake backend {name!r}; use one of: {known}")
        self.name = name
        self.fake_class = classes[name]
        self._configuration = self._load(self.fake_class.conf_filename)
        self._configuration["backend_name"] = name
        props_filename = getattr(self.fake_class, "props_filename", None)
        self._properties = self._load(props_filename) if props_filename else None
        if self._properties is not None:
            self._properties["backend_name"] = name

    def _load(self, filename: str) -> dict[str, Any]:
        with open(os.path.join(self.fake_class.dirname, filename), encoding="utf-8") as handle:
            data: dict[str, Any] = json.load(handle)
        return data

    @property
    def num_qubits(self) -> int:
        return int(self._configuration["n_qubits"])

    def fake(self) -> FakeBackendV2:
        """A fresh instance of the fake backend (its noise model feeds Aer)."""
        return self.fake_class()

    def configuration(self) -> dict[str, Any]:
        return copy.deepcopy(self._configuration)

    def properties(self) -> dict[str, Any] | None:
        return copy.deepcopy(self._properties)

    def status(self, queue_length: int) -> dict[str, Any]:
        """``GET /backends/{name}/status`` (the client reads state, status, length_queue)."""
        return {
            "state": True,
            "status": "active",
            "message": "available",
            "length_queue": queue_length,
            "backend_version": self._configuration.get("backend_version", "0.0.0"),
        }

    def listing(self, queue_length: int) -> dict[str, Any]:
        """This device's entry in ``GET /backends`` (``{"devices": [...]}``)."""
        return {
            "name": self.name,
            "status": {"name": "online", "reason": "available"},
            "qubits": self.num_qubits,
            "queue_length": queue_length,
            "processor_type": self._configuration.get("processor_type", {}),
            "clops": self._configuration.get("clops_h"),
        }
