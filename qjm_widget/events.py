"""The event stream of a job set: what the widget and any progress bar subscribe to."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

logger = logging.getLogger(__name__)

EventKind = Literal["chunk", "counts", "set", "final"]


@dataclass(frozen=True, slots=True)
class JobSetEvent:
    """One change of a job set.

    ``chunk``: a chunk changed state (``chunk_index`` says which, ``state`` its new state);
    ``counts``: a chunk's counts were merged into the set's; ``set``: name or tags changed;
    ``final``: every chunk reached a final state.
    """

    kind: EventKind
    job_set_id: str
    chunk_index: int | None = None
    state: str | None = None


Listener = Callable[[JobSetEvent], None]


class EventHub:
    """Delivers events in the order they happened, outside the job set's lock."""

    def __init__(self) -> None:
        self._listeners: list[Listener] = []
        self._queue: list[JobSetEvent] = []
        self._queue_lock = threading.Lock()
        self._dispatch_lock = threading.RLock()

    def subscribe(self, listener: Listener) -> Callable[[], None]:
        with self._queue_lock:
            self._listeners.append(listener)

        def unsubscribe() -> None:
            with self._queue_lock:
                if listener in self._listeners:
                    self._listeners.remove(listener)

        return unsubscribe

    def post(self, event: JobSetEvent) -> None:
        """Queue an event; call :meth:`flush` once the job set's lock is released."""
        with self._queue_lock:
            self._queue.append(event)

    def flush(self) -> None:
        with self._dispatch_lock:
            while True:
                with self._queue_lock:
                    if not self._queue:
                        return
                    events, self._queue = self._queue, []
                    listeners = list(self._listeners)
                for event in events:
                    for listener in listeners:
                        try:
                            listener(event)
                        except Exception:
                            logger.exception("job set event listener %r failed", listener)
