"""What one slice of a chunk gave back, point by point: the results of a BackendV2 job (one
ExperimentResult per point) or of a sampler job (one BitArray per register, points along its
first axis, kept raw so that ``pub_result`` can put a split PUB back together exactly)."""

from __future__ import annotations

import abc
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from qiskit import QuantumCircuit
from qiskit.primitives.containers import BitArray
from qiskit.result.models import ExperimentResult, ExperimentResultData
from qiskit.result.postprocess import format_counts

from .counts import experiment_counts

try:  # qiskit 1.x wants header objects; 2.x takes plain dicts.
    from qiskit.qobj import QobjExperimentHeader as _Header
except ImportError:  # pragma: no cover - depends on the installed qiskit
    _Header = None


def experiment_header(circuit: QuantumCircuit) -> dict[str, Any]:
    """The fields of the result header qiskit's own backends write, so that our counts are
    formatted alike (registers space-separated)."""
    return {
        "name": circuit.name,
        "creg_sizes": [[creg.name, creg.size] for creg in circuit.cregs],
        "memory_slots": sum(creg.size for creg in circuit.cregs),
        "n_qubits": circuit.num_qubits,
        "qreg_sizes": [[qreg.name, qreg.size] for qreg in circuit.qregs],
        "metadata": dict(circuit.metadata or {}),
    }


def result_header(fields: dict[str, Any]) -> Any:
    """A result header in the form the installed qiskit's Result expects."""
    if _Header is None:
        return fields
    # qiskit 1.x deprecates the class's __init__ (which only fills __dict__) but its Result still
    # wants the object: filling it directly warns nothing, and needs no (thread-unsafe)
    # catch_warnings around a call made from worker threads.
    header = _Header.__new__(_Header)
    header.__dict__.update(fields)
    return header


class SliceResult(abc.ABC):
    """Results of one slice (an experiment, or some of its points), point by point."""

    __slots__ = ()  # a set holds one per experiment: no dict each

    @property
    @abc.abstractmethod
    def num_points(self) -> int: ...

    @abc.abstractmethod
    def counts(self, point: int | None = None) -> dict[str, int]:
        """Counts of one point (an offset into the slice), or summed over every point."""

    @abc.abstractmethod
    def experiment_result(self, point: int) -> ExperimentResult:
        """One point's result in qiskit's Result form."""

    def failures(self) -> list[tuple[int, str]]:
        """(point offset, message) of each point that failed inside a job that ran."""
        return []


@dataclass(eq=False, slots=True)
class CircuitSliceResult(SliceResult):
    """A BackendV2 job's ExperimentResults for the slice's points, in order:
    ``job_results[start:stop]``. The slices of one job share its one list, so that a set holds
    no list per experiment and a chunk's results combine in one step (:func:`job_results_of`)."""

    job_results: list[ExperimentResult]
    start: int
    stop: int

    @property
    def results(self) -> list[ExperimentResult]:
        return self.job_results[self.start : self.stop]

    @property
    def num_points(self) -> int:
        return self.stop - self.start

    def counts(self, point: int | None = None) -> dict[str, int]:
        chosen = self.results if point is None else [self.experiment_result(point)]
        if len(chosen) == 1:
            return experiment_counts(chosen[0]) or {}
        total: Counter[str] = Counter()
        for result in chosen:
            total.update(experiment_counts(result) or {})
        return dict(total)

    def experiment_result(self, point: int) -> ExperimentResult:
        if not 0 <= point < self.stop - self.start:
            raise IndexError(f"point {point} of a slice of {self.stop - self.start}")
        return self.job_results[self.start + point]

    def failures(self) -> list[tuple[int, str]]:
        return [
            (offset, str(result.status or "experiment failed"))
            for offset, result in enumerate(self.results)
            if not result.success
        ]


class JobSlices(list[SliceResult]):
    """A chunk's slices of one BackendV2 job: ``job_results`` cut in order, all of it, into one
    CircuitSliceResult per slice. Made only by :func:`slice_results_of_circuits` and never
    changed, so that combining the chunk hands over the job's list without reading each slice."""

    __slots__ = ("job_results",)

    def __init__(self, job_results: list[ExperimentResult], points: Sequence[int]) -> None:
        super().__init__()
        self.job_results = job_results
        start = 0
        for count in points:
            self.append(CircuitSliceResult(job_results, start, start + count))
            start += count


def job_results_of(parts: Sequence[SliceResult]) -> list[ExperimentResult] | None:
    """The one job's ExperimentResults that a chunk's slices cut, in order and all of them, or
    None where the slices are not such a cut (a sampler's, or put together otherwise)."""
    return parts.job_results if isinstance(parts, JobSlices) else None


@dataclass(eq=False, slots=True)
class PubSliceResult(SliceResult):
    """A sampler job's data for the slice: every register's BitArray of shape (points,)."""

    registers: dict[str, BitArray]
    metadata: dict[str, Any]
    header: dict[str, Any]
    """The circuit's result header, which formats counts as a BackendV2's are."""
    memory: bool = False
    _joined: np.ndarray[Any, Any] | None = field(default=None, repr=False, init=False)

    @property
    def num_points(self) -> int:
        first = next(iter(self.registers.values()), None)
        return 1 if first is None else int(first.shape[0])

    @property
    def shots(self) -> int:
        first = next(iter(self.registers.values()), None)
        return 0 if first is None else int(first.num_shots)

    def _outcomes(self) -> np.ndarray[Any, Any]:
        """Every shot as an int over all registers (the first register least significant):
        shape (points, shots), dtype object where the registers are wider than 63 bits."""
        if self._joined is None:
            total = np.zeros((self.num_points, self.shots), dtype=np.uint64)
            wide = sum(r.num_bits for r in self.registers.values()) > 63
            if wide:
                total = total.astype(object)
            offset = 0
            for bits in self.registers.values():
                total = total + (_as_ints(bits, wide) << (offset if wide else np.uint64(offset)))
                offset += bits.num_bits
            self._joined = total
        return self._joined

    def _hex_counts(self, point: int | None) -> dict[str, int]:
        outcomes = self._outcomes()
        chosen = outcomes.reshape(-1) if point is None else outcomes[point]
        values, tallies = np.unique(chosen, return_counts=True)
        return {hex(int(v)): int(n) for v, n in zip(values, tallies, strict=True)}

    def counts(self, point: int | None = None) -> dict[str, int]:
        return dict(format_counts(self._hex_counts(point), self.header))

    def experiment_result(self, point: int) -> ExperimentResult:
        data: dict[str, Any] = {"counts": self._hex_counts(point)}
        if self.memory:
            data["memory"] = [hex(int(v)) for v in self._outcomes()[point]]
        return ExperimentResult(
            shots=self.shots,
            success=True,
            data=ExperimentResultData(**data),
            header=result_header(self.header),
            status="DONE",
        )


def _as_ints(bits: BitArray, wide: bool) -> np.ndarray[Any, Any]:
    """A register's shots as ints, shape (points, shots); its bytes are big-endian."""
    array = bits.array
    if wide:
        return np.array(
            [[int.from_bytes(row.tobytes(), "big") for row in point] for point in array],
            dtype=object,
        ).reshape(array.shape[:-1])
    out = np.zeros(array.shape[:-1], dtype=np.uint64)
    for byte in range(array.shape[-1]):
        out = (out << np.uint64(8)) | array[..., byte].astype(np.uint64)
    return out


def slice_results_of_circuits(
    results: Sequence[ExperimentResult], points: Sequence[int]
) -> JobSlices:
    """A BackendV2 job's results (one per point, slice after slice) cut into slices."""
    if len(results) != sum(points):
        raise RuntimeError(
            f"the backend returned {len(results)} results for {sum(points)} circuits and points"
        )
    return JobSlices(list(results), points)


def pub_slice_result(
    pub_result: Any, circuit: QuantumCircuit, num_points: int, memory: bool
) -> PubSliceResult:
    """One PUB's result, its points flattened to one axis."""
    registers = {
        name: _flat(value, num_points)
        for name, value in pub_result.data.items()
        if isinstance(value, BitArray)
    }
    return PubSliceResult(
        registers=registers,
        metadata=dict(getattr(pub_result, "metadata", None) or {}),
        header=experiment_header(circuit),
        memory=memory,
    )


def _flat(bits: BitArray, num_points: int) -> BitArray:
    if bits.size != num_points:
        raise RuntimeError(f"the sampler returned {bits.size} points for {num_points}")
    return bits.reshape(num_points)


def concatenate_points(parts: Sequence[PubSliceResult]) -> dict[str, BitArray]:
    """Registers of consecutive slices of one experiment, joined along the points axis."""
    names = list(parts[0].registers)
    return {
        name: BitArray(
            np.concatenate([p.registers[name].array for p in parts], axis=0),
            parts[0].registers[name].num_bits,
        )
        for name in names
    }


def concatenate_shots(parts: Sequence[PubSliceResult]) -> PubSliceResult:
    """The same points run in several jobs (a shot split): shots joined, metadata from the first."""
    if len(parts) == 1:
        return parts[0]
    first = parts[0]
    registers = {
        name: BitArray.concatenate_shots([p.registers[name] for p in parts])
        for name in first.registers
    }
    metadata = dict(first.metadata)
    if isinstance(metadata.get("shots"), int):
        metadata["shots"] = sum(int(p.metadata.get("shots") or p.shots) for p in parts)
    return PubSliceResult(registers, metadata, first.header, first.memory)
