"""The views that show a dashboard's table, so that its poller reads the store only for them.

Each view says when it is rendered and when it is removed (a ``views`` message), and says it
is shown again every ``VIEW_HEARTBEAT_S`` while it is: a page that is reloaded or closed never
says its views were removed, so a view not heard from for ``VIEW_EXPIRY_S`` is taken as gone.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator

VIEW_HEARTBEAT_S = 10.0
"""How often a shown view says so again: ``VIEW_HEARTBEAT_MS`` in js/dashboard.ts."""
VIEW_EXPIRY_S = 3 * VIEW_HEARTBEAT_S


class ShownViews:
    """The views shown, each with when it was last heard from; ``any`` is set while there is
    one (the poller waits on it). Safe from any thread."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._heard: dict[str, float] = {}
        self.any = threading.Event()

    def __contains__(self, view: object) -> bool:
        with self._lock:
            return view in self._heard

    def __iter__(self) -> Iterator[str]:
        with self._lock:
            return iter(list(self._heard))

    def __len__(self) -> int:
        with self._lock:
            return len(self._heard)

    def heard(self, view: str, shown: bool) -> None:
        with self._lock:
            if shown:
                self._heard[view] = self._clock()
            else:
                self._heard.pop(view, None)
            self._update()

    def expire(self) -> None:
        """Forget the views not heard from for ``VIEW_EXPIRY_S``."""
        with self._lock:
            oldest = self._clock() - VIEW_EXPIRY_S
            for view in [v for v, at in self._heard.items() if at < oldest]:
                del self._heard[view]
            self._update()

    def _update(self) -> None:
        if self._heard:
            self.any.set()
        else:
            self.any.clear()
