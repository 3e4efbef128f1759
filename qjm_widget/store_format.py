"""How the store writes what it keeps: results as JSON, circuits as QPY; reading runs no code."""

from __future__ import annotations

import io
import json
from collections.abc import Sequence
from typing import Any

from qiskit import QuantumCircuit, qpy
from qiskit.result.models import ExperimentResult, ExperimentResultData

from .backends.sampler import result_header
from .counts import header_dict
from .exceptions import JobManagerError


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
