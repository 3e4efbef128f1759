"""Helpers of the Dask tests: chunks that take a while with every shot still known, and a
cluster started the way real ones are (``dask scheduler``, ``dask worker`` processes on
127.0.0.1), each process started and stopped by its PID."""

from __future__ import annotations

import os
import pathlib
import signal
import socket
import subprocess
import sys
import time
from typing import Any

from qiskit import QuantumCircuit

SLOW_QUBITS = 10
_LAYERS = 6


def slow_backend() -> Any:
    """An AerSimulator that simulates shot by shot: a Z error after every identity gate. On a
    basis state Z only adds a phase, so every shot still reads the state prepared."""
    from qiskit_aer import AerSimulator
    from qiskit_aer.noise import NoiseModel, pauli_error

    noise = NoiseModel()
    noise.add_all_qubit_quantum_error(pauli_error([("Z", 0.5), ("I", 0.5)]), ["id"])
    return AerSimulator(noise_model=noise, max_parallel_threads=1)


def slow_circuit(index: int) -> QuantumCircuit:
    """|index> on SLOW_QUBITS qubits through layers of noisy identities (~150 us a shot). The
    measurement before them (its bit is measured again at the end) keeps Aer from sampling all
    shots from one simulation: without it a shot costs ~2 us, and a chunk ends before a test
    can see it run."""
    circuit = QuantumCircuit(SLOW_QUBITS, SLOW_QUBITS, name=f"slow_{index}")
    for qubit in range(SLOW_QUBITS):
        if index >> qubit & 1:
            circuit.x(qubit)
    circuit.measure(0, 0)
    for _ in range(_LAYERS):
        for qubit in range(SLOW_QUBITS):
            circuit.id(qubit)
    circuit.measure(range(SLOW_QUBITS), range(SLOW_QUBITS))
    return circuit


def slow_key(index: int) -> str:
    return format(index, f"0{SLOW_QUBITS}b")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


DASK = str(pathlib.Path(sys.executable).with_name("dask"))


class CliCluster:
    """``dask scheduler`` and ``dask worker`` processes on 127.0.0.1, as on a real cluster."""

    def __init__(self, log_dir: pathlib.Path) -> None:
        self.port = free_port()
        self.address = f"tcp://127.0.0.1:{self.port}"
        self._logs = log_dir
        self.scheduler: subprocess.Popen[bytes] | None = None
        self.workers: dict[str, subprocess.Popen[bytes]] = {}
        self._started = 0

    def _spawn(self, name: str, *args: str) -> subprocess.Popen[bytes]:
        log = open(self._logs / f"{name}.log", "ab")  # noqa: SIM115 - the process keeps it
        env = {**os.environ, "PYTHONPATH": str(pathlib.Path(__file__).parents[1])}
        try:
            return subprocess.Popen([DASK, *args], stdout=log, stderr=log, env=env)
        finally:
            log.close()

    def start_scheduler(self) -> None:
        self.scheduler = self._spawn(
            "scheduler",
            "scheduler",
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--dashboard-address",
            f"127.0.0.1:{free_port()}",
        )

    def start_worker(self) -> str:
        """A worker with no nanny, so its PID is the process that runs tasks."""
        self._started += 1
        name = f"w{self._started}"
        self.workers[name] = self._spawn(
            name,
            "worker",
            self.address,
            "--name",
            name,
            "--nthreads",
            "1",
            "--no-nanny",
            "--host",
            "127.0.0.1",
            "--no-dashboard",
        )
        return name

    def kill(self, process: subprocess.Popen[bytes]) -> None:
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)

    def stop(self) -> None:
        processes = [*self.workers.values(), *([self.scheduler] if self.scheduler else [])]
        for process in processes:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 5  # a clean close; then SIGKILL, as a tidy test ends
        for process in processes:
            try:
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                self.kill(process)
