"""One chunk as a Dask task, both ends of the wire: what the client sends (the circuits as QPY
bytes, each slice's parameter values, shots and run options) and what a worker sends back
(counts, memory and bit arrays as dicts and numpy arrays; never a pickled qiskit Result, whose
classes change between qiskit versions and which carries far more than the set keeps).

The worker runs the chunk through the same local adapter the job manager uses without Dask,
so binding, PUBs and result cutting behave the same on both paths.
"""

from __future__ import annotations

import io
import time
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from qiskit import QuantumCircuit, qpy
from qiskit.primitives import BaseSamplerV2
from qiskit.primitives.containers import BitArray
from qiskit.result.models import ExperimentResult, ExperimentResultData

from ..outcomes import PubSliceResult, SliceResult, result_header, slice_results_of_circuits
from ..workload import Experiment, Slice

SliceSpec = tuple[Any, int | None]
"""A slice on the wire: its points' values (``(points, parameters)`` floats, or None for a
bound circuit) and the experiment's own shots (None: the chunk's)."""


def to_qpy(circuits: Sequence[QuantumCircuit]) -> bytes:
    buffer = io.BytesIO()
    qpy.dump(list(circuits), buffer)
    return buffer.getvalue()


def slice_specs(slices: Sequence[Slice]) -> list[SliceSpec]:
    """Only the points of each slice travel, not the whole sweep of its experiment."""
    return [
        (
            s.experiment.point_values(s.first, s.last) if s.experiment.parameterized else None,
            s.experiment.shots,
        )
        for s in slices
    ]


_DROP = object()


def _plain(value: Any) -> Any:
    """``value`` with only JSON types (and numpy scalars made Python ones); others dropped."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, list | tuple):
        return [v for v in map(_plain, value) if v is not _DROP]
    if isinstance(value, Mapping):
        kept = {str(k): _plain(v) for k, v in value.items()}
        return {k: v for k, v in kept.items() if v is not _DROP}
    return _DROP


def _header(raw: Any) -> dict[str, Any]:
    fields = raw if isinstance(raw, Mapping) else getattr(raw, "to_dict", lambda: {})()
    header = _plain(fields)
    return header if isinstance(header, dict) else {}


def _encode(result: SliceResult) -> dict[str, Any]:
    if isinstance(result, PubSliceResult):
        return {
            "registers": {
                name: (np.ascontiguousarray(bits.array), bits.num_bits)
                for name, bits in result.registers.items()
            },
            "metadata": _plain(result.metadata),
            "header": _header(result.header),
            "memory": result.memory,
        }
    points = []
    for offset in range(result.num_points):
        experiment = result.experiment_result(offset)
        data = experiment.data
        point: dict[str, Any] = {
            "shots": _plain(experiment.shots),
            "success": bool(experiment.success),
            "status": None if experiment.status is None else str(experiment.status),
            "header": _header(experiment.header),
        }
        counts = getattr(data, "counts", None)
        if counts is not None:
            point["counts"] = {str(k): int(v) for k, v in dict(counts).items()}
        memory = getattr(data, "memory", None)
        if memory is not None:
            point["memory"] = [str(m) for m in memory]
        points.append(point)
    return {"points": points}


def decode(payload: Mapping[str, Any]) -> list[SliceResult]:
    """The SliceResults of a finished task's payload, one per slice: a sampler's PUB results,
    or a BackendV2 job's results cut as the job made them."""
    items = payload["results"]
    if any("registers" in item for item in items):
        return [_pub_result(item) for item in items]
    experiments = [_experiment_result(point) for item in items for point in item["points"]]
    return slice_results_of_circuits(experiments, [len(item["points"]) for item in items])


def _pub_result(item: Mapping[str, Any]) -> PubSliceResult:
    registers = {
        name: BitArray(np.asarray(array, dtype=np.uint8), int(num_bits))
        for name, (array, num_bits) in item["registers"].items()
    }
    return PubSliceResult(registers, item["metadata"], item["header"], item["memory"])


def _experiment_result(point: Mapping[str, Any]) -> ExperimentResult:
    data = {k: point[k] for k in ("counts", "memory") if k in point}
    return ExperimentResult(
        shots=point["shots"],
        success=point["success"],
        data=ExperimentResultData(**data),
        header=result_header(point["header"]),
        status=point["status"],
    )


def _worker_address() -> str | None:
    """The address of the Dask worker running this task; None outside one."""
    try:
        from distributed import get_worker

        return str(get_worker().address)
    except (ImportError, ValueError):
        return None


def run_chunk(
    description: Mapping[str, Any],
    circuits_qpy: bytes,
    specs: Sequence[SliceSpec],
    shots: int | None,
    run_config: Mapping[str, Any],
    transpile: bool,
) -> dict[str, Any]:
    """The task a worker runs for one chunk: rebuild the backend, run the slices, send back
    plain data (see :func:`decode`)."""
    from . import BackendV2Adapter, SamplerAdapter  # the worker needs no Dask to run this
    from .shipping import rebuild

    started = time.perf_counter()
    backend = rebuild(description)
    circuits = qpy.load(io.BytesIO(circuits_qpy))
    slices = []
    for index, (circuit, (values, experiment_shots)) in enumerate(
        zip(circuits, specs, strict=True)
    ):
        points = None if values is None else np.asarray(values, dtype=np.float64)
        experiment = Experiment(circuit, points, experiment_shots)
        slices.append(Slice(index, experiment, 0, experiment.num_points - 1))
    adapter = (
        SamplerAdapter(backend, transpile=transpile)
        if isinstance(backend, BaseSamplerV2)
        else BackendV2Adapter(backend, transpile=transpile)
    )
    job = adapter.submit(slices, shots=shots, run_config=run_config, name="", tags=(), job_number=1)
    results = adapter.fetch(job, slices, run_config)
    return {
        "worker": _worker_address(),
        "seconds": time.perf_counter() - started,
        "results": [_encode(r) for r in results],
    }
