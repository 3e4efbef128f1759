"""Adapter for any SamplerV2: qiskit's StatevectorSampler, Aer's and qiskit-ibm-runtime's."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import cached_property
from typing import Any

from qiskit import QuantumCircuit
from qiskit.primitives import BaseSamplerV2

from ..exceptions import JobManagerInvalidInputError
from ..outcomes import SliceResult, pub_slice_result
from ..workload import Slice
from .backend_v2 import LOCAL_POLL_INTERVAL
from .base import BackendAdapter, Capabilities
from .isa import check_isa

SAMPLER_RUN_OPTIONS = frozenset({"shots", "memory"})


def pubs_of(slices: Sequence[Slice], circuits: Sequence[QuantumCircuit]) -> list[tuple[Any, ...]]:
    """The PUBs of one job: each slice's (prepared) circuit, with its points' values."""
    return [
        (circuit, s.experiment.point_values(s.first, s.last))
        if s.experiment.parameterized
        else (circuit,)
        for s, circuit in zip(slices, circuits, strict=True)
    ]


def pub_results_of(
    result: Any, slices: Sequence[Slice], run_config: Mapping[str, Any]
) -> list[SliceResult]:
    pub_results = list(result)
    if len(pub_results) != len(slices):
        raise RuntimeError(
            f"the sampler returned {len(pub_results)} results for {len(slices)} PUBs"
        )
    memory = bool(run_config.get("memory", False))
    return [
        pub_slice_result(p, s.circuit, s.num_points, memory)
        for p, s in zip(pub_results, slices, strict=True)
    ]


class SamplerAdapter(BackendAdapter):
    backend: BaseSamplerV2

    @property
    def _target_backend(self) -> Any:
        mode = getattr(self.backend, "mode", None)
        return mode if hasattr(mode, "num_qubits") else getattr(self.backend, "_backend", None)

    @property
    def name(self) -> str:
        target = self._target_backend
        inner = getattr(target, "name", None)
        kind = type(self.backend).__name__
        return f"{kind}({inner})" if isinstance(inner, str) else kind

    @cached_property
    def capabilities(self) -> Capabilities:
        max_qubits = getattr(self._target_backend, "num_qubits", None)
        return Capabilities(
            max_experiments_per_job=None,
            max_qubits=max_qubits if isinstance(max_qubits, int) else None,
            takes_tags=False,
            takes_names=False,
            can_cancel=True,
            cannot_cancel_reason="local primitive jobs start at once and cannot be stopped",
            poll_interval=LOCAL_POLL_INTERVAL,
            run_options=SAMPLER_RUN_OPTIONS,
        )

    def default_shots(self) -> int | None:
        shots = getattr(self.backend, "default_shots", None)
        if shots is None:
            options = getattr(self.backend, "options", None)
            shots = getattr(options, "default_shots", None)
        return shots if isinstance(shots, int) and shots > 0 else None

    def validate(self, circuits: Sequence[QuantumCircuit], run_config: Mapping[str, Any]) -> None:
        for index, circuit in enumerate(circuits):
            if not circuit.cregs:
                raise JobManagerInvalidInputError(
                    f"experiment {index} ({circuit.name!r}) has no classical register: a sampler "
                    "returns only measured registers; add measurements (e.g. measure_all())"
                )
        target = self._target_backend
        if self.transpiles and getattr(target, "target", None) is None:
            raise JobManagerInvalidInputError(
                f"transpile=True needs a backend to transpile for; {self.name} has none"
            )
        if not self.transpiles and type(self.backend).__module__.startswith("qiskit_ibm_runtime"):
            check_isa(circuits, target)  # runtime samplers refuse non-ISA circuits at run()

    def submit(
        self,
        slices: Sequence[Slice],
        *,
        shots: int | None,
        run_config: Mapping[str, Any],
        name: str,
        tags: Sequence[str],
        job_number: int,
    ) -> Any:
        pubs = pubs_of(slices, self.prepare([s.circuit for s in slices]))
        return self.backend.run(pubs, shots=shots)

    def fetch(
        self, job: Any, slices: Sequence[Slice], run_config: Mapping[str, Any]
    ) -> list[SliceResult]:
        return pub_results_of(job.result(), slices, run_config)
