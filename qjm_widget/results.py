"""Results of a job set, experiment by experiment and point by point, with qiskit Result's
accessors and, for sets run on a sampler, the PUB results put back together."""

from __future__ import annotations

from bisect import bisect_right
from collections import Counter
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from qiskit.primitives import PrimitiveResult
from qiskit.primitives.containers import DataBin, SamplerPubResult
from qiskit.result import Result
from qiskit.result.models import ExperimentResult, ExperimentResultData

from .chunk import ChunkState, ManagedJob
from .exceptions import JobManagerInvalidInputError, ManagedResultDataNotAvailable
from .lookup import ExperimentKey as ExperimentKey
from .lookup import ExperimentLookup
from .outcomes import PubSliceResult, concatenate_points, concatenate_shots, job_results_of
from .workload import Loc

if TYPE_CHECKING:
    from .jobset import ManagedJobSet


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


_AFTER_ANY = 2**63
"""Sorts after any last point: (point, _AFTER_ANY) bisects to the range starting at point."""

_Range = list[tuple[ManagedJob, int]]
"""The chunks (several where shots were split) that ran one slice of points, and the slice's
position in each chunk's results."""


class ManagedResults:
    """Results of a job set: ``get_counts(i)`` and friends, as on qiskit's Result, plus one
    point of a parameter sweep (``loc``) and, on samplers, ``pub_result(i)``.

    An experiment whose chunk failed, was cancelled or is lost raises
    :class:`ManagedResultDataNotAvailable` saying why; ``success`` is False then.
    """

    def __init__(self, job_set: ManagedJobSet, partial: bool) -> None:
        self._experiments = job_set.experiments()
        self._lookup = ExperimentLookup(self._experiments)
        self.job_set_id = job_set.job_set_id()
        self.backend_name = job_set.backend_name
        self.backend_version = job_set._adapter.version
        chunks = job_set.managed_jobs()
        # Each result's failures read once, here: per experiment, only a dict lookup.
        failed: dict[int, dict[int, list[tuple[int, str]]]] = {}
        for chunk in chunks:
            found = {o: f for o, r in enumerate(chunk.results or ()) if (f := r.failures())}
            if found:
                failed[chunk.index] = found
        self.success = all(
            chunk.state is ChunkState.DONE and chunk.index not in failed for chunk in chunks
        )
        self._partial, self._failed = partial, failed
        # Each experiment's entry is made when first read: results() of a big set costs one
        # pass over its chunks, not one over its experiments.
        self._chunks = sorted(chunks, key=lambda chunk: (chunk.start_index, chunk.index))
        self._chunk_starts = [chunk.start_index for chunk in self._chunks]
        self._entries: list[dict[tuple[int, int], _Range] | _Unavailable | None] = [None] * len(
            self._experiments
        )
        self._starts: dict[int, list[tuple[int, int]]] = {}
        """The sorted ranges of experiments cut into several, filled as points are read."""

    def _entry_of(self, index: int) -> dict[tuple[int, int], _Range] | _Unavailable:
        entry = self._entries[index]
        if entry is None:
            entry = self._entries[index] = self._entry(self._covering(index))
        return entry

    def _covering(self, index: int) -> dict[tuple[int, int], _Range]:
        """The slices of points of experiment ``index`` that chunks ran, with those chunks. The
        chunks holding an experiment are next to each other in plan order."""
        found: dict[tuple[int, int], _Range] = {}
        at = bisect_right(self._chunk_starts, index) - 1
        while at >= 0 and self._chunks[at].end_index >= index:
            chunk = self._chunks[at]
            if chunk.points is not None:
                span, offset = (chunk.points[1], chunk.points[2]), 0
            else:
                span = (0, self._experiments[index].num_points - 1)
                offset = index - chunk.start_index
            found.setdefault(span, []).insert(0, (chunk, offset))
            at -= 1
        return found

    def _entry(
        self, found: dict[tuple[int, int], _Range]
    ) -> dict[tuple[int, int], _Range] | _Unavailable:
        if not found:
            return _Unavailable("no chunk covers it")
        partial, failed = self._partial, self._failed
        for group in found.values():
            for chunk, offset in group:
                if chunk.state is not ChunkState.DONE or chunk.results is None:
                    why = chunk.error or chunk.note or f"it ended {chunk.state.value}"
                    return _Unavailable(f"chunk {chunk.index} is {chunk.state.value}: {why}")
                if chunk.index not in failed:
                    continue
                failures = failed[chunk.index].get(offset)
                if failures:
                    return _Unavailable(f"the experiment failed: {failures[0][1] or 'no message'}")
                if not partial:
                    return _Unavailable(
                        f"chunk {chunk.index} has failed experiments ({chunk.error}); "
                        "pass partial=True to get the others"
                    )
        return found if len(found) == 1 else dict(sorted(found.items()))

    def _ranges(self, experiment: ExperimentKey) -> tuple[int, dict[tuple[int, int], _Range]]:
        index = self._lookup.index(experiment)
        entry = self._entry_of(index)
        if isinstance(entry, _Unavailable):
            raise ManagedResultDataNotAvailable(
                f"results of experiment {index} are not available: {entry.reason}"
            )
        return index, entry

    def _point_result(self, index: int, point: int) -> ExperimentResult:
        entry = self._entry_of(index)
        assert not isinstance(entry, _Unavailable)
        if len(entry) == 1:
            ((first, last),) = entry
        else:
            # Bisection: reading every point of a sweep cut into k ranges costs points x log k.
            starts = self._starts.get(index)
            if starts is None:
                starts = self._starts[index] = list(entry)
            at = bisect_right(starts, (point, _AFTER_ANY)) - 1
            first, last = starts[at] if at >= 0 else (0, -1)
        if first <= point <= last:
            group = entry[(first, last)]
            parts = [c.results[o].experiment_result(point - first) for c, o in group if c.results]
            return merge_shot_parts(parts)
        raise ManagedResultDataNotAvailable(f"no chunk ran point {point} of experiment {index}")

    def _single(self, experiment: ExperimentKey, loc: Loc | None) -> Result:
        index, _ = self._ranges(experiment)
        return self._result([self._point_result(index, self._point(index, loc))])

    def _point(self, index: int, loc: Loc | None) -> int:
        spec = self._experiments[index]
        if loc is None:
            if spec.parameterized:
                raise JobManagerInvalidInputError(
                    f"experiment {index} has {spec.num_points} parameter points (shape "
                    f"{spec.shape}): pass loc=... to pick one"
                )
            return 0
        return spec.point_index(loc)

    def _result(self, experiments: list[ExperimentResult], succeeded: bool = False) -> Result:
        """``succeeded``: every experiment is known to have succeeded (none is read again)."""
        return Result(
            backend_name=self.backend_name,
            backend_version=self.backend_version,
            job_id=self.job_set_id,
            success=succeeded or all(e.success for e in experiments),
            results=experiments,
        )

    def get_counts(self, experiment: ExperimentKey | None = None, loc: Loc | None = None) -> Any:
        """Counts of one experiment; with no argument, of the only one, or a list of all.

        For a parameter sweep, ``loc`` (an int or tuple index into its points) picks one
        point; without it the counts are summed over every point, as ``BitArray.get_counts``.
        """
        if experiment is None:
            if len(self._experiments) == 1:
                return self.get_counts(0, loc)
            return [self.get_counts(i) for i in range(len(self._experiments))]
        index, entry = self._ranges(experiment)
        if loc is None and self._experiments[index].parameterized:
            total: Counter[str] = Counter()
            for group in entry.values():
                for chunk, offset in group:
                    assert chunk.results is not None
                    total.update(chunk.results[offset].counts())
            return dict(total)
        return self._single(index, loc).get_counts(0)

    def to_dataframe(self) -> Any:
        """The counts as a pandas DataFrame in long form (needs ``qjm_widget[pandas]``).

        Columns ``experiment``, ``point``, ``outcome``, ``count``: one row per outcome seen at
        each point; ``point`` is the flat point index of a sweep (C order, as ``loc`` takes
        it) and 0 for an experiment without parameters. Experiments without results (see
        ``get_counts``) have no rows.
        """
        from .tables import counts_table

        return counts_table(self)

    def point_counts(self) -> list[tuple[int, int, dict[str, int]]]:
        """(experiment, flat point, counts) of every point that has results, in order; a
        point's shots split over several chunks are summed. Experiments without results (see
        ``get_counts``) have none."""
        found = []
        for experiment in range(len(self._experiments)):
            ranges = self._entry_of(experiment)
            if isinstance(ranges, _Unavailable):
                continue
            for (first, last), group in ranges.items():
                for point in range(first, last + 1):
                    total: Counter[str] = Counter()
                    for chunk, offset in group:
                        assert chunk.results is not None
                        total.update(chunk.results[offset].counts(point - first))
                    found.append((experiment, point, dict(total)))
        return found

    def get_memory(self, experiment: ExperimentKey, loc: Loc | None = None) -> Any:
        """Each shot's outcome, where ``memory=True`` was asked for; for a sweep without
        ``loc``, every point's shots one point after the other (flattened C order)."""
        index, _ = self._ranges(experiment)
        spec = self._experiments[index]
        if loc is None and spec.parameterized:
            points = [self._point_result(index, p) for p in range(spec.num_points)]
            result = self._result(points)
            return [shot for p in range(len(points)) for shot in result.get_memory(p)]
        return self._single(index, loc).get_memory(0)

    def get_statevector(
        self, experiment: ExperimentKey, decimals: int | None = None, loc: Loc | None = None
    ) -> Any:
        return self._single(experiment, loc).get_statevector(0, decimals=decimals)

    def get_unitary(
        self, experiment: ExperimentKey, decimals: int | None = None, loc: Loc | None = None
    ) -> Any:
        return self._single(experiment, loc).get_unitary(0, decimals=decimals)

    def data(self, experiment: ExperimentKey, loc: Loc | None = None) -> dict[str, Any]:
        return dict(self._single(experiment, loc).data(0))

    def pub_result(self, experiment: ExperimentKey) -> SamplerPubResult:
        """The experiment's SamplerPubResult, as one sampler job over its whole PUB would give
        it: each register's BitArray in the PUB's shape, every point's shots in place.

        Only for sets run on a sampler.
        """
        index, entry = self._ranges(experiment)
        parts: list[PubSliceResult] = []
        for group in entry.values():
            pieces = [c.results[o] for c, o in group if c.results]
            if not all(isinstance(p, PubSliceResult) for p in pieces):
                raise ManagedResultDataNotAvailable(
                    f"experiment {index} has no sampler data: pub_result is for sets run on a "
                    f"sampler ({self.backend_name} returned counts); use get_counts"
                )
            parts.append(concatenate_shots(pieces))  # type: ignore[arg-type]
        shape = self._experiments[index].shape
        registers = {name: bits.reshape(shape) for name, bits in concatenate_points(parts).items()}
        metadata = dict(parts[0].metadata)
        return SamplerPubResult(DataBin(shape=shape, **registers), metadata=metadata)

    def combine_results(self) -> Result | PrimitiveResult[SamplerPubResult]:
        """Every experiment, in order, once all of them succeeded: a qiskit Result with one
        experiment result per circuit and point (as one Aer job with the same
        ``parameter_binds`` orders them), or, for a set run on a sampler, a PrimitiveResult of
        each experiment's :meth:`pub_result`."""
        if self.success and self._one_chunk_each():
            # Each experiment whole in one chunk (the usual plan): each chunk's job results,
            # in order, are the combined ones, with no entry to make per experiment.
            combined: list[ExperimentResult] = []
            for chunk in self._chunks:
                whole = job_results_of(chunk.results or ())
                if whole is None:
                    break
                combined.extend(whole)
            else:
                return self._result(combined, succeeded=True)
        entries = [self._entry_of(i) for i in range(len(self._experiments))]
        missing = [i for i, e in enumerate(entries) if isinstance(e, _Unavailable)]
        if missing:
            first = entries[missing[0]]
            assert isinstance(first, _Unavailable)
            raise ManagedResultDataNotAvailable(
                f"cannot combine: {len(missing)} experiments have no results "
                f"(experiment {missing[0]}: {first.reason})"
            )
        if self._from_sampler():
            pubs = [self.pub_result(i) for i in range(len(self._experiments))]
            return PrimitiveResult(pubs, metadata={"version": 2})
        return self._result(
            [
                self._point_result(i, p)
                for i, spec in enumerate(self._experiments)
                for p in range(spec.num_points)
            ]
        )

    def _one_chunk_each(self) -> bool:
        """Whether the chunks hold whole experiments, each in exactly one, in order."""
        through = -1
        for chunk in self._chunks:
            if chunk.points is not None or chunk.start_index != through + 1:
                return False
            through = chunk.end_index
        return through == len(self._experiments) - 1

    def _from_sampler(self) -> bool:
        return all(
            isinstance(result, PubSliceResult)
            for chunk in self._chunks
            if chunk.state is ChunkState.DONE
            for result in chunk.results or ()
        )
