"""Merged counts of a job set, kept up to date as chunks finish."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from qiskit.result.models import ExperimentResult
from qiskit.result.postprocess import format_counts

from .exceptions import JobManagerInvalidInputError
from .workload import Experiment, Loc, Slice

if TYPE_CHECKING:
    from .outcomes import SliceResult


@dataclass(frozen=True, slots=True)
class MergedCounts:
    """Counts merged so far: a dict per experiment (summed over its points; empty until its
    chunks end) and their sum; :meth:`at` gives one point's."""

    per_experiment: list[dict[str, int]]
    aggregate: dict[str, int]
    _experiments: Sequence[Experiment] = field(default=(), repr=False, compare=False)
    _contributions: Mapping[int, Contribution] = field(
        default_factory=dict, repr=False, compare=False
    )

    @property
    def shots(self) -> list[int]:
        """Shots counted so far, per experiment (over all its points)."""
        return [sum(counts.values()) for counts in self.per_experiment]

    def at(self, experiment: int, loc: Loc) -> dict[str, int]:
        """Counts so far of one point of a parameterized experiment, as of this snapshot.

        ``loc`` is an int or a tuple index into the experiment's points (its values' shape, or
        ``(k,)`` for ``parameter_binds``).
        """
        if isinstance(experiment, bool) or not 0 <= experiment < len(self._experiments):
            raise JobManagerInvalidInputError(
                f"experiment index {experiment!r} is out of range: the set has "
                f"{len(self._experiments)} experiments"
            )
        point = self._experiments[experiment].point_index(loc)
        return point_counts(self._contributions.values(), experiment, point)


Contribution = list[tuple[Slice, "SliceResult", dict[str, int]]]
"""One chunk's share of the counts: each slice it holds, its results and their counts."""


def point_counts(
    contributions: Iterable[Contribution], experiment: int, point: int
) -> dict[str, int]:
    """One point's counts over every chunk that ran it (several where shots were split)."""
    total: Counter[str] = Counter()
    for contribution in contributions:
        for piece, result, _counts in contribution:
            if piece.index == experiment and piece.first <= point <= piece.last:
                total.update(result.counts(point - piece.first))
    return dict(total)


def header_dict(result: ExperimentResult) -> dict[str, Any]:
    header = getattr(result, "header", None)
    if header is None:
        return {}
    to_dict = getattr(header, "to_dict", None)
    return dict(to_dict()) if callable(to_dict) else dict(header)


def experiment_counts(result: ExperimentResult) -> dict[str, int] | None:
    """Counts of one experiment, keyed as ``Result.get_counts`` keys them; None if it has none."""
    if not result.success:
        return None
    raw = getattr(result.data, "counts", None)
    if raw is None:
        return None
    return {key: int(value) for key, value in format_counts(raw, header_dict(result)).items()}


class CountsLedger:
    """Each chunk's contribution, so a retried chunk replaces its counts instead of adding them.

    Per experiment it keeps the sum over its points; one point's counts are read from the
    slices that hold it when asked, so a sweep of many points costs nothing until then.
    """

    def __init__(self, experiments: Sequence[Experiment]) -> None:
        self._experiments = list(experiments)
        self._contributions: dict[int, Contribution] = {}
        self._per_experiment: list[Counter[str]] = [Counter() for _ in self._experiments]
        self._aggregate: Counter[str] = Counter()

    def replace(
        self, chunk_index: int, slices: Sequence[Slice], results: Sequence[SliceResult]
    ) -> None:
        """Make ``results`` (one per slice of the chunk) the chunk's only contribution."""
        new = [(s, r, r.counts()) for s, r in zip(slices, results, strict=True)]
        old = self._contributions.pop(chunk_index, None)
        if old is not None:
            self._apply(old, sign=-1)
        self._contributions[chunk_index] = new
        self._apply(new, sign=1)

    def _apply(self, entries: Contribution, sign: int) -> None:
        for piece, _result, counts in entries:
            target = self._per_experiment[piece.index]
            for key, value in counts.items():
                target[key] += sign * value
                self._aggregate[key] += sign * value
                if target[key] == 0:
                    del target[key]
                if self._aggregate[key] == 0:
                    del self._aggregate[key]

    def of(self, experiment: int | None, point: int | None = None) -> dict[str, int]:
        """Counts of one experiment (of one of its points), or the aggregate for None."""
        if experiment is None:
            return dict(self._aggregate)
        if point is None:
            return dict(self._per_experiment[experiment])
        return point_counts(self._contributions.values(), experiment, point)

    def snapshot(self) -> MergedCounts:
        return MergedCounts(
            per_experiment=[dict(c) for c in self._per_experiment],
            aggregate=dict(self._aggregate),
            _experiments=self._experiments,
            _contributions=dict(self._contributions),
        )
