"""Backend adapters: the only code that knows BackendV2 from SamplerV2."""

from __future__ import annotations

from typing import Any

from qiskit.primitives import BaseSamplerV2
from qiskit.providers import BackendV2

from ..exceptions import JobManagerInvalidInputError
from .backend_v2 import BackendV2Adapter
from .base import BackendAdapter, CancelOutcome, Capabilities, describe_exception
from .dask import DaskAdapter, aer_executor
from .runtime import RuntimeAdapter, is_cloud_backend, is_cloud_sampler
from .sampler import SamplerAdapter

__all__ = [
    "BackendAdapter",
    "BackendV2Adapter",
    "CancelOutcome",
    "Capabilities",
    "DaskAdapter",
    "RuntimeAdapter",
    "SamplerAdapter",
    "adapter_for",
    "describe_exception",
]


def adapter_for(
    backend: Any,
    *,
    execution_mode: str | None = None,
    transpile: bool = False,
    executor: Any = None,
) -> BackendAdapter:
    """The adapter for ``backend``; a clear error for anything but a BackendV2 or SamplerV2.

    ``execution_mode`` (batch, session, job) applies to IBM Quantum cloud backends only.
    ``executor``, a Dask ``distributed.Client`` (or the one in an AerSimulator's ``executor``
    option), runs each chunk as a task on its cluster.
    """
    if isinstance(backend, BackendAdapter):
        return backend
    if executor is None:
        executor = aer_executor(backend)
    if executor is not None:
        if execution_mode is not None:
            raise JobManagerInvalidInputError(
                "execution_mode applies to IBM Quantum backends only, not to a set on Dask"
            )
        return DaskAdapter(backend, executor, transpile=transpile)
    cloud = is_cloud_backend(backend) or is_cloud_sampler(backend)
    if execution_mode is not None and not cloud:
        raise JobManagerInvalidInputError(
            "execution_mode applies to IBM Quantum backends from QiskitRuntimeService only; "
            f"{type(backend).__name__} runs its jobs by itself"
        )
    if cloud:
        return RuntimeAdapter(backend, execution_mode=execution_mode, transpile=transpile)
    if isinstance(backend, BackendV2):
        return BackendV2Adapter(backend, transpile=transpile)
    if isinstance(backend, BaseSamplerV2):
        return SamplerAdapter(backend, transpile=transpile)
    kind = f"{type(backend).__module__}.{type(backend).__qualname__}"
    if type(backend).__name__ == "BackendV1" or any(
        cls.__name__ == "BackendV1" for cls in type(backend).__mro__
    ):
        hint = "BackendV1 is not supported: wrap it with qiskit.providers.BackendV2Converter"
    elif any(cls.__name__ in ("BaseSamplerV1", "BaseSampler") for cls in type(backend).__mro__):
        hint = "SamplerV1 is not supported: use a SamplerV2 (e.g. StatevectorSampler)"
    else:
        hint = "pass a qiskit BackendV2 (e.g. AerSimulator()) or a SamplerV2"
    raise JobManagerInvalidInputError(
        f"backend must be a BackendV2 or a SamplerV2, got {kind}; {hint}"
    )
