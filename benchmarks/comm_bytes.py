"""Comm traffic of the widget per chunk state change, at 100, 1,000 and 5,000 chunks.

A real job set on Aer (each job held 0.2 s in a queue so states change over time), a real
JobSetWidget writing on an asyncio loop in its own thread (as on the kernel's), and a comm that
records what would go over the wire. O(1) per change is the goal: the figures should not grow
with the number of chunks.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from typing import Any

import comm
from comm.base_comm import BaseComm
from qiskit import QuantumCircuit
from qiskit_aer import AerSimulator

from qjm_widget import JobManager
from qjm_widget.testing import FaultyBackend
from qjm_widget.widget import JobSetWidget

SIZES = (100, 1000, 5000)


class RecordingComm(BaseComm):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.messages: list[tuple[int, list[bytes]]] = []
        super().__init__(*args, **kwargs)

    def publish_msg(
        self,
        msg_type: str,
        data: Any = None,
        metadata: Any = None,
        buffers: Any = None,
        **keys: Any,
    ) -> None:
        if msg_type == "comm_msg":
            raw = [bytes(b) for b in buffers or []]
            paths = (data or {}).get("buffer_paths", [])
            deltas = [b for p, b in zip(paths, raw, strict=False) if p == ["delta"]]
            self.messages.append((len(json.dumps(data)) + sum(map(len, raw)), deltas))


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
    start = len(recorder.messages)
    job_set.wait()
    while widget.finished_at == 0:
        time.sleep(0.05)
    messages = recorder.messages[start:]
    changes = sum((len(d) - 4) // 5 for _, deltas in messages for d in deltas)
    total = sum(size for size, _ in messages)
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
