"""The unit of work: what one experiment is (a circuit, and the parameter points it stands for)
and what a chunk holds (whole experiments, or a slice of one experiment's points).

An experiment given as a bound circuit is one point. A circuit with ``parameter_binds`` (the
BackendV2 way) or a PUB with parameter values (the SamplerV2 way) stands for every point of its
values, in flattened C order. Planning, adapters, results, the store and the widget all read
points and executions from here.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from qiskit import QuantumCircuit
from qiskit.circuit import Parameter
from qiskit.primitives.containers.sampler_pub import SamplerPub

from .exceptions import JobManagerInvalidInputError

Loc = int | tuple[int, ...]


@dataclass(eq=False)
class Experiment:
    """One experiment of a set: a circuit and, where it has parameters, the points to run.

    Read-only by contract, not frozen: a frozen dataclass costs twice as much to build, and
    ``run()`` builds one per circuit (100,000 of them must take well under 0.2 s)."""

    circuit: QuantumCircuit
    values: np.ndarray[Any, np.dtype[np.float64]] | None = None
    """Shape ``(*shape, num_parameters)``, in ``circuit.parameters`` order; None: bound."""
    shots: int | None = None
    """The PUB's own shots; None runs the set's shots."""

    @property
    def parameterized(self) -> bool:
        return self.values is not None

    @property
    def shape(self) -> tuple[int, ...]:
        """Shape of the points: ``()`` for a bound circuit, ``(k,)`` for ``parameter_binds``."""
        return () if self.values is None else tuple(self.values.shape[:-1])

    @property
    def num_points(self) -> int:
        # Read for every experiment in run(): a bound circuit's answer without the shape's.
        return 1 if self.values is None else math.prod(self.shape)

    @property
    def parameters(self) -> list[Parameter]:
        return list(self.circuit.parameters)

    @property
    def name(self) -> str:
        return str(self.circuit.name)

    @property
    def parameter_names(self) -> list[str]:
        return [p.name for p in self.circuit.parameters]

    def is_circuit(self, candidate: object) -> bool:
        """True when ``candidate`` is this experiment's circuit object itself."""
        return self.circuit is candidate

    def point_values(self, first: int, last: int) -> np.ndarray[Any, np.dtype[np.float64]]:
        """Values of points ``first..last`` (inclusive, flattened C order): ``(n, P)``."""
        assert self.values is not None
        flat = self.values.reshape(-1, self.values.shape[-1])
        return flat[first : last + 1]

    def binds(self, first: int, last: int) -> dict[Parameter, list[float]]:
        """The ``parameter_binds`` entry of points ``first..last``, as Aer takes it."""
        if self.values is None:
            return {}
        values = self.point_values(first, last)
        return {p: values[:, i].tolist() for i, p in enumerate(self.parameters)}

    def bound_circuits(
        self, first: int, last: int, circuit: QuantumCircuit | None = None
    ) -> list[QuantumCircuit]:
        """One bound copy of ``circuit`` (the experiment's, or its transpiled form) per point,
        for backends that cannot bind."""
        circuit = self.circuit if circuit is None else circuit
        if self.values is None:
            return [circuit]
        parameters = self.parameters
        return [
            circuit.assign_parameters(dict(zip(parameters, row, strict=True)))
            for row in self.point_values(first, last).tolist()
        ]

    def point_index(self, loc: object) -> int:
        """The flat index of the point ``loc`` (an int or a tuple into ``shape``)."""
        shape = self.shape
        index = loc if isinstance(loc, tuple) else (loc,)
        if not all(isinstance(i, int | np.integer) and not isinstance(i, bool) for i in index):
            raise JobManagerInvalidInputError(
                f"a point is an int or a tuple of ints into the shape {shape}, got {loc!r}"
            )
        if len(shape) <= 1 and len(index) == 1:
            size = shape[0] if shape else 1
            flat = int(index[0])
            if not -size <= flat < size:
                raise JobManagerInvalidInputError(
                    f"point {loc} is out of range: the experiment has {size} point(s)"
                )
            return flat % size
        if len(index) != len(shape) or not all(
            -n <= int(i) < n for i, n in zip(index, shape, strict=True)
        ):
            raise JobManagerInvalidInputError(
                f"point {loc!r} is not an index into the experiment's points, of shape {shape}"
            )
        wrapped = tuple(int(i) % n for i, n in zip(index, shape, strict=True))
        return int(np.ravel_multi_index(wrapped, shape))

    def values_at(self, flat: int) -> dict[str, float]:
        """Each parameter's value at point ``flat``, by parameter name."""
        if self.values is None:
            return {}
        row = self.point_values(flat, flat)[0]
        return {name: float(v) for name, v in zip(self.parameter_names, row, strict=True)}


@dataclass(frozen=True, slots=True)
class Slice:
    """What a chunk holds of one experiment: its points ``first..last`` (inclusive)."""

    index: int
    """The experiment's index in the set."""
    experiment: Experiment
    first: int
    last: int

    @property
    def num_points(self) -> int:
        return self.last - self.first + 1

    @property
    def circuit(self) -> QuantumCircuit:
        return self.experiment.circuit


def slices_of(
    experiments: Sequence[Experiment],
    start_index: int,
    end_index: int,
    points: tuple[int, int, int] | None,
) -> list[Slice]:
    """What a chunk holds: its whole experiments, or the slice of points it was given."""
    if points is not None:
        index, first, last = points
        return [Slice(index, experiments[index], first, last)]
    return [
        Slice(i, experiments[i], 0, experiments[i].num_points - 1)
        for i in range(start_index, end_index + 1)
    ]


# -- from run()'s arguments ----------------------------------------------------------------


def _is_pulse(item: object) -> bool:
    return type(item).__module__.startswith("qiskit.pulse") or type(item).__name__ in (
        "Schedule",
        "ScheduleBlock",
    )


def _numeric(array: np.ndarray[Any, Any], where: str) -> np.ndarray[Any, np.dtype[np.float64]]:
    if array.dtype.kind not in "biuf":
        raise JobManagerInvalidInputError(
            f"{where}: parameter values must be real numbers, got {array.dtype} values"
        )
    values = array.astype(np.float64)
    if not np.isfinite(values).all():
        raise JobManagerInvalidInputError(f"{where}: parameter values must be finite numbers")
    return values


def _unbound(index: int, circuit: QuantumCircuit) -> JobManagerInvalidInputError:
    names = ", ".join(sorted(p.name for p in circuit.parameters)[:5])
    return JobManagerInvalidInputError(
        f"experiment {index} ({circuit.name!r}) has unbound parameters ({names}): bind them "
        "with circuit.assign_parameters(...), pass parameter_binds=[{param: [values]}, ...] "
        "to run() on a backend, or give the experiment as a PUB (circuit, values)"
    )


def _from_pub(index: int, item: Any) -> Experiment:
    where = f"experiment {index}"
    if isinstance(item, tuple | list):
        if not item or not isinstance(item[0], QuantumCircuit):
            raise JobManagerInvalidInputError(
                f"{where} is a {type(item).__name__} whose first item is not a QuantumCircuit; "
                "a PUB is (circuit,), (circuit, values) or (circuit, values, shots)"
            )
        if (len(item) < 2 or item[1] is None) and item[0].num_parameters:
            raise _unbound(index, item[0])
        if len(item) > 2 and item[2] is not None:
            shots = item[2]
            if isinstance(shots, bool) or not isinstance(shots, int | np.integer) or shots <= 0:
                raise JobManagerInvalidInputError(
                    f"{where}: PUB shots must be a positive int, got {shots!r}"
                )
        if len(item) > 1 and item[1] is not None and not isinstance(item[1], Mapping):
            raw = item[1]
            try:
                array = np.asarray(getattr(raw, "as_array", lambda: raw)())
            except (ValueError, TypeError) as exc:
                raise JobManagerInvalidInputError(
                    f"{where}: its parameter values are not an array ({exc})"
                ) from exc
            _numeric(array, where)
            expected = item[0].num_parameters
            got = array.shape[-1] if array.ndim else 1
            if array.ndim == 0 or got != expected:
                raise JobManagerInvalidInputError(
                    f"{where}: the last axis of its values has length {got}, but the circuit "
                    f"({item[0].name!r}) has {expected} parameter(s); values have shape "
                    "(..., num_parameters)"
                )
    try:
        pub = SamplerPub.coerce(tuple(item) if isinstance(item, list) else item)
    except (ValueError, TypeError, KeyError) as exc:
        raise JobManagerInvalidInputError(f"{where} is not a valid PUB: {exc}") from exc
    circuit = pub.circuit
    bindings = pub.parameter_values
    if circuit.num_parameters and bindings.num_parameters == 0:
        raise _unbound(index, circuit)
    values = None
    if bindings.num_parameters or bindings.shape:
        try:
            raw = bindings.as_array(circuit.parameters) if circuit.num_parameters else None
        except (ValueError, TypeError) as exc:
            raise JobManagerInvalidInputError(f"{where}: {exc}") from exc
        if raw is None:
            raw = np.zeros((*bindings.shape, 0))
        values = _numeric(np.asarray(raw), where)
    return Experiment(circuit, values, None if pub.shots is None else int(pub.shots))


def _from_binds(index: int, circuit: QuantumCircuit, binds: object) -> Experiment:
    where = f"parameter_binds[{index}]"
    if not isinstance(binds, Mapping):
        raise JobManagerInvalidInputError(
            f"{where} must be a dict of parameter -> list of values, got {type(binds).__name__}"
        )
    by_name = {p.name: p for p in circuit.parameters}
    columns: dict[Parameter, np.ndarray[Any, np.dtype[np.float64]]] = {}
    for key, raw in binds.items():
        name = key.name if isinstance(key, Parameter) else key
        parameter = by_name.get(name) if isinstance(name, str) else None
        if parameter is None or (isinstance(key, Parameter) and key != parameter):
            raise JobManagerInvalidInputError(
                f"{where} names parameter {name!r}, which experiment {index} "
                f"({circuit.name!r}) does not have (it has: {', '.join(by_name) or 'none'})"
            )
        if isinstance(raw, str | bytes) or not isinstance(raw, Sequence | np.ndarray):
            raise JobManagerInvalidInputError(
                f"{where}[{name!r}] must be a list of values, got {type(raw).__name__}"
            )
        try:
            array = np.asarray(raw)
        except (ValueError, TypeError) as exc:
            raise JobManagerInvalidInputError(f"{where}[{name!r}]: {exc}") from exc
        if array.ndim != 1:
            raise JobManagerInvalidInputError(
                f"{where}[{name!r}] must be a flat list of values, got shape {array.shape}"
            )
        columns[parameter] = _numeric(array, f"{where}[{name!r}]")
    missing = [p.name for p in circuit.parameters if p not in columns]
    if missing:
        raise JobManagerInvalidInputError(
            f"{where} gives no values for parameter(s) {', '.join(missing)} of experiment "
            f"{index} ({circuit.name!r})"
        )
    if not columns:
        return Experiment(circuit)
    lengths = {len(v) for v in columns.values()}
    if len(lengths) != 1:
        detail = ", ".join(f"{p.name}: {len(v)}" for p, v in columns.items())
        raise JobManagerInvalidInputError(
            f"{where}: every parameter needs as many values as the others ({detail})"
        )
    if lengths == {0}:
        raise JobManagerInvalidInputError(f"{where}: the value lists are empty")
    values = np.stack([columns[p] for p in circuit.parameters], axis=-1)
    return Experiment(circuit, values)


def experiments_from(experiments: object, parameter_binds: object = None) -> list[Experiment]:
    """The experiments of ``run(experiments, ..., parameter_binds=...)``, checked."""
    single = (
        isinstance(experiments, QuantumCircuit | SamplerPub)
        or _is_pulse(experiments)
        or (
            isinstance(experiments, tuple)
            and bool(experiments)
            and isinstance(experiments[0], QuantumCircuit)
            and not all(isinstance(item, QuantumCircuit) for item in experiments)
        )
    )
    items = [experiments] if single else experiments
    if not isinstance(items, Sequence) or isinstance(items, str):
        raise JobManagerInvalidInputError(
            "experiments must be a QuantumCircuit, a PUB or a list of them, got "
            f"{type(items).__name__}"
        )
    if not items:
        raise JobManagerInvalidInputError("experiments is empty: pass at least one QuantumCircuit")
    if parameter_binds is not None:
        if not isinstance(parameter_binds, list | tuple):
            raise JobManagerInvalidInputError(
                "parameter_binds must be a list of dicts (one per circuit), got "
                f"{type(parameter_binds).__name__}"
            )
        if len(parameter_binds) != len(items):
            raise JobManagerInvalidInputError(
                f"parameter_binds has {len(parameter_binds)} entries for {len(items)} "
                "experiments: give one dict per circuit ({} for a bound one)"
            )
    result = []
    for index, item in enumerate(items):
        # The common case first and cheapest: 100,000 circuits are checked within run().
        if isinstance(item, QuantumCircuit):
            if parameter_binds is not None:
                result.append(_from_binds(index, item, parameter_binds[index]))
            elif item.num_parameters:
                raise _unbound(index, item)
            else:
                result.append(Experiment(item))
        elif _is_pulse(item):
            raise JobManagerInvalidInputError(
                f"experiment {index} is a pulse schedule: pulse schedules no longer exist in "
                "Qiskit 2.x; pass QuantumCircuits"
            )
        elif isinstance(item, SamplerPub | tuple | list):
            if parameter_binds is not None:
                raise JobManagerInvalidInputError(
                    f"experiment {index} is a PUB, which carries its own values: "
                    "parameter_binds is for circuits only"
                )
            result.append(_from_pub(index, item))
        else:
            raise JobManagerInvalidInputError(
                f"experiment {index} is a {type(item).__name__}, not a QuantumCircuit or a PUB"
            )
    return result
