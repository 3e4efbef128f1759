"""ISA circuits: IBM hardware and runtime primitives run only circuits already in the backend's
instruction set on its physical qubits. We check before anything is submitted, or transpile
each chunk just before its submission when the user asks for it."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from qiskit import QuantumCircuit
from qiskit.transpiler.preset_passmanagers import generate_preset_pass_manager

from ..exceptions import JobManagerInvalidInputError

_SHOWN = 3


def _problem(circuit: QuantumCircuit, target: Any) -> str:
    if circuit.num_qubits > target.num_qubits:
        return f"it has {circuit.num_qubits} qubits, the backend {target.num_qubits}"
    qubits = {qubit: index for index, qubit in enumerate(circuit.qubits)}
    for instruction in circuit.data:
        operation = instruction.operation
        name = operation.name
        if name == "barrier" or getattr(operation, "blocks", None):
            continue  # control flow is checked by the backend itself
        physical = tuple(qubits[q] for q in instruction.qubits)
        if not target.instruction_supported(name, physical):
            where = ", ".join(str(q) for q in physical)
            return f"{name!r} on qubit(s) {where} is not in the backend's instruction set"
    return ""


def check_isa(circuits: Sequence[QuantumCircuit], backend: Any) -> None:
    """Raise JobManagerInvalidInputError naming the circuits that are not ISA for ``backend``."""
    target = getattr(backend, "target", None)
    if target is None:
        return
    bad = [(i, c, p) for i, c in enumerate(circuits) if (p := _problem(c, target))]
    if not bad:
        return
    shown = "; ".join(f"experiment {i} ({c.name!r}): {p}" for i, c, p in bad[:_SHOWN])
    more = f" (and {len(bad) - _SHOWN} more)" if len(bad) > _SHOWN else ""
    raise JobManagerInvalidInputError(
        f"{len(bad)} circuit(s) are not ISA circuits for {backend.name}: {shown}{more}. "
        "Transpile them for the backend first (generate_preset_pass_manager(backend=backend)"
        ".run(circuits)), or pass transpile=True to run() to have each job transpiled."
    )


def pass_manager_for(backend: Any) -> Any:
    """The pass manager that makes circuits ISA for ``backend`` (level 1, like IBM's examples)."""
    return generate_preset_pass_manager(optimization_level=1, backend=backend)
