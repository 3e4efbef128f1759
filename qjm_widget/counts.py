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
    """One slice of one chunk, as merged, and the head of its experiment's chain of parts:
    ``total`` is its counts plus those of every older part (``rest``). Never changed once
    stored, so a snapshot may hold parts the ledger has since replaced; one object per slice
    (the garbage collector walks each one, on a heap of the user's circuits)."""

    __slots__ = ("chunk", "counts", "first", "index", "last", "rest", "result", "total")

    def __init__(self, chunk: int, index: int, first: int, last: int, result: SliceResult) -> None:
        self.chunk = chunk
        self.index = index
        self.first = first
        self.last = last
        self.result = result
        self.counts = result.counts()
        self.rest: _Part | None = None
        self.total = self.counts

    def on(self, rest: _Part | None) -> _Part:
        """This part at the head of ``rest``: call before storing it."""
        self.rest = rest
        self.total = self.counts if rest is None else _plus(rest.total, self.counts, 1)
        return self

    def again(self, rest: _Part | None) -> _Part:
        """A copy at the head of ``rest`` (a retry rebuilds the chain without one part)."""
        copy = _Part.__new__(_Part)
        for name in ("chunk", "index", "first", "last", "result", "counts"):
            setattr(copy, name, getattr(self, name))
        return copy.on(rest)

    def point(self, point: int) -> dict[str, int]:
        """One point's counts over this part and the older ones."""
        total: Counter[str] = Counter()
        part: _Part | None = self
        while part is not None:
            if part.first <= point <= part.last:
                total.update(part.result.counts(point - part.first))
            part = part.rest
        return dict(total)


_Blocks = tuple[list[_Part | None], ...]


class _Heads:
    """Each experiment's newest part, in blocks that are copied before a write once a snapshot
    shares them."""

    def __init__(self, size: int) -> None:
        self._blocks: list[list[_Part | None]] = [
            [None] * min(_BLOCK, size - start) for start in range(0, size, _BLOCK)
        ]
        self._owned = [True] * len(self._blocks)
        self._frozen: _Blocks | None = None

    def __getitem__(self, index: int) -> _Part | None:
        return self._blocks[index // _BLOCK][index % _BLOCK]

    def __setitem__(self, index: int, head: _Part | None) -> None:
        block, offset = divmod(index, _BLOCK)
        if not self._owned[block]:
            self._blocks[block] = list(self._blocks[block])
            self._owned[block] = True
        self._blocks[block][offset] = head
        self._frozen = None

    def freeze(self) -> _Blocks:
        """The heads as of now, shared: this object copies a block before changing it."""
        if self._frozen is None:
            self._frozen = tuple(self._blocks)
            self._owned = [False] * len(self._blocks)
        return self._frozen


def _head_of(blocks: _Blocks, index: int) -> _Part | None:
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
                {} if head is None else dict(head.total) for block in self._blocks for head in block
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
        head = _head_of(self._blocks, experiment)
        return {} if head is None else head.point(point)

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

    def remove(self, chunk: int, first: int) -> None:
        group = self.parts[first]
        group[:] = [p for p in group if p.chunk != chunk]

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
        self._merged: dict[int, list[int]] = {}
        """The experiments each merged chunk added a part to: what a retry takes out again."""
        self._heads = _Heads(len(self._experiments))
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
        new = [
            _Part(chunk_index, s.index, s.first, s.last, r)
            for s, r in zip(slices, results, strict=True)
        ]
        for index in self._merged.pop(chunk_index, ()):
            self._take_out(chunk_index, index)
        self._merged[chunk_index] = [part.index for part in new]
        for part in new:
            self._put_in(part)

    def _put_in(self, part: _Part) -> None:
        index = part.index
        self._heads[index] = part.on(self._heads[index])
        self._aggregate.update(part.counts)
        if self._experiments[index].num_points > 1:
            self._ranges.setdefault(index, _Ranges()).add(part)

    def _take_out(self, chunk: int, index: int) -> None:
        kept: list[_Part] = []
        gone: _Part | None = None
        part = self._heads[index]
        while part is not None:
            if part.chunk == chunk:
                gone = part
            else:
                kept.append(part)
            part = part.rest
        assert gone is not None, "a merged chunk has a part in each of its experiments"
        head: _Part | None = None
        for older in reversed(kept):
            head = older.again(head)
        self._heads[index] = head
        self._aggregate.subtract(gone.counts)
        for key in gone.counts:
            if not self._aggregate[key]:
                del self._aggregate[key]
        if index in self._ranges:
            self._ranges[index].remove(chunk, gone.first)

    def of(self, experiment: int | None, point: int | None = None) -> dict[str, int]:
        """Counts of one experiment (of one of its points), or the aggregate for None."""
        if experiment is None:
            return dict(self._aggregate)
        head = self._heads[experiment]
        if head is None:
            return {}
        if point is None or experiment not in self._ranges:
            # One point only: its counts are the experiment's.
            return dict(head.total)
        return self._ranges[experiment].point(point)

    def snapshot(self) -> MergedCounts:
        return MergedCounts(self._heads.freeze(), dict(self._aggregate), self._experiments)
