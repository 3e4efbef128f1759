"""qiskit-ibm-runtime's executor-based Sampler (``qiskit_ibm_runtime.executor_sampler``).

From 0.50 the client's Sampler turns PUBs into a quantum program on the client and sends it to
IBM's ``executor`` program; the answer is post-processed back into a PrimitiveResult by the
client when the job's result is read. The legacy ``SamplerV2`` (the ``sampler`` program) is
deprecated there; clients from 0.37 to 0.49 have only that one.
"""

from __future__ import annotations

import importlib
import logging
import sys
from collections.abc import Mapping
from typing import Any

from qiskit import QuantumCircuit

logger = logging.getLogger(__name__)

MODULE = "qiskit_ibm_runtime.executor_sampler"
PROGRAM_ID = "executor"


def sampler_class() -> Any:
    """The executor-based Sampler class, or None where the installed client has none."""
    try:
        return importlib.import_module(MODULE).Sampler
    except ImportError:
        return None


def is_executor_sampler(sampler: Any) -> bool:
    # Read from sys.modules: a user who holds one has imported it, and nobody else should pay
    # for importing it (it brings samplomatic along).
    module = sys.modules.get(MODULE)
    return module is not None and isinstance(sampler, module.Sampler)


def program_circuits(inputs: Mapping[str, Any]) -> list[QuantumCircuit] | None:
    """The circuits of an executor job, one per PUB, from its inputs; None where they cannot be
    told (a schema this client does not read, or twirled items, whose circuits are templates
    and not the PUBs' circuits)."""
    try:
        from qiskit_ibm_runtime.quantum_program import CircuitItem
    except ImportError:
        return None
    program = inputs.get("quantum_program")
    if isinstance(program, Mapping):
        program = _decode(inputs)
    items = getattr(program, "items", None)
    if not isinstance(items, list) or not all(isinstance(item, CircuitItem) for item in items):
        return None
    circuits = [item.circuit for item in items]
    # The client moved each circuit's metadata into the passthrough data before sending it.
    passthrough = getattr(program, "passthrough_data", None)
    processor = passthrough.get("post_processor") if isinstance(passthrough, dict) else None
    metadata = processor.get("circuits_metadata") if isinstance(processor, dict) else None
    if isinstance(metadata, list) and len(metadata) == len(circuits):
        for circuit, found in zip(circuits, metadata, strict=True):
            if isinstance(found, dict) and found:
                circuit.metadata = found
    return circuits


def _decode(inputs: Mapping[str, Any]) -> Any:
    """The quantum program of raw executor inputs, read with the client's own schema model and
    decoder. Its RuntimeDecoder already does this when it reads a job; it leaves the inputs raw
    (with a warning) where it could not."""
    try:
        from qiskit_ibm_runtime.quantum_program.params_converters import (
            QUANTUM_PROGRAM_PARAMS_CONVERTERS,
        )
    except ImportError:
        return None
    version = inputs.get("schema_version")
    converter = QUANTUM_PROGRAM_PARAMS_CONVERTERS.get(str(version))
    if converter is None:
        logger.info("executor inputs of schema %s are unknown to this client", version)
        return None
    try:
        program, _ = converter.decoder(converter.model.model_validate(dict(inputs)))
    except Exception as exc:
        logger.info("the executor inputs could not be decoded: %s", exc)
        return None
    return program
