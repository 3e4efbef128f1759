"""Parameter sweeps: the job manager over one raw run of the same sweep, side by side.

One 5-qubit circuit (rx per qubit, then measure) over 20,000 points x 100 shots:
- AerSimulator with ``parameter_binds``, chunks of 2,000 points: wall(JobManager.run +
  results()) over wall(one backend.run(..., parameter_binds=...) + result()), target <= 1.05;
  and the same points as 20,000 bound copies through the job manager (chunks of 2,000
  circuits), to show what binding on the backend saves.
- Aer's SamplerV2, one PUB of the 20,000 points split into 10 jobs: wall over one raw
  sampler.run, target <= 1.05.
- Resident memory: peak RSS of a process that runs the managed sweep over one that runs the raw
  one (each a fresh interpreter, the circuits and values built alike), target <= 1.3.

Rounds alternate raw and managed in one process (the machines' run-to-run spread is about
+-15 %, see DESIGN.md); the manager keeps no store (``store=None``), as a sweep of bound copies
would otherwise be measured writing 20,000 circuits.
"""

from __future__ import annotations

import math
import statistics
import subprocess
import sys
import time
from typing import Any

import numpy as np
from qiskit import QuantumCircuit
from qiskit.circuit import Parameter
from qiskit_aer import AerSimulator
from qiskit_aer.primitives import SamplerV2

from qjm_widget import JobManager

NUM_QUBITS = 5
POINTS = 20_000
SHOTS = 100
CHUNK_POINTS = 2_000
ROUNDS = 3
TIME_TARGET = 1.05
MEMORY_TARGET = 1.3


def sweep() -> tuple[QuantumCircuit, np.ndarray[Any, Any]]:
    """The circuit, and values whose point p prepares basis state p mod 32."""
    circuit = QuantumCircuit(NUM_QUBITS, NUM_QUBITS, name="sweep")
    for qubit in range(NUM_QUBITS):
        circuit.rx(Parameter(f"t{qubit}"), qubit)
    circuit.measure(range(NUM_QUBITS), range(NUM_QUBITS))
    values = np.array([[math.pi * (p >> q & 1) for q in range(NUM_QUBITS)] for p in range(POINTS)])
    return circuit, values


def binds_of(circuit: QuantumCircuit, values: np.ndarray[Any, Any]) -> list[dict[Any, Any]]:
    return [{p: values[:, i].tolist() for i, p in enumerate(circuit.parameters)}]


def timed(work: Any) -> tuple[float, Any]:
    start = time.perf_counter()
    out = work()
    return time.perf_counter() - start, out


def check_point(counts: dict[str, int], point: int) -> None:
    expected = format(point % 2**NUM_QUBITS, f"0{NUM_QUBITS}b")
    assert counts == {expected: SHOTS}, (point, counts)


def time_backend() -> None:
    circuit, values = sweep()
    backend = AerSimulator()
    binds = binds_of(circuit, values)
    manager = JobManager(store=None)
    copies = [circuit.assign_parameters(row) for row in values]
    raw_times, managed_times, copies_times = [], [], []
    for _ in range(ROUNDS):
        took, raw = timed(
            lambda: backend.run([circuit], shots=SHOTS, parameter_binds=binds).result()
        )
        raw_times.append(took)
        assert len(raw.results) == POINTS
        took, results = timed(
            lambda: manager.run(
                [circuit],
                backend,
                shots=SHOTS,
                parameter_binds=binds,
                max_executions_per_job=CHUNK_POINTS * SHOTS,
            ).results()
        )
        managed_times.append(took)
        check_point(results.get_counts(0, POINTS - 1), POINTS - 1)
        took, bound = timed(
            lambda: manager.run(
                copies, backend, shots=SHOTS, max_experiments_per_job=CHUNK_POINTS
            ).results()
        )
        copies_times.append(took)
        check_point(bound.get_counts(POINTS - 1), POINTS - 1)
    raw_t, managed_t, copies_t = map(statistics.median, (raw_times, managed_times, copies_times))
    ratio = managed_t / raw_t
    print(f"AerSimulator: {POINTS} points x {SHOTS} shots, chunks of {CHUNK_POINTS} points")
    print(f"  raw backend.run(parameter_binds)  median {raw_t:.2f} s  {rounded(raw_times)}")
    print(f"  JobManager, parameter_binds       median {managed_t:.2f} s  {rounded(managed_times)}")
    print(f"  JobManager, {POINTS} bound copies  median {copies_t:.2f} s  {rounded(copies_times)}")
    print(
        f"  ratio managed / raw {ratio:.3f} (target <= {TIME_TARGET}) {verdict(ratio, TIME_TARGET)}"
    )
    print(f"  binds over bound copies: {copies_t / managed_t:.2f}x faster")


def time_sampler() -> None:
    circuit, values = sweep()
    sampler = SamplerV2()
    manager = JobManager(store=None)
    raw_times, managed_times = [], []
    for _ in range(ROUNDS):
        took, raw = timed(lambda: sampler.run([(circuit, values)], shots=SHOTS).result())
        raw_times.append(took)
        took, results = timed(
            lambda: manager.run(
                [(circuit, values)],
                sampler,
                shots=SHOTS,
                max_executions_per_job=POINTS * SHOTS // 10,
            ).results()
        )
        managed_times.append(took)
        assert np.array_equal(results.pub_result(0).data.c.array, raw[0].data.c.array)
    raw_t, managed_t = statistics.median(raw_times), statistics.median(managed_times)
    ratio = managed_t / raw_t
    print(f"Aer SamplerV2: one PUB of {POINTS} points x {SHOTS} shots, 10 jobs")
    print(f"  raw sampler.run                   median {raw_t:.2f} s  {rounded(raw_times)}")
    print(f"  JobManager                        median {managed_t:.2f} s  {rounded(managed_times)}")
    print(
        f"  ratio managed / raw {ratio:.3f} (target <= {TIME_TARGET}) {verdict(ratio, TIME_TARGET)}"
    )


def run_once(kind: str) -> None:
    """One sweep in this process, for its peak resident memory."""
    circuit, values = sweep()
    binds = binds_of(circuit, values)
    if kind == "raw":
        result = AerSimulator().run([circuit], shots=SHOTS, parameter_binds=binds).result()
        assert len(result.results) == POINTS
    else:
        results = (
            JobManager(store=None)
            .run(
                [circuit],
                AerSimulator(),
                shots=SHOTS,
                parameter_binds=binds,
                max_executions_per_job=CHUNK_POINTS * SHOTS,
            )
            .results()
        )
        check_point(results.get_counts(0, 7), 7)
    print(peak_of_this_process())


def peak_of_this_process() -> int:
    """VmHWM in KiB: this process's own high-water mark (ru_maxrss would carry the launching
    process's peak across fork and exec)."""
    with open("/proc/self/status") as status:
        line = next(line for line in status if line.startswith("VmHWM:"))
    return int(line.split()[1])


def peak_rss(kind: str) -> int:
    out = subprocess.run(
        [sys.executable, __file__, "--once", kind], check=True, capture_output=True, text=True
    )
    return int(out.stdout.split()[-1])


def memory() -> None:
    raw, managed = peak_rss("raw"), peak_rss("managed")
    ratio = managed / raw
    print(f"Memory: peak RSS of one process per run, {POINTS} points on AerSimulator")
    print(f"  raw {raw / 1024:.0f} MiB, JobManager {managed / 1024:.0f} MiB")
    print(f"  ratio {ratio:.2f} (target <= {MEMORY_TARGET}) {verdict(ratio, MEMORY_TARGET)}")


def rounded(times: list[float]) -> list[float]:
    return [round(t, 2) for t in times]


def verdict(ratio: float, target: float) -> str:
    return "OK" if ratio <= target else "MISSED"


if __name__ == "__main__":
    if sys.argv[1:2] == ["--once"]:
        run_once(sys.argv[2])
    else:
        time_backend()
        time_sampler()
        memory()
