"""Following a job set that another process runs: a read-only copy, kept live from the store.

The process that runs a set writes each change of its chunks to the store as it happens
(persistence.record). A follower re-reads the cheap columns of the set's chunk rows once a
second, decodes only the chunks whose columns changed, and hands them to the copy, which takes
them on through the runner's own ``_move`` and counts ledger: its subscribers (the widget, a
progress bar) see the usual ``chunk``, ``counts`` and ``final`` events, and a chunk's counts
replace its earlier ones. The copy has no backend and is never scheduled, so it cannot submit.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
import weakref
from collections.abc import Sequence
from typing import Any, NoReturn

from .chunk import ChunkState, ManagedJob
from .events import JobSetEvent
from .exceptions import JobManagerInvalidStateError
from .jobset import ManagedJobSet
from .persistence import DetachedAdapter, job_set_arguments, stored_job
from .scheduler import Scheduler
from .store import Store, StoredJobSet, current_owner, owner_is_alive

logger = logging.getLogger(__name__)

READ_INTERVAL_SECONDS = 1.0
"""A follower reads the store at most this often."""
_CHUNKS_PER_READ = 500
_WRITE_WAIT_SECONDS = 60.0
"""Chunks decoded per query: SQLite bounds the number of parameters of one statement."""

# The columns that change as a chunk moves on; a row whose columns are unchanged is not decoded.
_CHUNK_COLUMNS = (
    "SELECT idx, state, status, attempts, job_id, error, note, submitted_at, finished_at, "
    "usage_seconds, previous_job_ids, results IS NOT NULL FROM chunks WHERE job_set_id=? "
    "ORDER BY idx"
)
_MIRRORED = (
    "job",
    "job_id",
    "job_status",
    "attempts",
    "error",
    "note",
    "submitted_at",
    "usage_seconds",
    "previous_job_ids",
)

Owner = tuple[str | None, int | None]


class JobSetRunElsewhereError(JobManagerInvalidStateError):
    """The set is run by another process: this one only follows it."""


def describe_owner(owner: Owner) -> str:
    host, pid = owner
    return f"process {pid} on {host}"


class FollowedJobSet(ManagedJobSet):
    """A job set that another live process runs, as this process sees it through the store:
    states, errors, notes and merged counts, updated about once a second. Read-only: retry,
    cancel, rename and tags are refused, naming the process that runs it.

    It stops following once every chunk is final, when :meth:`close` is called, when the
    process that runs it ends (its unfinished chunks become LOST) or when nothing refers to it
    any more.
    """

    def __init__(self, store: Store, stored: StoredJobSet, scheduler: Scheduler) -> None:
        adapter = DetachedAdapter(stored.backend_name)
        for chunk in stored.chunks:
            chunk.job = stored_job(chunk, stored.backend_name)
        super().__init__(adapter=adapter, scheduler=scheduler, **job_set_arguments(stored))
        self.owner: Owner = stored.owner
        """(host, pid) of the process that runs the set, as the store last said."""
        self._follower = _Follower(store, self)
        self._holders = 0
        """Times :func:`follow` handed this copy out, less those let go (:meth:`let_go`)."""

    # -- read-only ------------------------------------------------------------------------

    def _refuse(self, what: str) -> NoReturn:
        raise JobSetRunElsewhereError(
            f"cannot {what}: job set {self._id} is run by {describe_owner(self.owner)}, and this "
            "process only follows it (read-only); do it in that process, or retrieve the set "
            "with JobManager.retrieve_job_set once that process has ended"
        )

    def retry(self, index: int) -> None:
        self._refuse(f"retry chunk {index}")

    def retry_failed(self) -> list[int]:
        self._refuse("retry failed chunks")

    def cancel(self) -> None:
        self._refuse("cancel the set")

    def cancel_job(self, index: int) -> None:
        self._refuse(f"cancel chunk {index}")

    def update_name(self, name: str) -> str:
        self._refuse("rename the set")

    def update_tags(
        self,
        replacement_tags: list[str] | None = None,
        additional_tags: list[str] | None = None,
        removal_tags: list[str] | None = None,
    ) -> list[str]:
        self._refuse("change the set's tags")

    def _start(self) -> None:
        # Never scheduled: the follower's reads are all that moves this set.
        pass

    # -- following ------------------------------------------------------------------------

    @property
    def following(self) -> bool:
        """True while the store is read for changes."""
        return self._follower.alive

    def close(self) -> None:
        """Stop following (idempotent); the set keeps the state it has."""
        self._follower.stop()

    def let_go(self) -> bool:
        """For a holder done with the copy (the dashboard closing it), where others may still
        show it (``watch()``): it stops following only once no holder is left. True if it did
        (its widget, which nothing else shows then, may be closed too)."""
        with _FOLLOWED_LOCK:
            self._holders -= 1
            if self._holders > 0:
                return False
        self.close()
        return True

    def __enter__(self) -> FollowedJobSet:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def _mirror(self, stored: Sequence[ManagedJob]) -> None:
        """Take on chunks as the other process stored them, as a poll's outcome would be taken."""
        with self._lock:
            for source in stored:
                chunk = self._chunks[source.index]
                if _same(chunk, source):
                    continue  # the first read finds most chunks as they were loaded
                for field in _MIRRORED:
                    setattr(chunk, field, getattr(source, field))
                done = source.state is ChunkState.DONE and source.results is not None
                if done and (chunk.results is None or chunk.state is not ChunkState.DONE):
                    assert source.results is not None
                    self._merge_counts(chunk, source.results)
                    # Before the move, so that "final" stays the last event of the set.
                    self._events.post(
                        JobSetEvent("counts", self._id, chunk.index, ChunkState.DONE.value)
                    )
                # As after a retry there: the earlier counts stay merged until new ones land.
                chunk.results = source.results if done else None
                if source.state is chunk.state:
                    self._announce(chunk)
                else:
                    self._move(chunk, source.state)
                chunk.finished_at = source.finished_at
        self._events.flush()

    def __repr__(self) -> str:
        return (
            f"<FollowedJobSet {self._name!r} id={self._id} run by {describe_owner(self.owner)} "
            f"chunks={len(self._chunks)}>"
        )


class _Follower:
    """The thread that reads the store for one followed set. It holds the set weakly, so a set
    nobody refers to stops being followed."""

    def __init__(self, store: Store, job_set: FollowedJobSet) -> None:
        self._store = store
        self._job_set_id = job_set.job_set_id()
        self._stop = threading.Event()
        self._seen: dict[int, tuple[Any, ...]] = {}
        self._thread = threading.Thread(
            target=self._run,
            args=(weakref.ref(job_set),),
            name=f"qjm-follow-{self._job_set_id[:8]}",
            daemon=True,
        )
        self._thread.start()

    @property
    def alive(self) -> bool:
        return self._thread.is_alive() and not self._stop.is_set()

    def stop(self) -> None:
        self._stop.set()
        if threading.current_thread() is not self._thread:
            self._thread.join()

    def _run(self, ref: weakref.ref[FollowedJobSet]) -> None:
        # The first read at once: the set may have moved on since it was loaded.
        wait = 0.0
        while not self._stop.wait(wait):
            wait = READ_INTERVAL_SECONDS
            job_set = ref()
            if job_set is None:
                return
            try:
                if self._read(job_set):
                    return
            except Exception:
                logger.exception("following job set %s in %s", self._job_set_id, self._store.path)
            del job_set  # between reads, only the caller keeps the set alive

    def _read(self, job_set: FollowedJobSet) -> bool:
        """Apply what changed in the store; True once there is nothing more to follow."""
        found = self._store.query(
            "SELECT owner_host, owner_pid FROM job_sets WHERE id=?", (self._job_set_id,)
        )
        if not found:
            self._give_up(job_set, "the set was deleted from the store while it was followed")
            return True
        owner: Owner = (found[0][0], found[0][1])
        job_set.owner = owner
        # Whether it runs is read before its rows: rows read after it ended are its last ones.
        running = owner_is_alive(owner) or owner == current_owner()
        rows = self._store.query(_CHUNK_COLUMNS, (self._job_set_id,))
        signatures = {row[0]: row for row in rows}
        changed = [index for index, row in signatures.items() if self._seen.get(index) != row]
        for start in range(0, len(changed), _CHUNKS_PER_READ):
            chunks = self._store.load_chunks(
                self._job_set_id, job_set._experiments, changed[start : start + _CHUNKS_PER_READ]
            )
            for chunk in chunks:
                chunk.job = stored_job(chunk, job_set.backend_name)
            job_set._mirror(chunks)
        self._seen = signatures
        # A chunk's row is written with its circuits, so a running set may lack some rows yet.
        if len(rows) == len(job_set.managed_jobs()) and all(
            ChunkState(row[1]).is_final for row in rows
        ):
            return True
        if not running:
            self._give_up(
                job_set,
                f"{describe_owner(owner)}, which ran the set, ended before this chunk finished; "
                "retrieve the set with its backend (JobManager.retrieve_job_set) to retry it",
            )
            return True
        return False

    @staticmethod
    def _give_up(job_set: FollowedJobSet, why: str) -> None:
        """Nothing will move the unfinished chunks any more: LOST, so that waiters return."""
        lost = [
            dataclasses.replace(c, state=ChunkState.LOST, job_status=None, error=why, note=None)
            for c in job_set.managed_jobs()
            if not c.state.is_final
        ]
        job_set._mirror(lost)


def _same(chunk: ManagedJob, source: ManagedJob) -> bool:
    """Nothing to take on; the jobs are compared by what they hold, not as objects."""
    return (
        chunk.state is source.state
        and chunk.finished_at == source.finished_at
        and (chunk.results is None) == (source.results is None)
        and all(getattr(chunk, f) == getattr(source, f) for f in _MIRRORED if f != "job")
    )


# One follower per set and store in this process, so that several views share its reads.
_FOLLOWED: weakref.WeakValueDictionary[tuple[str, str], FollowedJobSet] = (
    weakref.WeakValueDictionary()
)
_FOLLOWED_LOCK = threading.Lock()


def runs_elsewhere(stored: StoredJobSet) -> bool:
    """Another live process on this host runs the set (it has not finished)."""
    return stored.finished_at is None and owner_is_alive(stored.owner)


def follow(store: Store, stored: StoredJobSet, scheduler: Scheduler) -> FollowedJobSet:
    """A live read-only copy of ``stored``, which another process runs; the copy this process
    follows already where there is one (so ``close()`` stops it for every view of it;
    :meth:`FollowedJobSet.let_go` only for the caller)."""
    key = (str(store.path.resolve()), stored.job_set_id)
    with _FOLLOWED_LOCK:
        job_set = _FOLLOWED.get(key)
        if job_set is None or not job_set.following:
            job_set = FollowedJobSet(store, _with_every_experiment(store, stored), scheduler)
            _FOLLOWED[key] = job_set
        job_set._holders += 1
    return job_set


def _with_every_experiment(store: Store, stored: StoredJobSet) -> StoredJobSet:
    """``stored`` once the running process has written every experiment: the copy's counts
    are laid out by the experiments' shapes, which the store holds only once it wrote them
    (seconds after run() for 100,000 circuits). A process that dies first never will."""
    deadline = time.monotonic() + _WRITE_WAIT_SECONDS
    while stored.missing_circuits and runs_elsewhere(stored) and time.monotonic() < deadline:
        time.sleep(READ_INTERVAL_SECONDS / 4)  # another process writes the file: read it again
        stored = store.load(stored.job_set_id) or stored
    return stored
