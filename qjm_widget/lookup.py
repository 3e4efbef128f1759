"""Finding an experiment of a set by index, circuit or name."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypeAlias

from qiskit import QuantumCircuit

from .exceptions import JobManagerJobNotFound
from .workload import Experiment

ExperimentKey: TypeAlias = "int | str | QuantumCircuit"


class ExperimentLookup:
    """Experiments by index, circuit (the object itself, else its name) or name, the first
    match winning as on qiskit's Result.

    The table of names is built on the first lookup that needs it, once (names as they are
    then): a caller that looks up every experiment by name does n lookups, not n scans of n.
    It reads ``Experiment.name``, so a stored set's circuits stay in the store.
    """

    def __init__(self, experiments: Sequence[Experiment]) -> None:
        self._experiments = experiments
        self._by_name: dict[str, list[int]] | None = None

    def index(self, key: ExperimentKey) -> int:
        if isinstance(key, bool) or not isinstance(key, int | str | QuantumCircuit):
            raise JobManagerJobNotFound(
                f"an experiment is given by index, name or circuit, got {type(key).__name__}"
            )
        count = len(self._experiments)
        if isinstance(key, int):
            if 0 <= key < count:
                return key
            raise JobManagerJobNotFound(
                f"experiment index {key} is out of range: the set has {count} experiments"
            )
        named = self._names().get(key.name if isinstance(key, QuantumCircuit) else key, [])
        if isinstance(key, QuantumCircuit):
            found = self._itself(key, named)
            if found is not None:
                return found
            key = key.name
        if not named:
            raise JobManagerJobNotFound(f"no experiment is named {key!r}")
        return named[0]

    def _itself(self, circuit: QuantumCircuit, named: list[int]) -> int | None:
        """The first experiment whose circuit is ``circuit`` itself."""
        for index in named:
            if self._experiments[index].is_circuit(circuit):
                return index
        # Renamed since the table was made, or not in the set at all: the one full scan.
        for index, experiment in enumerate(self._experiments):
            if experiment.is_circuit(circuit):
                return index
        return None

    def _names(self) -> dict[str, list[int]]:
        if self._by_name is None:
            table: dict[str, list[int]] = {}
            for index, experiment in enumerate(self._experiments):
                table.setdefault(experiment.name, []).append(index)
            self._by_name = table
        return self._by_name
