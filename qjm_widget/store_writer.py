"""Writes running job sets to the store off their threads.

``run()`` writes only the set's row; this writer then stores its circuits in chunk order, each
chunk's before the chunk may be submitted (a crash never leaves a submitted job whose circuits
the store lacks), and the chunks' changes in batches: every chunk that changed since the last
transaction is written once, in the next one, with its latest state. One thread per store,
started when there is something to write, ended when there is not.

A transaction that fails (a full disk, say) loses nothing: what it held goes back to be written
again, after a back-off, and the chunks whose circuits it held wait to be submitted until they
are stored. The failure is logged once as a warning, the recovery once as info. ``wait()`` and
``results()`` do not wait out such a store: they have it try once more, and return with a
warning if that fails too.
"""

from __future__ import annotations

import copy
import logging
import sqlite3
import sys
import threading
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .chunk import ChunkState, ManagedJob
from .store_rows import block_statement, chunk_statement, fields_statement

if TYPE_CHECKING:
    from .jobset import ManagedJobSet
    from .store import Store

logger = logging.getLogger(__name__)

_FIRST_BLOCK_MAX = 2_000
"""Experiments in one transaction's block at most: the first block holds the first chunk's
experiments only, so its job goes at once; blocks then double up to this."""
FLUSH_TIMEOUT_S = 120.0
RETRY_DELAYS_S = (0.1, 5.0)
"""The first wait after a failed write, and the longest (each failure doubles it)."""


@dataclass(eq=False)
class _SetWrites:
    """What is still to write of one job set."""

    job_set: ManagedJobSet
    blocks: deque[tuple[int, int]] = field(default_factory=deque)
    """Experiment ranges (inclusive) whose circuits are not stored yet, in chunk order."""
    stored_through: int = sys.maxsize
    """Experiments ``0..stored_through`` are stored (blocks go in order): all of them unless
    :meth:`StoreWriter.add` gave the set blocks to write."""
    dirty: dict[int, bool] = field(default_factory=dict)
    """Chunks changed since the last write; True where the change brought new results."""
    fields: dict[str, Any] = field(default_factory=dict)
    block_size: int = 0
    next_chunk: int = 0
    """The first chunk whose row has not gone with its circuits yet."""
    writing: bool = False
    failures: int = 0
    """Writes of the set that failed in a row."""
    failure: str = ""
    """Why the last of them failed."""
    retry_at: float = 0.0
    """After a failed write: no other before this (monotonic clock)."""
    began: float = 0.0
    """When the latest write of the set began (monotonic clock)."""

    @property
    def idle(self) -> bool:
        return not (self.blocks or self.dirty or self.fields or self.writing)

    def put_back(
        self, dirty: dict[int, bool], fields: dict[str, Any], block: tuple[int, int] | None
    ) -> None:
        """What a failed transaction held, to be written again: its block first, its chunks
        merged with those changed since, its fields under newer values."""
        if block is not None:
            self.blocks.appendleft(block)
        for index, new_results in dirty.items():
            self.dirty[index] = self.dirty.get(index, False) or new_results
        self.fields = {**fields, **self.fields}
        self.failures += 1
        first, longest = RETRY_DELAYS_S
        self.retry_at = time.monotonic() + min(first * 2 ** (self.failures - 1), longest)


def block_ranges(chunks: Sequence[ManagedJob]) -> deque[tuple[int, int]]:
    """The experiments each chunk adds to those of the chunks before it, in chunk order
    (chunks cut from one experiment's points or shots share its circuit)."""
    ranges: deque[tuple[int, int]] = deque()
    through = -1
    for chunk in chunks:
        if chunk.end_index > through:
            ranges.append((max(chunk.start_index, through + 1), chunk.end_index))
            through = chunk.end_index
    return ranges


class StoreWriter:
    """The one writer of a store's running sets (see the module's docs)."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self._sets: dict[str, _SetWrites] = {}
        self._thread: threading.Thread | None = None

    # -- what the job sets tell the writer -----------------------------------------------

    def add(self, job_set: ManagedJobSet) -> None:
        """Store ``job_set``'s circuits from now on, in chunk order; its row is written."""
        with self._lock:
            writes = self._entry(job_set)
            writes.blocks = block_ranges(job_set.managed_jobs())
            writes.stored_through = -1
            self._kick()

    def stored(self, job_set_id: str, chunk: ManagedJob) -> bool:
        """True once ``chunk``'s circuits are in the store, so its job may be submitted."""
        with self._lock:
            writes = self._sets.get(job_set_id)
            # Not "no blocks left": the last one leaves the queue before it is committed.
            return writes is None or chunk.end_index <= writes.stored_through

    def why_held(self, job_set_id: str) -> str | None:
        """Why the set's chunks whose circuits are not stored wait, while writing them fails;
        None while they wait only for the writer's turn."""
        with self._lock:
            writes = self._sets.get(job_set_id)
            if writes is None or not writes.failures or not writes.blocks:
                return None
            return (
                f"waits for its circuits to be stored: the store cannot be written "
                f"({writes.failure}); trying again"
            )

    def chunk_changed(self, job_set: ManagedJobSet, index: int, new_results: bool) -> None:
        with self._lock:
            writes = self._entry(job_set)
            writes.dirty[index] = writes.dirty.get(index, False) or new_results
            self._kick()

    def fields_changed(self, job_set: ManagedJobSet, **fields: Any) -> None:
        with self._lock:
            self._entry(job_set).fields.update(fields)
            self._kick()

    def flush(self, job_set_id: str, timeout: float = FLUSH_TIMEOUT_S) -> bool:
        """Wait until everything of the set is written; False if that took over ``timeout``, or
        at once if a write begun during the wait failed: the store cannot be written now (a full
        disk), the caller has the set in memory, and the writer goes on trying without it."""
        asked = time.monotonic()
        deadline = asked + timeout
        with self._changed:
            while (writes := self._sets.get(job_set_id)) is not None:
                if writes.failures and not writes.writing:
                    if writes.began >= asked:
                        logger.warning(
                            "job set %s: not all of it is stored yet: the store cannot be "
                            "written (%s); the writer keeps trying",
                            job_set_id,
                            writes.failure,
                        )
                        return False
                    if writes.retry_at > asked:
                        # One more try now: the last one failed before this wait.
                        writes.retry_at = asked
                        self._kick()
                left = deadline - time.monotonic()
                if left <= 0:
                    logger.warning(
                        "job set %s: the store is still writing after %s s", job_set_id, timeout
                    )
                    return False
                self._changed.wait(left)
        return True

    def _entry(self, job_set: ManagedJobSet) -> _SetWrites:
        job_set_id = job_set.job_set_id()
        writes = self._sets.get(job_set_id)
        if writes is None:
            writes = self._sets[job_set_id] = _SetWrites(job_set)
        return writes

    def _kick(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="qjm-store-writer", daemon=True)
            self._thread.start()
        self._changed.notify_all()

    # -- the writer thread ----------------------------------------------------------------

    def _next(self) -> _SetWrites | None:
        """The next set to write (under the lock), waiting out back-offs; None: nothing left."""
        while True:
            waiting = [w for w in self._sets.values() if not w.writing]
            if not waiting:
                return None
            now = time.monotonic()
            ready = next((w for w in waiting if w.retry_at <= now), None)
            if ready is not None:
                return ready
            self._changed.wait(min(w.retry_at for w in waiting) - now)

    def _run(self) -> None:
        while True:
            with self._lock:
                writes = self._next()
                if writes is None:
                    self._thread = None
                    self._changed.notify_all()
                    return
                # Round robin: the set goes last once this transaction is taken from it.
                job_set_id = writes.job_set.job_set_id()
                self._sets[job_set_id] = self._sets.pop(job_set_id)
                block = self._take_block(writes)
                if block is not None:
                    # Each chunk's row goes with (or before) its circuits, in chunk order.
                    chunks = writes.job_set.managed_jobs()
                    while writes.next_chunk < len(chunks) and (
                        chunks[writes.next_chunk].end_index <= block[1]
                    ):
                        writes.dirty.setdefault(writes.next_chunk, False)
                        writes.next_chunk += 1
                dirty, writes.dirty = writes.dirty, {}
                fields, writes.fields = writes.fields, {}
                writes.writing = True
                writes.began = time.monotonic()
            failure: Exception | None = None
            try:
                self._store.write(self._statements(writes.job_set, dirty, fields, block))
            except (sqlite3.Error, OSError) as exc:  # the file's: another try may do
                failure = exc
            except Exception:  # what it held cannot be written at all: another try cannot help
                logger.exception(
                    "could not write job set %s to the store %s", job_set_id, self._store.path
                )
            with self._lock:
                writes.writing = False
                first_failure = failure is not None and writes.failures == 0
                if failure is not None:
                    writes.put_back(dirty, fields, block)
                    writes.failure = str(failure)
                    block = None
                else:
                    if block is not None:
                        writes.stored_through = block[1]
                    if writes.failures:
                        logger.info("job set %s: the store is written again", job_set_id)
                    writes.failures = 0
                    if writes.idle:
                        del self._sets[job_set_id]
                self._changed.notify_all()
            if first_failure:
                logger.warning(
                    "job set %s: could not write to the store %s (%s); trying again, and its "
                    "chunks whose circuits are not stored wait to be submitted",
                    job_set_id,
                    self._store.path,
                    failure,
                )
            if block is not None or first_failure:
                # Chunks whose circuits are now stored may go; or those held show why.
                writes.job_set._start()

    @staticmethod
    def _take_block(writes: _SetWrites) -> tuple[int, int] | None:
        """The next experiments to store: the first chunk's alone, then twice as many each
        time, whole chunks, up to ``_FIRST_BLOCK_MAX``."""
        if not writes.blocks:
            return None
        first, last = writes.blocks.popleft()
        budget = min(max(2 * writes.block_size, 1), _FIRST_BLOCK_MAX)
        while writes.blocks and writes.blocks[0][1] - first + 1 <= budget:
            last = writes.blocks.popleft()[1]
        writes.block_size = last - first + 1
        return first, last

    def _statements(
        self,
        job_set: ManagedJobSet,
        dirty: dict[int, bool],
        fields: dict[str, Any],
        block: tuple[int, int] | None,
    ) -> list[tuple[str, Sequence[Any]]]:
        job_set_id = job_set.job_set_id()
        chunks = job_set.managed_jobs()
        with job_set._lock:  # one consistent state per chunk; results lists are never mutated
            copies = [copy.copy(chunks[index]) for index in dirty]
        statements = [
            chunk_statement(
                job_set_id,
                chunk,
                # Done means its results too: the copy may be done already while the event that
                # brought the results (new_results) has not reached chunk_changed yet.
                with_results=chunk.results is not None
                and (dirty[chunk.index] or chunk.state is ChunkState.DONE),
            )
            for chunk in copies
        ]
        if block is not None:
            experiments = job_set.experiments()[block[0] : block[1] + 1]
            try:
                statements.append(block_statement(job_set_id, block[0], experiments))
            except Exception as exc:
                # Not the file's fault (QPY cannot encode them): another try cannot help, and
                # the set still runs, from the circuits in memory.
                logger.error(
                    "job set %s: experiments %d-%d cannot be stored (%s); they run, but the "
                    "store cannot give them back after a restart",
                    job_set_id,
                    block[0],
                    block[1],
                    exc,
                )
        if fields:
            statements.append(fields_statement(job_set_id, **fields))
        return statements
