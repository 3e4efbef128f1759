"""Experiments of a stored set whose circuits stay in the store until a circuit is needed.

Listing, reports, results and the widget read an experiment's name, shots, shape and values
only; a retry, ``job(circuit)`` or transpiling needs the circuits, and the first of those
decodes the whole set's QPY, once, for every experiment that shares the source.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from qiskit import QuantumCircuit

from .workload import Experiment

CircuitLoader = Callable[[], Sequence[QuantumCircuit]]


class CircuitSource:
    """A stored set's circuits, decoded on first need and never again."""

    def __init__(self, load: CircuitLoader) -> None:
        self._load: CircuitLoader | None = load
        self._lock = threading.Lock()
        self._circuits: Sequence[QuantumCircuit] | None = None

    @property
    def loaded(self) -> bool:
        return self._circuits is not None

    def circuit(self, index: int) -> QuantumCircuit:
        circuits = self._circuits
        if circuits is None:
            with self._lock:
                if self._circuits is None:
                    assert self._load is not None
                    self._circuits = self._load()
                    self._load = None  # drop what the loader holds (the store, the set id)
                circuits = self._circuits
        return circuits[index]


class StoredExperiment(Experiment):
    """An experiment read from the store: its metadata at hand, its circuit from ``source``."""

    _source: CircuitSource
    _index: int
    _name: str
    _parameter_names: list[str]

    def __init__(
        self,
        source: CircuitSource,
        index: int,
        name: str,
        values: np.ndarray[Any, np.dtype[np.float64]] | None,
        shots: int | None,
        parameter_names: Sequence[str],
    ) -> None:
        # Not Experiment.__init__: ``circuit`` is a property here, read from the source.
        self.values = values
        self.shots = shots
        self._source = source
        self._index = index
        self._name = name
        self._parameter_names = list(parameter_names)

    @property
    def circuit(self) -> QuantumCircuit:
        return self._source.circuit(self._index)

    @property
    def name(self) -> str:
        return str(self._name)

    @property
    def parameter_names(self) -> list[str]:
        return list(self._parameter_names)

    def is_circuit(self, candidate: object) -> bool:
        # A circuit the caller holds cannot be one decoded from the store but not yet decoded.
        return self._source.loaded and self.circuit is candidate

    def __repr__(self) -> str:
        return f"StoredExperiment({self._index}, name={self._name!r}, shape={self.shape})"


def placeholder_circuit(index: int) -> QuantumCircuit:
    """Where a set's circuits are not known (never stored, or lost with the jobs' tags)."""
    return QuantumCircuit(name=f"unknown_{index}")
