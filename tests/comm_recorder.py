"""A comm that records what a widget would send over the wire (as ipykernel's comm would send it).

The comm is the widget's host, not the code under test: tests and benchmarks put it in place of
the kernel's with ``comm.create_comm = RecordingComm``.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from comm.base_comm import BaseComm


@dataclass
class Sent:
    at: float
    kind: str
    data: dict[str, Any]
    buffers: list[bytes]
    size: int

    def buffer(self, trait: str) -> bytes | None:
        paths = self.data.get("buffer_paths", [])
        return self.buffers[paths.index([trait])] if [trait] in paths else None


class RecordingComm(BaseComm):
    """Keeps every message a widget publishes, with its buffers and its size on the wire."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.sent: list[Sent] = []
        super().__init__(*args, **kwargs)

    def publish_msg(
        self,
        msg_type: str,
        data: Any = None,
        metadata: Any = None,
        buffers: Any = None,
        **keys: Any,
    ) -> None:
        raw = [bytes(b) for b in buffers or []]
        size = len(json.dumps(data, default=str)) + sum(len(b) for b in raw)
        self.sent.append(Sent(time.monotonic(), msg_type, data or {}, raw, size))

    def updates(self) -> list[Sent]:
        return [m for m in self.sent if m.kind == "comm_msg"]


def decode_delta(raw: bytes) -> tuple[int, dict[int, int]]:
    seq = int.from_bytes(raw[:4], "little")
    entries = {int.from_bytes(raw[i : i + 4], "little"): raw[i + 4] for i in range(4, len(raw), 5)}
    return seq, entries


def replay_deltas(messages: Iterable[Sent], num_chunks: int) -> tuple[bytearray, int]:
    """Each chunk's code as the deltas of ``messages`` alone leave it, from every chunk pending
    (code 0), and how many changes those deltas carried. Snapshots (``states``) are left out:
    what this tells is whether the deltas by themselves reached a state."""
    codes = bytearray(num_chunks)
    changes = 0
    for message in messages:
        delta = message.buffer("delta")
        if delta is not None:
            _seq, entries = decode_delta(delta)
            changes += len(entries)
            for index, code in entries.items():
                codes[index] = code
    return codes, changes


@contextmanager
def kernel_event_loop() -> Iterator[asyncio.AbstractEventLoop]:
    """An event loop in its own thread, as the kernel's runs beside the job manager's."""
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, name="kernel-loop", daemon=True)
    thread.start()
    try:
        yield loop
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join(5)
        loop.close()


def on_loop(loop: asyncio.AbstractEventLoop, fn: Callable[[], Any]) -> Any:
    """Run ``fn`` on the loop, as the kernel runs a cell or handles a message from the view."""

    async def call() -> Any:
        return fn()

    return asyncio.run_coroutine_threadsafe(call(), loop).result(10)
