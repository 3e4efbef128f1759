"""A backend's pending-job limit, learned from its refusals and shared by the sets that meet it.

IBM Quantum refuses a job (error 3458) while an account holds as many unfinished jobs as its
plan allows (3 on the open plan), and never says the number. A set that does not know it sends
every waiting chunk again whenever a slot frees: one wins, the rest are refused again, and each
refusal costs the client three requests. So the first refusal makes the number of our jobs then
pending the limit, and from then on a chunk is sent only into a free slot, one per freed slot.

Until the first refusal, submits to a backend known to have such a limit start slowly: no more
submits under way than half the jobs it holds for us (at least one), so the number out grows by
half with each answer. A limit of 3 then costs one refusal, not one per worker, and the
manager's few workers are all busy after a handful of answers.

IBM can lift a limit (a plan upgrade) but does not announce it, so the limit goes up only when a
submit beyond it succeeds: now and then one probe goes beyond it, less often after each refusal.

The same sets share the account's rate limiter: a submit answered 429 with a Retry-After holds
every submit of the scope until then, since the limiter counts the account's requests.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Hashable

# Seconds from learning the limit (or a refused probe) to the next probe beyond it: doubling
# from the first figure to the second, so a limit that holds costs a refusal every 10 minutes.
_PROBE_AFTER = (30.0, 600.0)


class PendingJobLimit:
    """Slots for submits: every submit reserves one, every job that stops pending frees one.

    ``limit`` is None until the backend first refuses a job for being over it.
    """

    def __init__(self, *, slow_start: bool = False) -> None:
        self._lock = threading.Lock()
        self._slow_start = slow_start
        self.limit: int | None = None
        self._pending = 0
        """Our jobs the backend counts as pending (accepted, not yet final)."""
        self._sending = 0
        """Slots reserved for submits that have not been answered yet."""
        self._probing = False
        self._probe_delay = _PROBE_AFTER[0]
        self._probe_at = math.inf
        self.resume_at = 0.0
        """No submit before this (monotonic clock): the rate limiter asked us to wait."""

    def _room(self, now: float) -> bool:
        """Whether one more submit fits (lock held); True once for a due probe."""
        if self.limit is None:
            return not self._slow_start or self._sending < max(1, self._pending // 2)
        if self._sending + self._pending < self.limit:
            return True
        if not self._probing and now >= self._probe_at:
            self._probing = True
            return True
        return False

    def reserve(self) -> bool:
        """Take a slot for a chunk about to be submitted; False while every slot is taken."""
        with self._lock:
            now = time.monotonic()
            if now < self.resume_at or not self._room(now):
                return False
            self._sending += 1
            return True

    def wait_out(self, seconds: float) -> None:
        """A submit was answered 429 asking for ``seconds``: no submit before then."""
        with self._lock:
            self.resume_at = max(self.resume_at, time.monotonic() + seconds)

    def still_fits(self) -> bool:
        """Just before the submit goes out: False (and the slot given back) if a limit learned
        since the reservation leaves no room for it, as when many were reserved before any
        answer came."""
        with self._lock:
            if self.limit is None or self._sending + self._pending <= self.limit + self._probing:
                return True
            self._sending -= 1
            return False

    def adopt(self, jobs: int) -> None:
        """Count jobs already pending on the backend (re-attached after a restart)."""
        with self._lock:
            self._pending += jobs

    def accepted(self) -> None:
        """The backend took the job: above the limit, that lifts the limit."""
        with self._lock:
            self._sending -= 1
            self._pending += 1
            if self.limit is not None and self._pending > self.limit:
                self.limit = self._pending
                self._probe_delay = _PROBE_AFTER[0]
                self._probe_at = time.monotonic() + self._probe_delay
            self._probing = False

    def refused(self) -> int:
        """The backend answered 3458 to one of our submits; returns the limit now known."""
        with self._lock:
            self._sending -= 1
            now = time.monotonic()
            if self._probing:
                self._probing = False
                self._probe_delay = min(_PROBE_AFTER[1], 2 * self._probe_delay)
            else:
                # Fewer than it was when other clients of the account hold some of the slots.
                self.limit = max(1, self._pending)
            self._probe_at = now + self._probe_delay
            return self.limit or 1

    def released(self) -> None:
        """A reserved slot not used after all (the submit failed otherwise, or was given up)."""
        with self._lock:
            self._sending -= 1
            self._probing = False

    def ended(self) -> None:
        """One of our jobs stopped pending (finished, failed, cancelled or lost)."""
        with self._lock:
            self._pending = max(0, self._pending - 1)

    @property
    def pending(self) -> int:
        with self._lock:
            return self._pending


class PendingJobLimits:
    """One limit per backend and account, so that sets of one manager on them share it; a
    backend that names such a scope is one known to limit pending jobs, so it starts slowly."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._limits: dict[Hashable, PendingJobLimit] = {}

    def get(self, scope: Hashable | None) -> PendingJobLimit:
        """The shared limit of ``scope``; a set's own where the backend names no scope."""
        if scope is None:
            return PendingJobLimit()
        with self._lock:
            return self._limits.setdefault(scope, PendingJobLimit(slow_start=True))
