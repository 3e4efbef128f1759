"""Results of a job set, experiment by experiment, with qiskit Result's accessors."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeAlias

from qiskit import QuantumCircuit
from qiskit.result import Result
from qiskit.result.models import ExperimentResult, ExperimentResultData

from .chunk import ChunkState, ManagedJob
from .exceptions import JobManagerJobNotFound, ManagedResultDataNotAvailable

if TYPE_CHECKING:
    from .jobset import ManagedJobSet

Experiment: TypeAlias = "int | str | QuantumCircuit"


def find_experiment(experiments: Sequence[QuantumCircuit], key: Experiment) -> int:
    """Index of an experiment given by index, circuit name, or the circuit itself."""
    if isinstance(key, bool) or not isinstance(key, int | str | QuantumCircuit):
        raise JobManagerJobNotFound(
            f"an experiment is given by index, name or circuit, got {type(key).__name__}"
        )
    if isinstance(key, int):
        if 0 <= key < len(experiments):
            return key
        raise JobManagerJobNotFound(
            f"experiment index {key} is out of range: the set has {len(experiments)} experiments"
        )
    if isinstance(key, QuantumCircuit):
        for index, circuit in enumerate(experiments):
            if circuit is key:
                return index
        key = key.name
    for index, circuit in enumerate(experiments):
        if circuit.name == key:
            return index
    raise JobManagerJobNotFound(f"no experiment is named {key!r}")


def merge_shot_parts(parts: list[ExperimentResult]) -> ExperimentResult:
    """One experiment whose shots ran in several jobs: counts summed, memory concatenated."""
    if len(parts) == 1:
        return parts[0]
    first = parts[0]
    counts: dict[str, int] = {}
    memory: list[Any] = []
    for part in parts:
        for key, value in (getattr(part.data, "counts", None) or {}).items():
            counts[key] = counts.get(key, 0) + int(value)
        memory.extend(getattr(part.data, "memory", None) or [])
    data: dict[str, Any] = {"counts": counts}
    if memory:
        data["memory"] = memory
    return ExperimentResult(
        shots=sum(int(p.shots) for p in parts if isinstance(p.shots, int)),
        success=True,
        data=ExperimentResultData(**data),
        meas_level=first.meas_level,
        header=first.header,
        status=first.status,
    )


@dataclass(frozen=True, slots=True)
class _Unavailable:
    reason: str


class ManagedResults:
    """Results of a job set: ``get_counts(i)`` and friends, as on qiskit's Result.

    An experiment whose chunk failed, was cancelled or is lost raises
    :class:`ManagedResultDataNotAvailable` saying why; ``success`` is False then.
    """

    def __init__(self, job_set: ManagedJobSet, partial: bool) -> None:
        self._job_set = job_set
        self._experiments = job_set._experiments
        self.job_set_id = job_set.job_set_id()
        self.backend_name = job_set._adapter.name
        self.backend_version = job_set._adapter.version
        chunks = job_set.managed_jobs()
        self.success = all(chunk.succeeded for chunk in chunks)
        self._entries: list[ExperimentResult | _Unavailable] = [
            _Unavailable("no chunk covers this experiment")
        ] * len(self._experiments)
        groups: dict[tuple[int, int], list[ManagedJob]] = {}
        for chunk in chunks:
            groups.setdefault((chunk.start_index, chunk.end_index), []).append(chunk)
        for (start, end), group in groups.items():
            for index in range(start, end + 1):
                self._entries[index] = self._entry(group, index - start, partial)

    @staticmethod
    def _entry(
        group: list[ManagedJob], offset: int, partial: bool
    ) -> ExperimentResult | _Unavailable:
        parts = []
        for chunk in group:
            if chunk.state is not ChunkState.DONE or chunk.experiment_results is None:
                why = chunk.error or chunk.note or f"it ended {chunk.state.value}"
                return _Unavailable(f"chunk {chunk.index} is {chunk.state.value}: {why}")
            part = chunk.experiment_results[offset]
            if not part.success:
                return _Unavailable(f"the experiment failed: {part.status or 'no message'}")
            if chunk.failed_experiments and not partial:
                return _Unavailable(
                    f"chunk {chunk.index} has failed experiments ({chunk.error}); "
                    "pass partial=True to get the others"
                )
            parts.append(part)
        return merge_shot_parts(parts)

    def _experiment_result(self, experiment: Experiment) -> ExperimentResult:
        index = find_experiment(self._experiments, experiment)
        entry = self._entries[index]
        if isinstance(entry, _Unavailable):
            raise ManagedResultDataNotAvailable(
                f"results of experiment {index} are not available: {entry.reason}"
            )
        return entry

    def _single(self, experiment: Experiment) -> Result:
        return self._result([self._experiment_result(experiment)])

    def _result(self, experiments: list[ExperimentResult]) -> Result:
        return Result(
            backend_name=self.backend_name,
            backend_version=self.backend_version,
            job_id=self.job_set_id,
            success=all(e.success for e in experiments),
            results=experiments,
        )

    def get_counts(self, experiment: Experiment | None = None) -> Any:
        """Counts of one experiment; with no argument, of the only one, or a list of all."""
        if experiment is None:
            if len(self._experiments) == 1:
                return self.get_counts(0)
            return [self.get_counts(i) for i in range(len(self._experiments))]
        return self._single(experiment).get_counts(0)

    def get_memory(self, experiment: Experiment) -> Any:
        return self._single(experiment).get_memory(0)

    def get_statevector(self, experiment: Experiment, decimals: int | None = None) -> Any:
        return self._single(experiment).get_statevector(0, decimals=decimals)

    def get_unitary(self, experiment: Experiment, decimals: int | None = None) -> Any:
        return self._single(experiment).get_unitary(0, decimals=decimals)

    def data(self, experiment: Experiment) -> dict[str, Any]:
        return dict(self._single(experiment).data(0))

    def combine_results(self) -> Result:
        """One qiskit Result with every experiment, in order; only when all of them succeeded."""
        missing = [i for i, e in enumerate(self._entries) if isinstance(e, _Unavailable)]
        if missing:
            first = self._entries[missing[0]]
            assert isinstance(first, _Unavailable)
            raise ManagedResultDataNotAvailable(
                f"cannot combine: {len(missing)} experiments have no results "
                f"(experiment {missing[0]}: {first.reason})"
            )
        return self._result([e for e in self._entries if isinstance(e, ExperimentResult)])
