"""Results at scale: sets of 10,000 and 100,000 experiments, the cost of reading them.

Five-qubit circuits that prepare basis state ``i % 32``, 10 shots, AerSimulator, ``store=None``,
chunks of 100 experiments. While each set runs, a listener calls ``counts()`` and
``merged_counts(last)`` on every event, as the widget and the progress bar do on their updates
(totals, and totals without the slowest 2% of the calls), and the ledger's merge of each
finished chunk is timed around the real method. Once both sets are done, in 5 interleaved
rounds (medians): ``results()`` (building the results object), ``combine_results()``,
``get_counts(i)`` of every experiment, ``get_counts(name)`` of every tenth, a ``counts()``
snapshot, its ``per_experiment``, and ``merged_counts(i)`` of every experiment; beside them two
reads that are not the manager's, to show what memory costs: each result touched once, and one
list of every result (what ``combine_results()`` cannot do with less). Each read runs twice
a round: as it comes, after the reads before it (which leave a 10,000 set's objects in the
CPU's caches, not a 100,000 set's), and again with the caches evicted first.

Every figure is CPU time of the thread doing the work (the machine is shared, and a listener's
wall time includes waits for the set's lock), with the garbage collector's share shown apart;
printed for both sizes with the ratio 100k / 10k: target <= 11 (linear) for ``results()`` and
``combine_results()``, the others shown beside them; per event, medians that should not grow
with the set.

At the end, the widget benchmark at 20,000 chunks (view_update.measure; target p95 <= 16 ms).
"""

from __future__ import annotations

import gc
import pathlib
import statistics
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

from qiskit import QuantumCircuit
from qiskit_aer import AerSimulator

from qjm_widget import JobManager, JobSetEvent
from qjm_widget.outcomes import job_results_of

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from view_update import measure

SIZES = (10_000, 100_000)
NUM_QUBITS = 5
SHOTS = 10
CHUNK = 100
ROUNDS = 5
TRIM = 0.02
TARGET_RATIO = 11.0
VIEW_CHUNKS = 20_000
VIEW_TARGET_MS = 16.0
TIMEOUT = 1800.0


def templates() -> list[QuantumCircuit]:
    """One circuit per basis state of five qubits: its outcome is known exactly."""
    circuits = []
    for state in range(2**NUM_QUBITS):
        qc = QuantumCircuit(NUM_QUBITS, NUM_QUBITS)
        for qubit in range(NUM_QUBITS):
            if state >> qubit & 1:
                qc.x(qubit)
        qc.measure(range(NUM_QUBITS), range(NUM_QUBITS))
        circuits.append(qc)
    return circuits


def expected(index: int) -> dict[str, int]:
    return {format(index % 2**NUM_QUBITS, f"0{NUM_QUBITS}b"): SHOTS}


class GcClock:
    """CPU seconds each thread spent in the garbage collector. A full collection walks the
    whole heap (100,000 circuits and their results here): it lands in whichever call happens
    to allocate, so a 20 us read can take one pause of tens of ms. Figures are printed with
    and without those pauses."""

    def __init__(self) -> None:
        self._local = threading.local()
        gc.callbacks.append(self._on_gc)

    def _on_gc(self, phase: str, _info: dict[str, Any]) -> None:
        local = self._local
        if phase == "start":
            local.started = time.thread_time()
        elif hasattr(local, "started"):
            local.total = getattr(local, "total", 0.0) + time.thread_time() - local.started

    def spent(self) -> float:
        return float(getattr(self._local, "total", 0.0))


GC = GcClock()


def cpu_seconds(work: Callable[[], Any]) -> tuple[float, float]:
    """CPU time of the calling thread, and how much of it the garbage collector took. CPU
    time, since on a shared machine wall time counts other processes (and, inside a set's
    threads, waits for the set's lock) as our work."""
    start, gc_start = time.thread_time(), GC.spent()
    work()
    return time.thread_time() - start, GC.spent() - gc_start


EVICTION = bytearray(128 * 2**20)
"""Four times the CPU's last-level cache (32 MiB here)."""


def evict_caches() -> None:
    """Writes a line of every 64 bytes of EVICTION: what a read costs next is what it costs
    on objects nothing read just before, as when a user calls it once after a long run."""
    EVICTION[::64] = bytes(len(EVICTION) // 64)


def join(lists: list[list[Any]]) -> list[Any]:
    joined: list[Any] = []
    for part in lists:
        joined.extend(part)
    return joined


Timing = tuple[float, float]
"""CPU seconds, of which in the garbage collector."""


def trimmed(timings: list[Timing]) -> Timing:
    """The total without the slowest TRIM of the calls: a call of 20 us is as long as one
    preemption or interrupt, and a set with ten times more events catches ten times more."""
    kept = sorted(timings)[: len(timings) - int(len(timings) * TRIM)]
    return total(kept)


def total(timings: list[Timing]) -> Timing:
    return sum(t for t, _ in timings), sum(g for _, g in timings)


class EventTimer:
    """What a widget does on each event (read the merged counts), timed; and the ledger's
    merge of each finished chunk, timed around the real method."""

    def __init__(self, job_set: Any, last: int) -> None:
        self._job_set = job_set
        self._last = last
        self._lock = threading.Lock()
        self.snapshots: list[Timing] = []
        self.merged: list[Timing] = []
        self.merges: list[Timing] = []
        ledger = job_set._ledger
        replace = ledger.replace

        def timed_replace(*args: Any, **kwargs: Any) -> None:
            timing = cpu_seconds(lambda: replace(*args, **kwargs))
            with self._lock:
                self.merges.append(timing)

        ledger.replace = timed_replace
        job_set.subscribe(self)

    def __call__(self, event: JobSetEvent) -> None:
        if event.kind == "counts":
            self.snapshots.append(cpu_seconds(self._job_set.counts))
            self.merged.append(cpu_seconds(lambda: self._job_set.merged_counts(self._last)))


class Measured:
    """One finished set of ``n`` experiments and what reading it costs."""

    def __init__(self, n: int, circuits: list[QuantumCircuit]) -> None:
        self.n = n
        experiments = [circuits[i % len(circuits)].copy(name=f"c{i}") for i in range(n)]
        start = time.perf_counter()
        self.job_set = JobManager(store=None).run(
            experiments, backend=AerSimulator(), max_experiments_per_job=CHUNK, shots=SHOTS
        )
        # Subscribed after run() returns: the first chunk may end before; the figures are
        # totals and medians over the events seen.
        self.events = EventTimer(self.job_set, n - 1)
        self.job_set.wait(timeout=TIMEOUT)
        self.wall = time.perf_counter() - start
        self.results = self.job_set.results()
        self.check()
        self.names = [f"c{i}" for i in range(0, n, 10)]
        self.rounds: dict[str, list[Timing]] = {}

    def check(self) -> None:
        if not self.results.success:
            raise SystemExit(f"the {self.n:,}-experiment set failed:\n{self.job_set.report()}")
        combined = self.results.combine_results()
        merged = self.job_set.counts().per_experiment
        for i in range(self.n):
            if not self.results.get_counts(i) == merged[i] == expected(i):
                raise SystemExit(f"experiment {i}: {self.results.get_counts(i)} != {expected(i)}")
        if combined.get_counts(self.n - 1) != expected(self.n - 1):
            raise SystemExit("combine_results() has the wrong counts")

    def round(self) -> None:
        """Each read once as it comes (after the reads before it), then once more with the
        CPU's caches evicted first; CPU seconds."""
        results, job_set, n = self.results, self.job_set, self.n
        chunks = job_set.managed_jobs()
        job_results = [job_results_of(chunk.results or ()) or [] for chunk in chunks]
        work: dict[str, Callable[[], Any]] = {
            # What combine_results() cannot do with less: one list of the set's results.
            "floor: one list of every result": lambda: join(job_results),
            # Not our code: what touching each experiment's result once costs. Where it grows
            # more than 10x, the larger set's objects are out of the CPU's caches (32 MiB of
            # L3 here: 10,000 results fit, 100,000 do not), and every read below pays that.
            "baseline: each result touched once": lambda: [
                piece.experiment_result(0).shots for chunk in chunks for piece in chunk.results
            ],
            "results()": job_set.results,
            "combine_results()": results.combine_results,
            "get_counts(i), every i": lambda: [results.get_counts(i) for i in range(n)],
            "get_counts(name), every 10th name": lambda: [
                results.get_counts(name) for name in self.names
            ],
            "counts() snapshot": job_set.counts,
            "counts().per_experiment": lambda: job_set.counts().per_experiment,
            "merged_counts(i), every i": lambda: [job_set.merged_counts(i) for i in range(n)],
        }
        for label, read in work.items():
            self.rounds.setdefault(label, []).append(cpu_seconds(read))
            evict_caches()
            self.rounds.setdefault(f"  {label.split(':')[0]}, caches evicted", []).append(
                cpu_seconds(read)
            )

    def figures(self) -> dict[str, Timing]:
        events = self.events
        return {
            **{label: min(times, key=median_key(times)) for label, times in self.rounds.items()},
            "counts() on every event, total": total(events.snapshots),
            f"  counts(), slowest {TRIM:.0%} left out": trimmed(events.snapshots),
            "merged_counts(last) on every event, total": total(events.merged),
            f"  merged_counts(), slowest {TRIM:.0%} left out": trimmed(events.merged),
            "ledger merges (one per chunk), total": total(events.merges),
        }

    def per_event(self) -> dict[str, float]:
        events = self.events
        return {
            "events seen": len(events.snapshots),
            "counts() per event, median": statistics.median(t for t, _ in events.snapshots),
            "merge per chunk, median": statistics.median(t for t, _ in events.merges),
        }


def median_key(times: list[Timing]) -> Callable[[Timing], float]:
    """Picks the round whose CPU time is the median (with that round's GC share)."""
    middle = statistics.median_low(t for t, _ in times)
    return lambda timing: abs(timing[0] - middle)


TARGETED = ("results()", "combine_results()")
"""The reads the target is set for (issue 11); the others' ratios are shown beside them."""


def verdict(label: str, ratio: float) -> str:
    if label.strip().split(",")[0] not in TARGETED:
        return "(no target)"
    return "OK" if ratio <= TARGET_RATIO else "MISSED"


def main() -> None:
    print(
        f"results at scale: {NUM_QUBITS}-qubit basis circuits, {SHOTS} shots, AerSimulator, "
        f"store=None, chunks of {CHUNK}; CPU ms of the reading thread",
        flush=True,
    )
    circuits = templates()
    AerSimulator().run(circuits, shots=SHOTS).result()  # warm-up
    sets = []
    for n in SIZES:
        sets.append(Measured(n, circuits))
        print(f"  ran {n:,} experiments: {sets[-1].wall:.1f} s wall", flush=True)
    for _ in range(ROUNDS):  # interleaved, so that a change of load hits both sizes alike
        for measured in sets:
            measured.round()
    small, large = sets
    print(
        f"  {'':40} {SIZES[0]:>12,} {SIZES[1]:>12,}   ratio (target <= {TARGET_RATIO:.0f} for "
        f"{' and '.join(TARGETED)})"
    )
    low, high = small.figures(), large.figures()
    for label in low:
        (cpu_low, gc_low), (cpu_high, gc_high) = low[label], high[label]
        ratio, ratio_net = cpu_high / cpu_low, (cpu_high - gc_high) / (cpu_low - gc_low)
        print(
            f"  {label:40} {cpu_low * 1e3:>10.2f}ms {cpu_high * 1e3:>10.2f}ms   x{ratio:.2f} "
            f"{verdict(label, ratio)}; without GC pauses ({gc_low * 1e3:.1f} / "
            f"{gc_high * 1e3:.1f} ms) x{ratio_net:.2f} {verdict(label, ratio_net)}"
        )
    low, high = small.per_event(), large.per_event()
    for label in low:
        if label == "events seen":
            print(f"  {label:40} {low[label]:>12.0f} {high[label]:>12.0f}")
        else:
            print(
                f"  {label:40} {low[label] * 1e3:>10.3f}ms {high[label] * 1e3:>10.3f}ms"
                f"   x{high[label] / low[label]:.2f} (flat: about 1)"
            )
    view = measure(VIEW_CHUNKS)["p95_ms"]
    print(
        f"  widget view update at {VIEW_CHUNKS:,} chunks: p95 {view:.2f} ms "
        f"(target <= {VIEW_TARGET_MS:.0f} ms) {'OK' if view <= VIEW_TARGET_MS else 'MISSED'}"
    )


if __name__ == "__main__":
    main()
