"""Results and merged counts of sets of thousands of experiments: exact in every view, read
without re-summing finished chunks, snapshots that later merges leave alone, retries that
replace counts at scale. No timing here: benchmarks/scale.py times the same paths.
"""

from __future__ import annotations

import pathlib
import threading
import tracemalloc
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
from qiskit_aer import AerSimulator
from support import (
    basis_circuit,
    basis_circuits,
    expected_key,
    qjm_threads,
    sweep_binds,
    sweep_circuit,
    wait_until,
)

from qjm_widget import JobManager, JobManagerJobNotFound, JobSetEvent, ManagedJobSet
from qjm_widget.outcomes import CircuitSliceResult, job_results_of
from qjm_widget.testing import FaultyBackend

SHOTS = 4


@pytest.fixture
def manager() -> Iterator[JobManager]:
    """No store: these sets are large, and counts are what is under test."""
    job_manager = JobManager(store=None)
    yield job_manager
    assert wait_until(lambda: not qjm_threads(), timeout=10), f"threads left: {qjm_threads()}"


def exact(count: int, shots: int = SHOTS) -> list[dict[str, int]]:
    return [{expected_key(i): shots} for i in range(count)]


def exact_aggregate(count: int, shots: int = SHOTS) -> dict[str, int]:
    total: Counter[str] = Counter()
    for counts in exact(count, shots):
        total.update(counts)
    return dict(total)


def test_thousands_of_experiments_have_exact_counts_in_every_view(manager: JobManager) -> None:
    count = 2500
    circuits = basis_circuits(count)
    job_set = manager.run(circuits, AerSimulator(), max_experiments_per_job=50, shots=SHOTS)
    results = job_set.results(timeout=120)
    assert results.success, job_set.error_messages()
    assert results.get_counts() == exact(count)
    assert results.combine_results().get_counts() == exact(count)
    # By name and by circuit, every one: one table, not a scan per lookup; the first wins.
    assert [results.get_counts(f"basis_{i}") for i in range(count)] == exact(count)
    assert [results.get_counts(c) for c in circuits[::97]] == exact(count)[::97]
    merged = job_set.counts()
    assert merged.per_experiment == exact(count)
    assert merged.shots == [SHOTS] * count
    assert merged.aggregate == exact_aggregate(count)
    assert [job_set.merged_counts(i) for i in range(count)] == exact(count)
    assert [job_set.merged_counts(f"basis_{i}") for i in range(0, count, 89)] == exact(count)[::89]
    assert [merged.at(i, 0) for i in range(0, count, 61)] == exact(count)[::61]
    assert job_set.merged_counts() == exact_aggregate(count)


def test_combine_results_hands_over_each_jobs_results_without_a_copy_per_experiment(
    manager: JobManager,
) -> None:
    """The slices of a job share its one list of ExperimentResults, and combining a set whose
    experiments are each whole in one chunk joins those lists: the combined results are the
    job's own objects, in order."""
    count, per_job = 300, 30
    job_set = manager.run(
        basis_circuits(count), AerSimulator(), max_experiments_per_job=per_job, shots=SHOTS
    )
    results = job_set.results(timeout=60)
    chunks = job_set.managed_jobs()
    cuts = [job_results_of(chunk.results or ()) for chunk in chunks]
    assert all(cut is not None and len(cut) == per_job for cut in cuts)
    combined = results.combine_results()
    assert combined.success
    joined = [e for cut in cuts if cut for e in cut]
    assert len(combined.results) == count
    assert all(a is b for a, b in zip(combined.results, joined, strict=True))
    assert combined.get_counts() == exact(count)
    # Only a job's own cut hands its list over: slices put together otherwise, even of one
    # job's results, are read one by one.
    first, second = (chunk.results or () for chunk in chunks[:2])
    assert job_results_of(list(first)) is None, "a copy of the cut"
    assert job_results_of(list(first)[:-1]) is None, "a job's results, not all of them"
    assert job_results_of(list(first)[1:]) is None, "not from the start"
    assert job_results_of([*first, *second]) is None, "two jobs' slices"
    assert job_results_of(list(reversed(list(first)))) is None, "out of order"
    assert job_results_of([]) is None


def test_a_stored_set_read_back_combines_each_chunks_stored_results_in_one_step(
    tmp_path: pathlib.Path,
) -> None:
    count, per_job = 60, 20
    path = tmp_path / "store.sqlite3"
    ran = JobManager(store=path).run(
        basis_circuits(count), AerSimulator(), max_experiments_per_job=per_job, shots=SHOTS
    )
    ran.results(timeout=60)
    stored = JobManager(store=path).retrieve_job_set(ran.job_set_id())
    cuts = [job_results_of(chunk.results or ()) for chunk in stored.managed_jobs()]
    assert [len(cut or ()) for cut in cuts] == [per_job] * (count // per_job)
    combined = stored.results(timeout=60).combine_results()
    joined = [e for cut in cuts for e in cut or ()]
    assert all(a is b for a, b in zip(combined.results, joined, strict=True))
    assert combined.get_counts() == exact(count)


def test_lookups_by_name_and_circuit_keep_the_first_match_and_identity_first(
    manager: JobManager,
) -> None:
    # Experiments 1 and 2 share a name; 2 is the circuit object passed twice (2 and 3).
    twin = basis_circuit(5).copy(name="basis_1")
    circuits = [basis_circuit(0), basis_circuit(1), twin, twin]
    job_set = manager.run(circuits, AerSimulator(), max_experiments_per_job=1, shots=SHOTS)
    results = job_set.results(timeout=60)
    assert results.get_counts("basis_1") == {"001": SHOTS}, "the first of a name wins"
    assert results.get_counts(twin) == {"101": SHOTS}, "the circuit itself wins over its name"
    assert job_set.merged_counts(twin) == {"101": SHOTS}
    # A copy is not in the set: found by its name.
    assert results.get_counts(circuits[1].copy()) == {"001": SHOTS}
    with pytest.raises(JobManagerJobNotFound, match="no experiment is named 'basis_9'"):
        results.get_counts("basis_9")
    with pytest.raises(JobManagerJobNotFound, match="no experiment is named"):
        job_set.merged_counts(basis_circuit(9))


class CountingResults:
    """Counts each read of a chunk's whole counts (``SliceResult.counts()`` with no point),
    which is what summing a finished chunk's contribution costs."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.reads = 0
        self._lock = threading.Lock()
        real = CircuitSliceResult.counts

        def counted(result: CircuitSliceResult, point: int | None = None) -> dict[str, int]:
            if point is None:
                with self._lock:
                    self.reads += 1
            return real(result, point)

        monkeypatch.setattr(CircuitSliceResult, "counts", counted)


def test_updates_never_sum_finished_chunks_again(
    manager: JobManager, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What the widget and the progress bar do on every event (read the merged counts) sums
    nothing: each chunk's results are summed once, when it ends."""
    count, per_job = 2000, 20
    reads = CountingResults(monkeypatch)
    events: list[JobSetEvent] = []
    seen: list[int] = []

    def on_event(event: JobSetEvent) -> None:
        events.append(event)
        merged = job_set.counts()
        seen.append(sum(merged.aggregate.values()))
        job_set.merged_counts()
        job_set.merged_counts(count - 1)

    job_set = manager.run(
        basis_circuits(count), AerSimulator(), max_experiments_per_job=per_job, shots=SHOTS
    )
    job_set.subscribe(on_event)
    job_set.wait(timeout=120)
    chunks = count // per_job
    assert len([e for e in events if e.kind == "counts"]) > chunks // 2, "too few events seen"
    for _ in range(50):  # reading again, as a widget does, sums nothing either
        assert job_set.counts().per_experiment == exact(count)
        assert job_set.merged_counts(0) == exact(1)[0]
    assert reads.reads == count, (
        f"{reads.reads} reads of chunk results for {count} experiments: finished chunks were "
        "summed again on reads"
    )
    assert seen == sorted(seen), "the aggregate went back in time"


def snapshot_bytes(job_set: ManagedJobSet) -> int:
    """Bytes allocated while taking one counts() snapshot (the peak, temporaries included)."""
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        start = tracemalloc.get_traced_memory()[0]
        snapshot = job_set.counts()
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert snapshot.aggregate
    return peak - start


def test_a_snapshot_costs_the_same_for_a_set_ten_times_larger(manager: JobManager) -> None:
    """counts() copies no per-experiment counts: a set of 3,000 experiments allocates about
    what one of 300 does (a copy of each experiment's counts would allocate 10 times more)."""
    sizes = {}
    for count in (300, 3000):
        job_set = manager.run(
            basis_circuits(count), AerSimulator(), max_experiments_per_job=50, shots=SHOTS
        )
        job_set.wait(timeout=120)
        # Nothing else allocates meanwhile: the set's threads are gone.
        assert wait_until(lambda: not qjm_threads(), timeout=10), qjm_threads()
        sizes[count] = snapshot_bytes(job_set)
        assert job_set.counts().per_experiment == exact(count)
    assert sizes[3000] < 2 * sizes[300] + 1024, f"bytes per snapshot: {sizes}"


def test_a_snapshot_keeps_the_counts_of_its_moment_while_later_chunks_merge(
    manager: JobManager,
) -> None:
    count, per_job = 2000, 20
    taken: list[tuple[Any, set[int]]] = []
    seen: set[int] = set()

    def on_event(event: JobSetEvent) -> None:
        if event.kind == "counts" and event.chunk_index is not None:
            seen.add(event.chunk_index)
            if len(seen) % 11 == 0:  # a snapshot now and then; read only once the set is done
                taken.append((job_set.counts(), set(seen)))

    job_set = manager.run(
        basis_circuits(count), AerSimulator(), max_experiments_per_job=per_job, shots=SHOTS
    )
    job_set.subscribe(on_event)
    job_set.wait(timeout=120)
    assert len(taken) >= 3, f"only {len(taken)} snapshots taken"
    earlier: set[int] = set()
    full = exact(count)
    for snapshot, announced in taken:
        per_experiment = snapshot.per_experiment  # built now, long after the snapshot
        # The ledger may be ahead of the events delivered: every chunk announced is in, and
        # each chunk is in whole or not at all.
        merged = {i // per_job for i, counts in enumerate(per_experiment) if counts}
        assert merged >= announced | earlier, "a snapshot lacks chunks merged before it"
        want = [full[i] if i // per_job in merged else {} for i in range(count)]
        assert per_experiment == want, "a snapshot holds part of a chunk, or wrong counts"
        # The aggregate is copied when the snapshot is taken: per_experiment, read later, must
        # agree with it, or later merges leaked into the snapshot.
        assert dict(sum((Counter(c) for c in per_experiment), Counter())) == snapshot.aggregate
        earlier = merged


def test_retries_at_scale_replace_counts_and_leave_earlier_snapshots_alone(
    manager: JobManager,
) -> None:
    count, per_job = 2000, 20
    broken = set(range(7, count, 173))  # one experiment in each of 12 chunks
    names = {f"basis_{i}" for i in broken}
    backend = FaultyBackend(
        AerSimulator(),
        fail_experiments=2 * len(broken),  # the first retry fails the same way
        fail_experiment_when=lambda circuit: circuit.name in names,
    )
    job_set = manager.run(
        basis_circuits(count), backend, max_experiments_per_job=per_job, shots=SHOTS
    )
    job_set.wait(timeout=120)
    want = [{} if i in broken else counts for i, counts in enumerate(exact(count))]
    first = job_set.counts()
    assert first.per_experiment == want, job_set.report()
    chunks = sorted({i // per_job for i in broken})
    assert sorted(job_set.retry_failed()) == chunks
    job_set.wait(timeout=120)
    # The same 19 good experiments of each retried chunk merged again: replaced, not added.
    assert job_set.counts().per_experiment == want, "the first retry counted chunks twice"
    assert sorted(job_set.retry_failed()) == chunks
    job_set.wait(timeout=120)
    after = job_set.counts()
    assert after.per_experiment == exact(count), "a retried chunk was counted twice or lost"
    assert after.aggregate == exact_aggregate(count)
    assert job_set.merged_counts() == exact_aggregate(count)
    assert job_set.results().get_counts() == exact(count)
    assert first.per_experiment == want, "the snapshot before the retries changed"
    assert first.aggregate == dict(sum((Counter(c) for c in want), Counter()))


def test_a_sweep_cut_into_hundreds_of_chunks_and_shot_parts_is_exact_at_every_point(
    manager: JobManager,
) -> None:
    states = [(7 * i + 3) % 8 for i in range(600)]
    sweep = sweep_circuit()
    job_set = manager.run(
        [sweep],
        AerSimulator(),
        parameter_binds=[sweep_binds(states, sweep)],
        shots=2 * SHOTS,
        max_shots_per_job=SHOTS,
        max_executions_per_job=6 * SHOTS,
    )
    assert len(job_set.managed_jobs()) == 2 * len(states) // 6, "not cut as planned"
    results = job_set.results(timeout=120)
    assert results.success, job_set.error_messages()
    want = [{expected_key(s): 2 * SHOTS} for s in states]
    merged = job_set.counts()
    assert [job_set.merged_counts(0, p) for p in range(len(states))] == want
    assert [merged.at(0, p) for p in range(len(states))] == want
    assert [results.get_counts(0, p) for p in range(len(states))] == want
    assert results.combine_results().get_counts() == want
    total = dict(sum((Counter(c) for c in want), Counter()))
    assert merged.per_experiment == [total]
    assert results.get_counts(0) == total
