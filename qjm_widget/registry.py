"""The job sets a manager holds, and for how long.

Running sets are held, so they run to the end. With a store, a finished set is held only while
something else references it (the user, a widget): a long kernel that runs set after set stays
small, and a released set comes back from the store when asked. Without a store there is
nowhere else to get a set from, so every set stays.
"""

from __future__ import annotations

import threading
import weakref
from typing import TYPE_CHECKING

from .chunk import ChunkState
from .events import JobSetEvent

if TYPE_CHECKING:
    from .jobset import ManagedJobSet


class JobSetRegistry:
    def __init__(self, release_finished: bool) -> None:
        self._release_finished = release_finished
        self._lock = threading.Lock()
        self._held: dict[str, ManagedJobSet] = {}
        self._released: weakref.WeakValueDictionary[str, ManagedJobSet] = (
            weakref.WeakValueDictionary()
        )

    def add(self, job_set: ManagedJobSet) -> None:
        """Keep ``job_set`` (held while it runs) and follow its events to release it."""
        job_set_id = job_set.job_set_id()
        with self._lock:
            self._held.pop(job_set_id, None)
            self._released.pop(job_set_id, None)
            if self._release_finished and job_set.done():
                self._released[job_set_id] = job_set
            else:
                self._held[job_set_id] = job_set
        if self._release_finished:
            job_set.subscribe(lambda event: self._on_event(job_set_id, event))

    def add_released(self, job_set: ManagedJobSet) -> None:
        """Know a finished set read from the store without holding it."""
        with self._lock:
            self._released[job_set.job_set_id()] = job_set

    def _on_event(self, job_set_id: str, event: JobSetEvent) -> None:
        with self._lock:
            if event.kind == "final":
                job_set = self._held.pop(job_set_id, None)
                if job_set is not None:
                    self._released[job_set_id] = job_set
            elif event.state == ChunkState.PENDING.value:  # retried: held until it ends again
                job_set = self._released.pop(job_set_id, None)
                if job_set is not None:
                    self._held[job_set_id] = job_set

    def get(self, job_set_id: str) -> ManagedJobSet | None:
        with self._lock:
            return self._held.get(job_set_id) or self._released.get(job_set_id)

    def all(self) -> dict[str, ManagedJobSet]:
        """Every set known now, oldest first."""
        with self._lock:
            known = {**self._released, **self._held}
        return dict(sorted(known.items(), key=lambda item: item[1].created_at))

    def remove(self, job_set_id: str) -> None:
        with self._lock:
            self._held.pop(job_set_id, None)
            self._released.pop(job_set_id, None)
