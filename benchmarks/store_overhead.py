"""What the store costs on big sets (issue 11): ``store=None`` and the default store side by side.

AerSimulator, five-qubit circuits preparing basis state ``i % 32``, 100 shots. Every variant
runs in a fresh process of this script (``--child``), so that its peak resident memory (VmHWM
of /proc/self/status) is its own; the default store is a new temporary file
(``$QJM_WIDGET_STORE``). In one run, interleaved:

- 20,000 circuits in 2,000 chunks, ``--rounds`` rounds (medians): the time ``run()`` takes to
  return; ``run()`` to ``results()`` returned, wall (target: store / none <= 1.05); peak memory
  (target: store / none <= 1.1).
- 100,000 circuits in 1,000 chunks, one round: the time ``run()`` takes to return (targets: the
  store adds <= 50 ms, and ``run()`` with the store <= 0.2 s); wall; peak memory (<= 1.1).
- Listing: 100 stored sets of 20,000 circuits (the last 20,000-circuit set the store variant
  ran, its rows copied 99 times under new ids), ``JobManager(store=path).job_sets()`` in a new
  manager, opening the store included (median of 5; target <= 1 s).
- Memory: 8 sets of 5,000 circuits (chunks of 10) run one after another in one manager with the
  default store, each dropped after ``results()``: resident memory after the 8th minus before the
  1st (target <= 100 MiB), and the same after an explicit ``gc.collect()``; beside it, the same
  circuits run straight on AerSimulator in the same jobs, each set's results dropped with it (what
  running them at all leaves resident: Aer's and the allocator's, not the manager's).

Every run's counts are checked exact. The machine is shared: compare the ratios of one run.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import pathlib
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from typing import Any

from qiskit import QuantumCircuit

NUM_QUBITS = 5
SHOTS = 100
BIG = (20_000, 2_000)
"""Circuits, chunks."""
HUGE = (100_000, 1_000)
LISTED_SETS = 100
LISTING_ROUNDS = 5
RELEASE_SETS = (8, 5_000, 10)
"""Sets, circuits each, circuits per chunk."""
MIB = 2**20

WALL_TARGET = 1.05
PEAK_TARGET = 1.1
RUN_ADDED_TARGET_S = 0.050
RUN_TARGET_S = 0.2
LISTING_TARGET_S = 1.0
RELEASE_TARGET_MIB = 100.0


def circuits(count: int) -> list[QuantumCircuit]:
    built = []
    for i in range(count):
        qc = QuantumCircuit(NUM_QUBITS, NUM_QUBITS, name=f"basis_{i}")
        for qubit in range(NUM_QUBITS):
            if (i % 2**NUM_QUBITS) >> qubit & 1:
                qc.x(qubit)
        qc.measure(range(NUM_QUBITS), range(NUM_QUBITS))
        built.append(qc)
    return built


def expected(index: int) -> dict[str, int]:
    return {format(index % 2**NUM_QUBITS, f"0{NUM_QUBITS}b"): SHOTS}


def status_mib(field: str) -> float:
    """A field of /proc/self/status (VmHWM: peak resident memory; VmRSS: now), in MiB."""
    for line in pathlib.Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) * 1024 / MIB
    raise RuntimeError(f"no {field} in /proc/self/status")


def manager_for(variant: str) -> Any:
    from qjm_widget import JobManager

    return JobManager() if variant == "store" else JobManager(store=None)


def warm_up(variant: str) -> None:
    """Imports and Aer's first job out of the way, in the same kind of manager as measured
    (with the store: another file beside it, so the measured one holds only its set)."""
    from qiskit_aer import AerSimulator

    from qjm_widget import JobManager
    from qjm_widget.store import default_store_path

    store = None if variant == "none" else default_store_path().with_suffix(".warm.sqlite3")
    JobManager(store=store).run(circuits(20), AerSimulator(), max_experiments_per_job=10).results()


# -- children: one measurement each, in a fresh process ------------------------------------


def child_run(variant: str, num: int, chunks: int) -> dict[str, Any]:
    from qiskit_aer import AerSimulator

    warm_up(variant)
    experiments = circuits(num)
    backend = AerSimulator()
    manager = manager_for(variant)
    start = time.perf_counter()
    job_set = manager.run(experiments, backend, max_experiments_per_job=num // chunks, shots=SHOTS)
    returned = time.perf_counter() - start
    results = job_set.results(timeout=7200)
    wall = time.perf_counter() - start
    wrong = [i for i in range(num) if results.get_counts(i) != expected(i)]
    assert not wrong, f"{len(wrong)} experiments with wrong counts, e.g. {wrong[:5]}"
    return {
        "run_s": returned,
        "wall_s": wall,
        "peak_mib": status_mib("VmHWM"),
        "job_set_id": job_set.job_set_id(),
    }


def copy_set(path: pathlib.Path, job_set_id: str, copies: int) -> None:
    """``copies`` more sets in the file, each the rows of ``job_set_id`` (its row, chunks and
    circuit blocks, blobs included) under a new id, name and creation time."""
    db = sqlite3.connect(path, isolation_level=None)
    try:
        db.execute("BEGIN IMMEDIATE")
        tables = {"job_sets": "id", "chunks": "job_set_id", "circuit_blocks": "job_set_id"}
        for k in range(copies):
            new_id = uuid.uuid4().hex
            for table, key in tables.items():
                cursor = db.execute(f"SELECT * FROM {table} WHERE {key}=?", (job_set_id,))
                names = [d[0] for d in cursor.description]
                for row in cursor.fetchall():
                    values = dict(zip(names, row, strict=True))
                    values[key] = new_id
                    if table == "job_sets":
                        values["name"] = f"copy {k:03d}"
                        values["created_at"] -= k + 1
                        values["finished_at"] -= k + 1
                    marks = ",".join("?" * len(names))
                    db.execute(
                        f"INSERT INTO {table} ({','.join(names)}) VALUES ({marks})",
                        list(values.values()),
                    )
        db.execute("COMMIT")
    finally:
        db.close()


def child_listing(path: pathlib.Path, job_set_id: str) -> dict[str, Any]:
    from qjm_widget import JobManager
    from qjm_widget.lazy_job_set import LazyJobSet

    start = time.perf_counter()
    copy_set(path, job_set_id, LISTED_SETS - 1)
    filled = time.perf_counter() - start
    times = []
    for _ in range(LISTING_ROUNDS):
        start = time.perf_counter()
        manager = JobManager(store=path)
        listed = manager.job_sets()
        times.append(time.perf_counter() - start)
        assert len(listed) == LISTED_SETS, len(listed)
        assert all(isinstance(s, LazyJobSet) and not s.loaded for s in listed)
        assert manager.store is not None
        manager.store.close()
    size = sum(p.stat().st_size for p in path.parent.glob(path.name + "*"))  # with its WAL
    return {"fill_s": filled, "times_s": times, "file_mib": size / MIB}


def child_release() -> dict[str, Any]:
    import psutil
    from qiskit_aer import AerSimulator

    sets, num, per_job = RELEASE_SETS
    warm_up("store")
    backend = AerSimulator()
    manager = manager_for("store")
    process = psutil.Process()
    gc.collect()
    before = process.memory_info().rss / MIB
    after_each = []
    for _ in range(sets):
        experiments = circuits(num)
        job_set = manager.run(experiments, backend, max_experiments_per_job=per_job, shots=SHOTS)
        results = job_set.results(timeout=3600)
        assert all(results.get_counts(i) == expected(i) for i in range(0, num, 97))
        del job_set, results, experiments
        after_each.append(process.memory_info().rss / MIB)
    after = process.memory_info().rss / MIB
    held = len(manager.loaded_job_sets())
    # A pool thread may still be leaving the task that ended the last set (its closure holds
    # the set for that long): collect until the manager holds none, for at most 10 s.
    deadline = time.monotonic() + 10
    while gc.collect() >= 0 and manager.loaded_job_sets() and time.monotonic() < deadline:
        time.sleep(0.05)
    after_gc = process.memory_info().rss / MIB
    return {
        "before_mib": before,
        "after_each_mib": after_each,
        "after_mib": after,
        "held_after": held,
        "after_gc_mib": after_gc,
        "held_after_gc": len(manager.loaded_job_sets()),
    }


def child_release_raw() -> dict[str, Any]:
    """The same circuits run straight on AerSimulator, in the manager's jobs of 10, one at a
    time, each set's results held until the set is dropped (as the manager holds them): what
    running them at all leaves resident, the manager aside."""
    import psutil
    from qiskit_aer import AerSimulator

    sets, num, per_job = RELEASE_SETS
    backend = AerSimulator()
    backend.run(circuits(per_job), shots=SHOTS).result()
    process = psutil.Process()
    gc.collect()
    before = process.memory_info().rss / MIB
    for _ in range(sets):
        experiments = circuits(num)
        results = [
            backend.run(experiments[start : start + per_job], shots=SHOTS).result()
            for start in range(0, num, per_job)
        ]
        assert all(r.get_counts(0) == expected(k * per_job) for k, r in enumerate(results))
        del experiments, results
    after = process.memory_info().rss / MIB
    gc.collect()
    return {
        "before_mib": before,
        "after_mib": after,
        "after_gc_mib": process.memory_info().rss / MIB,
    }


def child(args: list[str]) -> None:
    kind = args[0]
    if kind == "run":
        outcome = child_run(args[1], int(args[2]), int(args[3]))
    elif kind == "listing":
        outcome = child_listing(pathlib.Path(args[1]), args[2])
    elif kind == "release_raw":
        outcome = child_release_raw()
    else:
        outcome = child_release()
    print(json.dumps(outcome), flush=True)


# -- the parent: runs the children, prints the table ----------------------------------------


def spawn(*args: str, store: pathlib.Path | None = None) -> dict[str, Any]:
    env = dict(os.environ)
    if store is not None:
        env["QJM_WIDGET_STORE"] = str(store)
    done = subprocess.run(
        [sys.executable, __file__, "--child", *args],
        capture_output=True,
        text=True,
        env=env,
        check=False,
        timeout=4 * 3600,
    )
    if done.returncode != 0:
        raise RuntimeError(f"child {args} failed ({done.returncode}):\n{done.stderr[-4000:]}")
    outcome: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return outcome


def run_pair(
    num: int, chunks: int, folder: pathlib.Path, tag: str, flip: bool = False
) -> dict[str, dict[str, Any]]:
    pair = {}
    for variant in ("store", "none") if flip else ("none", "store"):
        store = folder / f"{tag}-{variant}.sqlite3"
        outcome = spawn("run", variant, str(num), str(chunks), store=store)
        outcome["store"] = str(store)
        pair[variant] = outcome
        print(
            f"  {num:,} circuits, {variant:5}: run() {outcome['run_s'] * 1000:8.1f} ms  "
            f"wall {outcome['wall_s']:7.2f} s  peak {outcome['peak_mib']:7.0f} MiB",
            flush=True,
        )
    return pair


def verdict(ok: bool) -> str:
    return "OK" if ok else "MISSED"


def median(rounds: list[dict[str, dict[str, Any]]], variant: str, key: str) -> float:
    return statistics.median(r[variant][key] for r in rounds)


def brackets(rounds: list[dict[str, dict[str, Any]]], variant: str, key: str, scale: float) -> str:
    return (
        "["
        + ", ".join(f"{r[variant][key] * scale:.{0 if scale > 1 else 2}f}" for r in rounds)
        + "]"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3, help="rounds of the 20,000 sets")
    parser.add_argument("--child", nargs=argparse.REMAINDER, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child)
        return
    folder = pathlib.Path(tempfile.mkdtemp(prefix="qjm-store-bench-"))
    try:
        measure(args.rounds, folder)
    finally:
        shutil.rmtree(folder)  # about 2 GB: the listing's hundred sets


def measure(rounds_of_big: int, folder: pathlib.Path) -> None:
    print(f"store overhead: AerSimulator, {NUM_QUBITS}-qubit basis circuits, {SHOTS} shots")
    big: list[dict[str, dict[str, Any]]] = []
    for k in range(rounds_of_big):
        # Each variant first every other round: the machine's load drifts over a run.
        big.append(run_pair(*BIG, folder, f"big{k}", flip=k % 2 == 1))
    huge = [run_pair(*HUGE, folder, "huge")]
    listing = spawn("listing", big[-1]["store"]["store"], big[-1]["store"]["job_set_id"])
    print(f"  listing: {listing}", flush=True)
    release = spawn("release", store=folder / "release.sqlite3")
    print(f"  release: {release}", flush=True)
    release_raw = spawn("release_raw")
    print(f"  release, raw Aer: {release_raw}", flush=True)

    rows: list[tuple[str, str, str, str, str]] = []
    for label, rounds in (
        (f"{BIG[0]:,} circuits, {BIG[1]:,} chunks", big),
        (f"{HUGE[0]:,} circuits, {HUGE[1]:,} chunks", huge),
    ):
        none_run, store_run = median(rounds, "none", "run_s"), median(rounds, "store", "run_s")
        added = store_run - none_run
        target = f"store adds <= {RUN_ADDED_TARGET_S * 1000:.0f} ms"
        ok = added <= RUN_ADDED_TARGET_S
        if rounds is huge:
            target += f", run() <= {RUN_TARGET_S} s"
            ok = ok and store_run <= RUN_TARGET_S
        rows.append(
            (
                f"{label}: run() returns",
                f"{none_run * 1000:.1f} ms {brackets(rounds, 'none', 'run_s', 1000)}",
                f"{store_run * 1000:.1f} ms {brackets(rounds, 'store', 'run_s', 1000)}",
                f"{added * 1000:+.1f} ms",
                f"{target} {verdict(ok)}",
            )
        )
        none_wall, store_wall = median(rounds, "none", "wall_s"), median(rounds, "store", "wall_s")
        ratio = store_wall / none_wall
        rows.append(
            (
                f"{label}: run + results() wall",
                f"{none_wall:.2f} s {brackets(rounds, 'none', 'wall_s', 1)}",
                f"{store_wall:.2f} s {brackets(rounds, 'store', 'wall_s', 1)}",
                f"{ratio:.3f}",
                f"<= {WALL_TARGET} {verdict(ratio <= WALL_TARGET)}" if rounds is big else "",
            )
        )
        none_peak, store_peak = (
            median(rounds, "none", "peak_mib"),
            median(rounds, "store", "peak_mib"),
        )
        ratio = store_peak / none_peak
        rows.append(
            (
                f"{label}: peak memory (VmHWM)",
                f"{none_peak:.0f} MiB",
                f"{store_peak:.0f} MiB",
                f"{ratio:.3f}",
                f"<= {PEAK_TARGET} {verdict(ratio <= PEAK_TARGET)}",
            )
        )
    listed = statistics.median(listing["times_s"])
    rows.append(
        (
            f"job_sets() of {LISTED_SETS} stored sets of {BIG[0]:,} circuits, new manager",
            "",
            f"{listed * 1000:.0f} ms [{', '.join(f'{t * 1000:.0f}' for t in listing['times_s'])}]",
            "",
            f"<= {LISTING_TARGET_S} s {verdict(listed <= LISTING_TARGET_S)}",
        )
    )
    sets, num, _ = RELEASE_SETS
    for label, key in (("", "after_mib"), (", after gc.collect()", "after_gc_mib")):
        grown = release[key] - release["before_mib"]
        rows.append(
            (
                f"resident memory after {sets} sets of {num:,}, each dropped{label}",
                "",
                f"+{grown:.0f} MiB ({release['before_mib']:.0f} -> {release[key]:.0f})",
                "",
                f"<= +{RELEASE_TARGET_MIB:.0f} MiB {verdict(grown <= RELEASE_TARGET_MIB)}",
            )
        )
    for label, key in (("", "after_mib"), (", after gc.collect()", "after_gc_mib")):
        grown = release_raw[key] - release_raw["before_mib"]
        rows.append(
            (
                f"the same circuits straight on AerSimulator, jobs of {RELEASE_SETS[2]}, "
                f"each set's results dropped with it{label}",
                "",
                f"+{grown:.0f} MiB (raw: no manager)",
                "",
                "",
            )
        )
    header = ("measure", "store=None", "default store", "store vs none", "target")
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    print()
    for row in [header, tuple("-" * w for w in widths), *rows]:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)))


if __name__ == "__main__":
    main()
