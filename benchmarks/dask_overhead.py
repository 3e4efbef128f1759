"""What going through Dask costs, on a 2-core machine where no speed-up is possible.

Heavy: 40 random circuits of 20 qubits, depth 20, 1,000 shots, one circuit a chunk: wall on a
2-worker LocalCluster (one thread each) over wall of the same set in process (Aer using both
cores), alternating, median of 3 rounds. Target <= 1.10.

Light: 2,000 five-qubit basis circuits in 200 chunks, 100 shots: the Dask path's overhead per
chunk in ms ((wall on Dask - wall in process) / chunks, both runs on the same two cores), and
the bytes one chunk puts on the wire (QPY and slice values in, counts out, as pickle protocol 5
serializes them for Dask).

Then an estimate, from the per-chunk figures, of the heavy set's wall time on N workers, so that
users can size a cluster. Both managers run without a store, to time the path alone.
"""

from __future__ import annotations

import argparse
import math
import pickle
import statistics
import time
from typing import Any

import numpy as np
from qiskit import QuantumCircuit
from qiskit_aer import AerSimulator

from qjm_widget import JobManager
from qjm_widget.backends.dask_task import run_chunk, slice_specs, to_qpy
from qjm_widget.backends.shipping import describe
from qjm_widget.workload import experiments_from, slices_of

HEAVY = 40
HEAVY_QUBITS = 20
HEAVY_DEPTH = 20
SHOTS = 1000
LIGHT = 2000
LIGHT_CHUNKS = 200
LIGHT_SHOTS = 100
ROUNDS = 3
TARGET = 1.10


def heavy_circuit(seed: int) -> QuantumCircuit:
    """Depth HEAVY_DEPTH (before measuring): layers of a random ry on every qubit, then cx on
    random disjoint pairs."""
    rng = np.random.default_rng(seed)
    qc = QuantumCircuit(HEAVY_QUBITS, HEAVY_QUBITS, name=f"heavy_{seed}")
    for _ in range(HEAVY_DEPTH // 2):
        for qubit in range(HEAVY_QUBITS):
            qc.ry(float(rng.uniform(0, np.pi)), qubit)
        order = rng.permutation(HEAVY_QUBITS)
        for a, b in zip(order[::2], order[1::2], strict=True):
            qc.cx(int(a), int(b))
    qc.measure(range(HEAVY_QUBITS), range(HEAVY_QUBITS))
    return qc


def heavy_circuits() -> list[QuantumCircuit]:
    return [heavy_circuit(seed) for seed in range(HEAVY)]


def light_circuit(index: int) -> QuantumCircuit:
    qc = QuantumCircuit(5, 5, name=f"c{index}")
    for qubit in range(5):
        if index % 32 >> qubit & 1:
            qc.x(qubit)
    qc.measure(range(5), range(5))
    return qc


def timed(
    manager: JobManager, circuits: list[QuantumCircuit], per_job: int, backend: Any, **kw: Any
) -> float:
    start = time.perf_counter()
    job_set = manager.run(circuits, backend, max_experiments_per_job=per_job, **kw)
    results = job_set.results(timeout=3600)
    elapsed = time.perf_counter() - start
    assert results.success, job_set.report()
    return elapsed


def wire_bytes(circuits: list[QuantumCircuit], shots: int) -> tuple[int, int]:
    """Bytes of one chunk's task arguments and of its result, as Dask pickles them."""
    slices = slices_of(experiments_from(circuits), 0, len(circuits) - 1, None)
    description = describe(AerSimulator())
    args = (description, to_qpy(circuits), slice_specs(slices), shots, {}, False)
    payload = run_chunk(*args)
    return len(pickle.dumps(args, protocol=5)), len(pickle.dumps(payload, protocol=5))


def main() -> None:
    from distributed import Client, LocalCluster

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=ROUNDS, help="interleaved rounds")
    parser.add_argument("--light-only", action="store_true", help="skip the heavy set")
    args = parser.parse_args()
    rounds = args.rounds
    aer = AerSimulator()
    # The light chunks on one thread each, in process as on the workers: the manager's threads
    # run several at once, and Aer's own threads on top of them only fight for the two cores.
    single = AerSimulator(max_parallel_threads=1)

    heavy = heavy_circuits()
    light = [light_circuit(i) for i in range(LIGHT)]
    per_light_chunk = LIGHT // LIGHT_CHUNKS
    here = JobManager(store=None)
    with (
        LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
        ) as cluster,
        Client(cluster) as client,
    ):
        dask = JobManager(store=None)
        # Warm-up: the workers import qiskit and Aer on their first task.
        timed(dask, light[:20], 1, aer, executor=client, shots=10)
        timed(here, light[:20], 1, aer, shots=10)
        local_heavy, dask_heavy, local_light, dask_light = [], [], [], []
        for _ in range(rounds):
            if not args.light_only:
                local_heavy.append(timed(here, heavy, 1, aer, shots=SHOTS))
                dask_heavy.append(timed(dask, heavy, 1, aer, executor=client, shots=SHOTS))
            local_light.append(timed(here, light, per_light_chunk, single, shots=LIGHT_SHOTS))
            dask_light.append(
                timed(dask, light, per_light_chunk, single, executor=client, shots=LIGHT_SHOTS)
            )
    overhead_ms = statistics.median(
        (d - h) / LIGHT_CHUNKS * 1000 for d, h in zip(dask_light, local_light, strict=True)
    )
    args_bytes, result_bytes = wire_bytes(light[:per_light_chunk], LIGHT_SHOTS)
    heavy_args, heavy_result = wire_bytes(heavy[:1], SHOTS)
    print(f"light: {LIGHT} circuits in {LIGHT_CHUNKS} chunks, {LIGHT_SHOTS} shots")
    print(f"  in process   median {statistics.median(local_light):.2f} s  {local_light}")
    print(f"  on Dask (2)  median {statistics.median(dask_light):.2f} s  {dask_light}")
    print(f"  Dask overhead per chunk: {overhead_ms:.2f} ms")
    print(
        f"  wire per chunk of {per_light_chunk}: {args_bytes} B in, {result_bytes} B out "
        f"(a heavy chunk: {heavy_args} B in, {heavy_result} B out)"
    )
    if not dask_heavy:
        return
    ratio = statistics.median(d / h for d, h in zip(dask_heavy, local_heavy, strict=True))
    print(
        f"heavy: {HEAVY} circuits of {HEAVY_QUBITS} qubits, depth {HEAVY_DEPTH}, {SHOTS} shots, "
        "one a chunk"
    )
    print(f"  in process   median {statistics.median(local_heavy):.2f} s  {local_heavy}")
    print(f"  on Dask (2)  median {statistics.median(dask_heavy):.2f} s  {dask_heavy}")
    print(f"  ratio Dask / in process (median of interleaved rounds): {ratio:.3f}")
    print(f"  target <= {TARGET}: {'met' if ratio <= TARGET else 'NOT met'}")
    # A chunk's time on one single-thread worker, overhead included, as measured on two.
    chunk_seconds = statistics.median(dask_heavy) * 2 / HEAVY
    print(f"estimate for the heavy set on N workers ({chunk_seconds:.2f} s a chunk on one):")
    for workers in (1, 2, 4, 8, 16, 40):
        per_worker = math.ceil(HEAVY / workers)
        print(f"  N={workers:>2}: {per_worker * chunk_seconds:7.1f} s  ({per_worker} chunks each)")


if __name__ == "__main__":
    main()
