"""Merged counts of a job set, kept up to date as chunks finish."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from qiskit.result.models import ExperimentResult
from qiskit.result.postprocess import format_counts


@dataclass(frozen=True, slots=True)
class MergedCounts:
    """Counts merged so far: a dict per experiment (empty until its chunks end) and their sum."""

    per_experiment: list[dict[str, int]]
    aggregate: dict[str, int]

    @property
    def shots(self) -> list[int]:
        """Shots counted so far, per experiment."""
        return [sum(counts.values()) for counts in self.per_experiment]


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
    """Each chunk's contribution, so a retried chunk replaces its counts instead of adding them."""

    def __init__(self, num_experiments: int) -> None:
        self._contributions: dict[int, tuple[int, list[dict[str, int] | None]]] = {}
        self._per_experiment: list[Counter[str]] = [Counter() for _ in range(num_experiments)]
        self._aggregate: Counter[str] = Counter()

    def replace(
        self, chunk_index: int, start_index: int, counts: Sequence[dict[str, int] | None]
    ) -> None:
        """Make ``counts`` (one entry per experiment of the chunk) the chunk's only contribution."""
        old = self._contributions.pop(chunk_index, None)
        if old is not None:
            self._apply(old[0], old[1], sign=-1)
        new = list(counts)
        self._contributions[chunk_index] = (start_index, new)
        self._apply(start_index, new, sign=1)

    def _apply(self, start: int, counts: list[dict[str, int] | None], sign: int) -> None:
        for offset, experiment in enumerate(counts):
            if not experiment:
                continue
            target = self._per_experiment[start + offset]
            for key, value in experiment.items():
                target[key] += sign * value
                self._aggregate[key] += sign * value
                if target[key] == 0:
                    del target[key]
                if self._aggregate[key] == 0:
                    del self._aggregate[key]

    def of(self, experiment: int | None) -> dict[str, int]:
        """Counts of one experiment, or the aggregate for None."""
        source = self._aggregate if experiment is None else self._per_experiment[experiment]
        return dict(source)

    def snapshot(self) -> MergedCounts:
        return MergedCounts(
            per_experiment=[dict(c) for c in self._per_experiment],
            aggregate=dict(self._aggregate),
        )
