"""Comm traffic of the widget per chunk state change, at 100, 1,000 and 5,000 chunks.

A real job set on Aer (each job held 0.2 s in a queue so states change over time), a real
JobSetWidget writing on an asyncio loop in its own thread (as on the kernel's), and a comm that
records what would go over the wire. O(1) per change is the goal: the figures should not grow
with the number of chunks.
"""

from __future__ import annotations

import asyncio
import pathlib
import sys
import threading

import comm
from qiskit import QuantumCircuit
from qiskit_aer import AerSimulator

from qjm_widget import ChunkState, JobManager
from qjm_widget.testing import FaultyBackend
from qjm_widget.widget import STATE_CODES, JobSetWidget

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent / "tests"))
from comm_recorder import RecordingComm, replay_deltas
from support import wait_until

SIZES = (100, 1000, 5000)


def circuit(index: int) -> QuantumCircuit:
    qc = QuantumCircuit(2, 2, name=f"c{index}")
    if index % 2:
        qc.x(0)
    qc.measure([0, 1], [0, 1])
    return qc


def measure(loop: asyncio.AbstractEventLoop, num_chunks: int) -> tuple[int, int, int, float]:
    backend = FaultyBackend(AerSimulator(), hold_queued=0.2)
    job_set = JobManager(store=None).run(
        [circuit(i) for i in range(num_chunks)],
        backend,
        max_experiments_per_job=1,
        shots=1,
        max_concurrent_jobs=250,
    )

    async def make() -> JobSetWidget:
        return JobSetWidget(job_set, loop=loop)

    widget = asyncio.run_coroutine_threadsafe(make(), loop).result()
    recorder = widget.comm
    assert isinstance(recorder, RecordingComm)
    start = len(recorder.updates())
    job_set.wait()
    # Not widget.finished_at: it is set before the message with the last delta is sent (when
    # hold_sync ends, on the loop's thread). Wait for that message itself.
    done = bytes([STATE_CODES[ChunkState.DONE]]) * num_chunks
    if not wait_until(lambda: replay_deltas(recorder.updates(), num_chunks)[0] == done, 60):
        raise RuntimeError(f"{num_chunks} chunks: the deltas did not reach the end in 60 s")
    messages = recorder.updates()[start:]
    _codes, changes = replay_deltas(messages, num_chunks)
    total = sum(m.size for m in messages)
    widget.close()
    return changes, len(messages), total, job_set.elapsed


def main() -> None:
    comm.create_comm = RecordingComm  # what ipykernel does, with a recorder instead of zmq
    loop = asyncio.new_event_loop()
    threading.Thread(target=loop.run_forever, daemon=True).start()
    print("widget comm traffic per chunk state change")
    print(
        f"{'chunks':>7} {'changes':>8} {'messages':>9} {'bytes':>9} {'B/change':>9} "
        f"{'msgs/change':>12} {'msgs/s':>7}"
    )
    for size in SIZES:
        changes, messages, total, elapsed = measure(loop, size)
        print(
            f"{size:>7} {changes:>8} {messages:>9} {total:>9} {total / changes:>9.1f} "
            f"{messages / changes:>12.3f} {messages / elapsed:>7.1f}"
        )
    loop.call_soon_threadsafe(loop.stop)


if __name__ == "__main__":
    main()
