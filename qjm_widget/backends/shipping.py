"""A backend as plain data that a Dask worker rebuilds: what can be shipped, and how.

A description holds only JSON types, so it travels to workers with each task and is kept in
the store, where ``retrieve_job_set(id, executor=client)`` rebuilds the backend of a set for
its retries. Options are described as they differ from a fresh backend of the same kind, which
keeps a description a few hundred bytes (a device noise model is rebuilt by
``AerSimulator.from_backend`` on the worker, not shipped, unless the user replaced it).

Shipped: AerSimulator (its options, a noise model as ``NoiseModel.to_dict``, a configuration
from a fake backend through ``AerSimulator.from_backend``), BasicSimulator, the fake backends of
qiskit-ibm-runtime, StatevectorSampler and qiskit-aer's SamplerV2. Anything else is refused
with words before a set starts: a remote backend (IBM Quantum) already runs in its own cloud.
"""

from __future__ import annotations

import importlib
import json
import threading
import warnings
from collections import OrderedDict
from collections.abc import Mapping
from typing import Any

from ..exceptions import JobManagerInvalidInputError
from .runtime import is_cloud_backend, is_cloud_sampler

Description = dict[str, Any]

_FAKE_PROVIDER = "qiskit_ibm_runtime.fake_provider"
_warnings_lock = threading.Lock()
_FROM_PREFIX = "aer_simulator_from("
# Options that are no part of how a job runs: where Aer once sent its jobs, and how it split them.
_NOT_SHIPPED = frozenset({"executor", "max_job_size", "noise_model"})
_SHIPPABLE = (
    "AerSimulator, BasicSimulator, a fake backend of qiskit_ibm_runtime.fake_provider, "
    "StatevectorSampler or qiskit_aer's SamplerV2"
)


def _kind(obj: Any) -> str:
    return f"{type(obj).__module__}.{type(obj).__qualname__}"


def _is(obj: Any, module: str, name: str) -> bool:
    return any(c.__name__ == name and c.__module__.startswith(module) for c in type(obj).__mro__)


def _plain(value: Any) -> bool:
    if value is None or isinstance(value, bool | int | float | str):
        return True
    if isinstance(value, list | tuple):
        return all(_plain(v) for v in value)
    if isinstance(value, dict):
        return all(isinstance(k, str) and _plain(v) for k, v in value.items())
    return False


def _option_diff(backend: Any, fresh: Any, what: str) -> dict[str, Any]:
    """The options of ``backend`` that differ from those of ``fresh``, checked plain."""
    changed: dict[str, Any] = {}
    for name in backend.options._fields:
        if name in _NOT_SHIPPED:
            continue
        value = getattr(backend.options, name)
        if value == getattr(fresh.options, name, None):
            continue
        if not _plain(value):
            raise JobManagerInvalidInputError(
                f"option {name!r} of {what} holds a {type(value).__name__}, which cannot be "
                "sent to Dask workers: set it to plain numbers, strings or lists, or run the "
                "set without executor="
            )
        changed[name] = list(value) if isinstance(value, tuple) else value
    return changed


def _fake_class(backend_name: str) -> type | None:
    """The fake backend class of qiskit-ibm-runtime called ``backend_name`` (fake_manila)."""
    try:
        provider = importlib.import_module(_FAKE_PROVIDER)
    except ImportError:
        return None
    for attr in dir(provider):
        cls = getattr(provider, attr)
        if (
            isinstance(cls, type)
            and attr.startswith("Fake")
            and getattr(cls, "backend_name", None) == backend_name
        ):
            return cls
    return None


def _class_path(cls: type) -> str:
    return f"{cls.__module__}:{cls.__qualname__}"


def _load_class(path: str) -> Any:
    module, _, name = path.partition(":")
    if not module.startswith(_FAKE_PROVIDER):
        raise JobManagerInvalidInputError(f"{path} is not a fake backend of {_FAKE_PROVIDER}")
    return getattr(importlib.import_module(module), name)


def _describe_aer(backend: Any) -> Description:
    from qiskit_aer import AerSimulator

    name = str(backend.name)
    source = None
    if name.startswith(_FROM_PREFIX):
        fake = _fake_class(name[len(_FROM_PREFIX) : -1])
        if fake is None:
            raise JobManagerInvalidInputError(
                f"{name} was made by AerSimulator.from_backend from a backend that Dask workers "
                f"cannot rebuild: only the fake backends of {_FAKE_PROVIDER} can be shipped"
            )
        source = _class_path(fake)
        fresh = AerSimulator.from_backend(fake())
    else:
        fresh = AerSimulator()
    noise = backend.options.noise_model
    fresh_noise = fresh.options.noise_model
    same_noise = (noise is None and fresh_noise is None) or (
        noise is not None and fresh_noise is not None and noise == fresh_noise
    )
    return {
        "kind": "aer_simulator",
        "from_backend": source,
        "options": _option_diff(backend, fresh, name),
        "noise_model": None if same_noise else _noise_dict(noise),
        "ideal": noise is None and fresh_noise is not None,
    }


def _noise_dict(noise: Any) -> dict[str, Any] | None:
    if noise is None:
        return None
    # Through JSON: the store keeps the description as JSON, and the worker must get the same.
    plain: dict[str, Any] = json.loads(json.dumps(noise.to_dict(serializable=True)))
    return plain


def _complex_matrices(noise: Mapping[str, Any]) -> dict[str, Any]:
    """``noise`` with its matrices complex again. ``to_dict(serializable=True)`` writes each
    complex entry as [re, im], which ``from_dict`` cannot read back; and a noise model that
    ``from_dict`` made holds its Pauli errors as such unitaries."""
    import numpy as np

    def matrix(param: Any) -> Any:
        array = np.asarray(param) if isinstance(param, list) else None
        if array is None or array.ndim != 3 or array.shape[-1] != 2 or array.dtype.kind not in "if":
            return param
        return array[..., 0] + 1j * array[..., 1]

    errors = []
    for error in noise.get("errors", []):
        error = dict(error)
        if "instructions" in error:
            error["instructions"] = [
                [
                    {**step, "params": [matrix(p) for p in step["params"]]}
                    if isinstance(step.get("params"), list)
                    else step
                    for step in instruction
                ]
                for instruction in error["instructions"]
            ]
        errors.append(error)
    return {**noise, "errors": errors}


def describe(backend: Any) -> Description:
    """``backend`` as plain data that :func:`rebuild` turns into an equal backend.

    Raises:
        JobManagerInvalidInputError: for a backend that cannot be shipped to Dask workers.
    """
    remote = type(backend).__module__.startswith("qiskit_ibm_provider")
    if remote or is_cloud_backend(backend) or is_cloud_sampler(backend):
        raise JobManagerInvalidInputError(
            f"{_kind(backend)} runs its jobs on IBM Quantum, whose cloud is its own scale-out: "
            "run the set without executor= (Dask workers run simulators only)"
        )
    if _is(backend, "qiskit_aer", "AerSimulator"):
        return _describe_aer(backend)
    if _is(backend, "qiskit.providers.basic_provider", "BasicSimulator"):
        from qiskit.providers.basic_provider import BasicSimulator

        return {
            "kind": "basic_simulator",
            "options": _option_diff(backend, BasicSimulator(), "BasicSimulator"),
        }
    if type(backend).__module__.startswith(_FAKE_PROVIDER) and type(backend).__name__.startswith(
        "Fake"
    ):
        cls = type(backend)
        return {
            "kind": "fake_backend",
            "class": _class_path(cls),
            "options": _option_diff(backend, cls(), cls.__name__),
        }
    if _is(backend, "qiskit.primitives", "StatevectorSampler"):
        seed = backend.seed
        if not (seed is None or isinstance(seed, int)):
            raise JobManagerInvalidInputError(
                f"StatevectorSampler(seed=...) holds a {type(seed).__name__}; Dask workers can "
                "rebuild it with an int seed or none"
            )
        return {"kind": "statevector_sampler", "default_shots": backend.default_shots, "seed": seed}
    if _is(backend, "qiskit_aer.primitives", "SamplerV2"):
        run_options = dict(backend.options.run_options or {})
        if not _plain(run_options) or not (backend.seed is None or isinstance(backend.seed, int)):
            raise JobManagerInvalidInputError(
                "qiskit_aer's SamplerV2 holds run options or a seed that are not plain data; "
                "Dask workers cannot rebuild it"
            )
        return {
            "kind": "aer_sampler",
            "default_shots": backend.default_shots,
            "seed": backend.seed,
            "run_options": run_options,
            "simulator": _describe_aer(backend._backend),
        }
    raise JobManagerInvalidInputError(
        f"a {_kind(backend)} cannot be sent to Dask workers: pass {_SHIPPABLE}, or run the set "
        "without executor="
    )


def _rebuild_aer(description: Mapping[str, Any]) -> Any:
    from qiskit_aer import AerSimulator
    from qiskit_aer.noise import NoiseModel

    options = dict(description.get("options") or {})
    noise = description.get("noise_model")
    if noise is not None:
        # Aer deprecates from_dict (0.15) but has nothing else that reads a noise model from
        # plain data. catch_warnings swaps the process's filters: one rebuild at a time.
        with _warnings_lock, warnings.catch_warnings():
            warnings.filterwarnings("ignore", "from_dict has been deprecated", DeprecationWarning)
            options["noise_model"] = NoiseModel.from_dict(_complex_matrices(noise))
    elif description.get("ideal"):
        options["noise_model"] = None
    source = description.get("from_backend")
    if source:
        return AerSimulator.from_backend(_load_class(source)(), **options)
    return AerSimulator(**options)


def _build(description: Mapping[str, Any]) -> Any:
    kind = description.get("kind")
    if kind == "aer_simulator":
        return _rebuild_aer(description)
    if kind == "basic_simulator":
        from qiskit.providers.basic_provider import BasicSimulator

        simulator = BasicSimulator()
        simulator.set_options(**(description.get("options") or {}))
        return simulator
    if kind == "fake_backend":
        fake = _load_class(str(description["class"]))()
        if description.get("options"):
            fake.set_options(**description["options"])
        return fake
    if kind == "statevector_sampler":
        from qiskit.primitives import StatevectorSampler

        return StatevectorSampler(
            default_shots=description["default_shots"], seed=description.get("seed")
        )
    if kind == "aer_sampler":
        from qiskit_aer.primitives import SamplerV2

        return SamplerV2.from_backend(
            _rebuild_aer(description["simulator"]),
            default_shots=description["default_shots"],
            seed=description.get("seed"),
            options={"run_options": dict(description.get("run_options") or {})},
        )
    raise JobManagerInvalidInputError(f"no backend of kind {kind!r} can be rebuilt")


_CACHE_SIZE = 8
_cache: OrderedDict[str, Any] = OrderedDict()
_cache_lock = threading.Lock()


def rebuild(description: Mapping[str, Any]) -> Any:
    """The backend ``description`` stands for. A worker process keeps the last few it built:
    a fake device's simulator takes longer to build than a small chunk takes to run."""
    key = json.dumps(description, sort_keys=True)
    with _cache_lock:
        backend = _cache.get(key)
        if backend is not None:
            _cache.move_to_end(key)
            return backend
    backend = _build(description)
    with _cache_lock:
        backend = _cache.setdefault(key, backend)
        while len(_cache) > _CACHE_SIZE:
            _cache.popitem(last=False)
    return backend
