"""Checks on run() arguments: every bad input is refused before anything is submitted."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from qiskit import QuantumCircuit

from .backends import BackendAdapter
from .exceptions import JobManagerInvalidInputError

SHARE_LEVELS = ("global", "hub", "group", "project", "none")


def positive_int(name: str, value: object, *, optional: bool = True) -> int | None:
    if value is None and optional:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise JobManagerInvalidInputError(f"{name} must be a positive int, got {value!r}")
    return value


def timeout_seconds(timeout: object) -> float | None:
    if timeout is None:
        return None
    if isinstance(timeout, bool) or not isinstance(timeout, int | float) or not timeout >= 0:
        raise JobManagerInvalidInputError(
            f"timeout must be a number of seconds >= 0 or None, got {timeout!r}"
        )
    return float(timeout)


def string_list(name: str, value: object) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str) or not isinstance(value, list | tuple):
        raise JobManagerInvalidInputError(
            f"{name} must be a list of strings, got {type(value).__name__}"
        )
    bad = [item for item in value if not isinstance(item, str)]
    if bad:
        raise JobManagerInvalidInputError(f"{name} must hold only strings, got {bad[0]!r}")
    return list(value)


def share_level(value: object) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or value.lower() not in SHARE_LEVELS:
        raise JobManagerInvalidInputError(
            f"job_share_level must be one of {', '.join(SHARE_LEVELS)}, got {value!r}"
        )
    return value.lower()


def fits_executions(
    max_executions_per_job: int | None,
    shots: Sequence[int | None],
    max_shots_per_job: int | None,
) -> None:
    """Every experiment's point, at the shots one job runs of it, fits in one job."""
    if max_executions_per_job is None:
        return
    for index, experiment_shots in enumerate(shots):
        if experiment_shots is None:
            continue
        per_job = min(experiment_shots, max_shots_per_job or experiment_shots)
        if per_job > max_executions_per_job:
            raise JobManagerInvalidInputError(
                f"max_executions_per_job is {max_executions_per_job}, fewer than the {per_job} "
                f"shots of one point of experiment {index}: raise it, or split the shots with "
                f"max_shots_per_job={max_executions_per_job}"
            )


def circuits_fit(adapter: BackendAdapter, circuits: Sequence[QuantumCircuit]) -> None:
    width = adapter.capabilities.max_qubits
    if width is None:
        return
    for index, circuit in enumerate(circuits):
        if circuit.num_qubits > width:
            raise JobManagerInvalidInputError(
                f"experiment {index} ({circuit.name!r}) has {circuit.num_qubits} qubits; "
                f"{adapter.name} has {width}"
            )


def run_config(adapter: BackendAdapter, config: Mapping[str, Any]) -> dict[str, Any]:
    accepted = adapter.capabilities.run_options
    if accepted is not None:
        unknown = sorted(set(config) - accepted)
        if unknown:
            raise JobManagerInvalidInputError(
                f"{adapter.name} does not take run option(s) {', '.join(unknown)}; "
                f"it takes {', '.join(sorted(accepted))}"
            )
    result = dict(config)
    if "shots" in result:
        result["shots"] = positive_int("shots", result["shots"])
    return result
