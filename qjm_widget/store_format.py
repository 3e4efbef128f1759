"""How the store writes what it keeps: results and metadata as JSON, circuits as QPY,
parameter values and sampler bit arrays as ``.npy`` arrays in an ``.npz`` archive, written and
read with ``allow_pickle=False``; reading runs no code."""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from qiskit import QuantumCircuit, qpy
from qiskit.primitives.containers import BitArray
from qiskit.result.models import ExperimentResult, ExperimentResultData

from .chunk import ManagedJob
from .counts import header_dict
from .exceptions import JobManagerError
from .outcomes import (
    PubSliceResult,
    SliceResult,
    job_results_of,
    result_header,
    slice_results_of_circuits,
)
from .workload import Experiment


class StoreError(JobManagerError):
    """The store file cannot be used (corrupt, foreign, or from a newer qjm_widget)."""


def to_json(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), default=repr)


def results_to_json(results: Sequence[ExperimentResult]) -> str:
    """Counts and memory of each experiment, with the header that formats them."""
    rows = []
    for result in results:
        data = {
            key: getattr(result.data, key)
            for key in ("counts", "memory")
            if getattr(result.data, key, None) is not None
        }
        rows.append(
            {
                "shots": result.shots if isinstance(result.shots, int) else None,
                "success": bool(result.success),
                "status": None if result.status is None else str(result.status),
                "header": header_dict(result),
                "data": data,
            }
        )
    return to_json(rows)


def results_from_json(text: str, where: str) -> list[ExperimentResult]:
    rows = json.loads(text)
    if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
        raise StoreError(f"{where}: stored results are not a list of objects")
    results = []
    for row in rows:
        data = row.get("data") or {}
        if not isinstance(data, dict):
            raise StoreError(f"{where}: stored experiment data is not an object")
        counts, memory = data.get("counts"), data.get("memory")
        if counts is not None and not (
            isinstance(counts, dict) and all(isinstance(v, int) for v in counts.values())
        ):
            raise StoreError(f"{where}: stored counts are not a mapping of outcomes to ints")
        if memory is not None and not isinstance(memory, list):
            raise StoreError(f"{where}: stored memory is not a list")
        header = row.get("header") if isinstance(row.get("header"), dict) else {}
        results.append(
            ExperimentResult(
                shots=row.get("shots") if isinstance(row.get("shots"), int) else 0,
                success=bool(row.get("success")),
                data=ExperimentResultData(counts=counts, memory=memory),
                header=result_header(header),
                status=row.get("status"),
            )
        )
    return results


def circuits_to_qpy(circuits: Sequence[QuantumCircuit]) -> bytes:
    buffer = io.BytesIO()
    qpy.dump(list(circuits), buffer)
    return buffer.getvalue()


def circuits_from_qpy(blob: bytes, where: str) -> list[QuantumCircuit]:
    if not isinstance(blob, bytes) or not blob.startswith(b"QISKIT"):
        raise StoreError(f"{where}: the stored circuits are not QPY")
    try:
        return list(qpy.load(io.BytesIO(blob)))
    except Exception as exc:
        raise StoreError(f"{where}: the stored circuits cannot be read: {exc}") from exc


def arrays_to_npz(arrays: Mapping[str, np.ndarray[Any, Any]]) -> bytes:
    """An ``.npz`` archive: each array an ``.npy`` entry, written with ``allow_pickle=False``
    (so an object array fails here instead of being pickled), on every numpy version."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, array in arrays.items():
            with archive.open(f"{name}.npy", "w") as entry:
                np.save(entry, array, allow_pickle=False)
    return buffer.getvalue()


def arrays_from_npz(blob: bytes, where: str) -> dict[str, np.ndarray[Any, Any]]:
    if not isinstance(blob, bytes):
        raise StoreError(f"{where}: the stored arrays are not bytes")
    try:
        with np.load(io.BytesIO(blob), allow_pickle=False) as archive:
            return {name: archive[name] for name in archive.files}
    except (ValueError, OSError, zipfile.BadZipFile, EOFError) as exc:
        raise StoreError(f"{where}: the stored arrays cannot be read: {exc}") from exc


def experiments_from_rows(
    circuits: Sequence[QuantumCircuit], text: str | None, blob: bytes | None, where: str
) -> list[Experiment]:
    if text is None:  # a store of schema 1: bound circuits only
        return [Experiment(c) for c in circuits]
    rows = json.loads(text)
    if not isinstance(rows, list) or len(rows) != len(circuits):
        raise StoreError(f"{where}: the stored experiments do not match the stored circuits")
    values = arrays_from_npz(blob, where) if blob is not None else {}
    experiments = []
    for index, (circuit, row) in enumerate(zip(circuits, rows, strict=True)):
        shots = row.get("shots") if isinstance(row, dict) else None
        if shots is not None and (not isinstance(shots, int) or shots <= 0):
            raise StoreError(f"{where}: experiment {index} has malformed shots {shots!r}")
        array = values.get(f"e{index}") if isinstance(row, dict) and row.get("values") else None
        if array is not None and (
            array.dtype != np.float64 or array.ndim < 1 or array.shape[-1] != circuit.num_parameters
        ):
            raise StoreError(f"{where}: the stored values of experiment {index} are malformed")
        if array is None and circuit.num_parameters:
            raise StoreError(f"{where}: experiment {index} has parameters but no stored values")
        experiments.append(Experiment(circuit, array, shots))
    return experiments


def slice_results_to_rows(results: Sequence[SliceResult]) -> tuple[str, bytes | None]:
    """A chunk's results: ExperimentResults as JSON rows (one per point), or a sampler's bit
    arrays as npz with their registers, metadata and header as JSON."""
    whole = job_results_of(results)
    if whole is not None:
        return results_to_json(whole), None
    pubs = []
    arrays: dict[str, np.ndarray[Any, Any]] = {}
    for i, result in enumerate(results):
        if not isinstance(result, PubSliceResult):
            raise TypeError(f"cannot store a chunk of mixed results ({type(result).__name__})")
        registers = []
        for j, (name, bits) in enumerate(result.registers.items()):
            registers.append([name, bits.num_bits])
            arrays[f"s{i}_r{j}"] = bits.array
        pubs.append(
            {
                "registers": registers,
                "metadata": result.metadata,
                "header": result.header,
                "memory": result.memory,
            }
        )
    return to_json({"pubs": pubs}), arrays_to_npz(arrays)


def slice_results_from_rows(
    text: str, blob: bytes | None, points: Sequence[int], where: str
) -> list[SliceResult]:
    """A chunk's results as stored; ``points`` are those of each slice it holds."""
    rows = json.loads(text)
    if isinstance(rows, list):
        try:
            return slice_results_of_circuits(results_from_json(text, where), points)
        except RuntimeError as exc:
            raise StoreError(f"{where}: {exc}") from exc
    pubs = rows.get("pubs") if isinstance(rows, dict) else None
    if not isinstance(pubs, list) or len(pubs) != len(points) or blob is None:
        raise StoreError(f"{where}: the stored sampler results do not match the chunk")
    arrays = arrays_from_npz(blob, where)
    results: list[SliceResult] = []
    for i, (pub, count) in enumerate(zip(pubs, points, strict=True)):
        registers = {}
        for j, (name, num_bits) in enumerate(pub["registers"]):
            array = arrays.get(f"s{i}_r{j}")
            if array is None or array.dtype != np.uint8 or array.ndim != 3:
                raise StoreError(f"{where}: the bit array of register {name!r} is malformed")
            if array.shape[0] != count or array.shape[-1] != (int(num_bits) + 7) // 8:
                raise StoreError(
                    f"{where}: the bit array of register {name!r} has shape "
                    f"{array.shape} for {count} points of {num_bits} bits"
                )
            registers[str(name)] = BitArray(array, int(num_bits))
        metadata, header = pub.get("metadata"), pub.get("header")
        if not isinstance(metadata, dict) or not isinstance(header, dict):
            raise StoreError(f"{where}: the stored metadata or header is not an object")
        results.append(PubSliceResult(registers, metadata, header, bool(pub.get("memory"))))
    return results


def block_to_row(experiments: Sequence[Experiment]) -> tuple[bytes, str, bytes | None]:
    """A block of a set's experiments: circuits as QPY; each one's name, shots, shape and
    parameter names as JSON, read without decoding the QPY; parameter values as npz."""
    meta = [
        {
            "name": e.circuit.name,
            "shots": e.shots,
            "shape": None if e.values is None else list(e.shape),
            "parameters": e.parameter_names if e.values is not None else [],
        }
        for e in experiments
    ]
    values = {f"e{i}": e.values for i, e in enumerate(experiments) if e.values is not None}
    return (
        circuits_to_qpy([e.circuit for e in experiments]),
        to_json(meta),
        arrays_to_npz(values) if values else None,
    )


@dataclass(frozen=True, slots=True)
class ExperimentMeta:
    """What the store keeps of an experiment besides its circuit."""

    name: str
    shots: int | None
    values: np.ndarray[Any, np.dtype[np.float64]] | None
    parameter_names: list[str]


def block_meta_from_row(
    text: str, blob: bytes | None, first: int, last: int, where: str
) -> list[ExperimentMeta]:
    rows = json.loads(text)
    if not isinstance(rows, list) or len(rows) != last - first + 1:
        raise StoreError(f"{where}: the stored block of experiments {first}-{last} is malformed")
    values = arrays_from_npz(blob, where) if blob is not None else {}
    metas = []
    for offset, row in enumerate(rows):
        index = first + offset
        if not isinstance(row, dict) or not isinstance(row.get("name"), str):
            raise StoreError(f"{where}: experiment {index} is malformed")
        shots, shape, names = row.get("shots"), row.get("shape"), row.get("parameters")
        if shots is not None and (not isinstance(shots, int) or shots <= 0):
            raise StoreError(f"{where}: experiment {index} has malformed shots {shots!r}")
        if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
            raise StoreError(f"{where}: experiment {index} has malformed parameter names")
        array = values.get(f"e{offset}") if shape is not None else None
        if shape is not None and (
            array is None or array.dtype != np.float64 or list(array.shape) != [*shape, len(names)]
        ):
            raise StoreError(f"{where}: the stored values of experiment {index} are malformed")
        metas.append(ExperimentMeta(row["name"], shots, array, names))
    return metas


_PLAN_COLUMNS = 6  # start, end, shots, then the point slice (experiment, first, last); -1: none


def plan_to_npz(chunks: Sequence[ManagedJob]) -> bytes:
    """Every chunk's place in the set, so a set whose chunk rows are not written yet (or never
    were: the process died first) still has its chunks."""
    plan = np.full((len(chunks), _PLAN_COLUMNS), -1, dtype=np.int64)
    for row, chunk in zip(plan, chunks, strict=True):
        row[0], row[1] = chunk.start_index, chunk.end_index
        if chunk.shots is not None:
            row[2] = chunk.shots
        if chunk.points is not None:
            row[3:6] = chunk.points
    return arrays_to_npz({"plan": plan})


def plan_from_npz(blob: bytes, where: str) -> list[ManagedJob]:
    plan = arrays_from_npz(blob, where).get("plan")
    if plan is None or plan.dtype != np.int64 or plan.ndim != 2 or plan.shape[1] != _PLAN_COLUMNS:
        raise StoreError(f"{where}: the stored chunk plan is malformed")
    chunks = []
    for index, (start, end, shots, experiment, first, last) in enumerate(plan.tolist()):
        chunks.append(
            ManagedJob(
                index=index,
                start_index=start,
                end_index=end,
                shots=None if shots < 0 else shots,
                points=None if experiment < 0 else (experiment, first, last),
            )
        )
    return chunks
