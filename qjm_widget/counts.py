"""Merged counts of a job set, kept up to date as chunks finish.

The ledger keeps running sums: a finished chunk's counts are added once, when it ends (a retry
takes its old counts out and puts the new ones in), and never summed again. A snapshot shares
the per-experiment counts with the ledger instead of copying them (blocks of them are copied on
the ledger's next write), so what one update costs does not grow with the set.
"""

from __future__ import annotations

from bisect import bisect_right, insort
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from qiskit.result.models import ExperimentResult
from qiskit.result.postprocess import format_counts

from .exceptions import JobManagerInvalidInputError
from .lookup import ExperimentKey, ExperimentLookup
from .workload import Experiment, Loc, Slice

if TYPE_CHECKING:
    from .outcomes import SliceResult

_BLOCK = 1024
"""Experiments per copy-on-write block: a snapshot costs n / _BLOCK references, the first write
to a block after it one copy of _BLOCK."""


class _Part:
    """One slice of one chunk, as merged: where it lies, its results and their counts."""

    __slots__ = ("chunk", "counts", "first", "index", "last", "result")

    def __init__(self, chunk: int, piece: Slice, result: SliceResult) -> None:
        self.chunk = chunk
        self.index = piece.index
        self.first = piece.first
        self.last = piece.last
        self.result = result
        self.counts = result.counts()


class _Link:
    """The parts merged into one experiment, newest first; never changed once built."""

    __slots__ = ("part", "rest")

    def __init__(self, part: _Part, rest: _Link | None) -> None:
        self.part = part
        self.rest = rest


class _Cell:
    """One experiment's counts and the parts they came from. A merge stores a new cell rather
    than changing one, so a snapshot may hold cells the ledger has since replaced."""

    __slots__ = ("counts", "parts")

    def __init__(self, counts: dict[str, int], parts: _Link) -> None:
        self.counts = counts
        self.parts = parts

    def point(self, point: int) -> dict[str, int]:
        total: Counter[str] = Counter()
        link: _Link | None = self.parts
        while link is not None:
            part = link.part
            if part.first <= point <= part.last:
                total.update(part.result.counts(point - part.first))
            link = link.rest
        return dict(total)


_Blocks = tuple[list[_Cell | None], ...]


class _Cells:
    """A cell per experiment, in blocks that are copied before a write once a snapshot shares
    them."""

    def __init__(self, size: int) -> None:
        self._blocks: list[list[_Cell | None]] = [
            [None] * min(_BLOCK, size - start) for start in range(0, size, _BLOCK)
        ]
        self._owned = [True] * len(self._blocks)
        self._frozen: _Blocks | None = None

    def __getitem__(self, index: int) -> _Cell | None:
        return self._blocks[index // _BLOCK][index % _BLOCK]

    def __setitem__(self, index: int, cell: _Cell | None) -> None:
        block, offset = divmod(index, _BLOCK)
        if not self._owned[block]:
            self._blocks[block] = list(self._blocks[block])
            self._owned[block] = True
        self._blocks[block][offset] = cell
        self._frozen = None

    def freeze(self) -> _Blocks:
        """The cells as of now, shared: this object copies a block before changing it."""
        if self._frozen is None:
            self._frozen = tuple(self._blocks)
            self._owned = [False] * len(self._blocks)
        return self._frozen


def _cell_of(blocks: _Blocks, index: int) -> _Cell | None:
    return blocks[index // _BLOCK][index % _BLOCK]


class MergedCounts:
    """Counts merged so far: a dict per experiment (summed over its points; empty until its
    chunks end) and their sum; :meth:`at` gives one point's.

    A snapshot: later merges do not change it. ``per_experiment`` is built when first read.
    """

    __slots__ = ("_aggregate", "_blocks", "_experiments", "_per_experiment")
    __hash__ = None  # type: ignore[assignment]

    def __init__(
        self, blocks: _Blocks, aggregate: dict[str, int], experiments: Sequence[Experiment]
    ) -> None:
        self._blocks = blocks
        self._aggregate = aggregate
        self._experiments = experiments
        self._per_experiment: list[dict[str, int]] | None = None

    @property
    def per_experiment(self) -> list[dict[str, int]]:
        """One dict of counts per experiment, in order (the same list on every read)."""
        if self._per_experiment is None:
            self._per_experiment = [
                {} if cell is None else dict(cell.counts)
                for block in self._blocks
                for cell in block
            ]
        return self._per_experiment

    @property
    def aggregate(self) -> dict[str, int]:
        """The counts of every experiment summed."""
        return self._aggregate

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
        cell = _cell_of(self._blocks, experiment)
        return {} if cell is None else cell.point(point)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, MergedCounts):
            return NotImplemented
        return self.per_experiment == other.per_experiment and self.aggregate == other.aggregate

    def __repr__(self) -> str:
        per_experiment, aggregate = self.per_experiment, self._aggregate
        return f"MergedCounts(per_experiment={per_experiment!r}, aggregate={aggregate!r})"


class _Ranges:
    """The parts merged into one sweep, by first point, so that a point's counts are found by
    bisection. A set's slices of one experiment never overlap (the plan cuts its points into
    ranges; shot parts repeat a range), so the range holding a point is the last to start at
    or before it."""

    __slots__ = ("firsts", "parts")

    def __init__(self) -> None:
        self.firsts: list[int] = []
        self.parts: dict[int, list[_Part]] = {}

    def add(self, part: _Part) -> None:
        group = self.parts.get(part.first)
        if group is None:
            insort(self.firsts, part.first)
            self.parts[part.first] = [part]
        else:
            group.append(part)

    def remove(self, part: _Part) -> None:
        group = self.parts[part.first]
        group[:] = [p for p in group if p is not part]

    def point(self, point: int) -> dict[str, int]:
        at = bisect_right(self.firsts, point) - 1
        total: Counter[str] = Counter()
        for part in self.parts[self.firsts[at]] if at >= 0 else ():
            if point <= part.last:
                total.update(part.result.counts(point - part.first))
        return dict(total)


def _plus(base: Mapping[str, int], change: Mapping[str, int], sign: int) -> dict[str, int]:
    total = dict(base)
    for key, value in change.items():
        left = total.get(key, 0) + sign * value
        if left:
            total[key] = left
        else:
            total.pop(key, None)
    return total


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

    Per experiment it keeps the sum over its points and the parts it came from; one point of a
    sweep is read from the parts that hold it when asked, so a sweep of many points costs
    nothing until then.
    """

    def __init__(self, experiments: Sequence[Experiment]) -> None:
        self._experiments = list(experiments)
        self._lookup = ExperimentLookup(self._experiments)
        self._parts: dict[int, list[_Part]] = {}
        """Each merged chunk's parts, by chunk index: what a retry takes out again."""
        self._cells = _Cells(len(self._experiments))
        self._ranges: dict[int, _Ranges] = {}
        """Only for experiments of several points."""
        self._aggregate: Counter[str] = Counter()

    def find(self, key: ExperimentKey) -> int:
        """Index of an experiment given by index, circuit name, or the circuit itself."""
        return self._lookup.index(key)

    def replace(
        self, chunk_index: int, slices: Sequence[Slice], results: Sequence[SliceResult]
    ) -> None:
        """Make ``results`` (one per slice of the chunk) the chunk's only contribution."""
        new = [_Part(chunk_index, s, r) for s, r in zip(slices, results, strict=True)]
        for part in self._parts.pop(chunk_index, ()):
            self._take_out(part)
        self._parts[chunk_index] = new
        for part in new:
            self._put_in(part)

    def _put_in(self, part: _Part) -> None:
        index = part.index
        cell = self._cells[index]
        if cell is None:
            self._cells[index] = _Cell(part.counts, _Link(part, None))
        else:
            self._cells[index] = _Cell(_plus(cell.counts, part.counts, 1), _Link(part, cell.parts))
        self._aggregate.update(part.counts)
        if self._experiments[index].num_points > 1:
            self._ranges.setdefault(index, _Ranges()).add(part)

    def _take_out(self, part: _Part) -> None:
        index = part.index
        cell = self._cells[index]
        assert cell is not None, "a merged part has a cell"
        kept: list[_Part] = []
        link: _Link | None = cell.parts
        while link is not None:
            if link.part is not part:
                kept.append(link.part)
            link = link.rest
        rest: _Link | None = None
        for other in reversed(kept):
            rest = _Link(other, rest)
        counts = _plus(cell.counts, part.counts, -1)
        self._cells[index] = None if rest is None else _Cell(counts, rest)
        self._aggregate.subtract(part.counts)
        for key in part.counts:
            if not self._aggregate[key]:
                del self._aggregate[key]
        if index in self._ranges:
            self._ranges[index].remove(part)

    def of(self, experiment: int | None, point: int | None = None) -> dict[str, int]:
        """Counts of one experiment (of one of its points), or the aggregate for None."""
        if experiment is None:
            return dict(self._aggregate)
        cell = self._cells[experiment]
        if cell is None:
            return {}
        if point is None or experiment not in self._ranges:
            # One point only: its counts are the experiment's.
            return dict(cell.counts)
        return self._ranges[experiment].point(point)

    def snapshot(self) -> MergedCounts:
        return MergedCounts(self._cells.freeze(), dict(self._aggregate), self._experiments)
