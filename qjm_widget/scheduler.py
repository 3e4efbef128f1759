"""The manager's threads: one coordinator and a small pool, alive only while work is left."""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Protocol

from .pending_limit import PendingJobLimits

logger = logging.getLogger(__name__)

Task = Callable[[], None]

# Upper bound on a coordinator sleep, so a missed wake-up costs at most this much.
_MAX_SLEEP = 1.0


class Schedulable(Protocol):
    def step(self, now: float) -> tuple[list[Task], float | None, bool]:
        """Tasks to start now, when to be asked again (None: when woken), and whether finished."""


class WorkerPool:
    """At most ``max_workers`` threads; each exits as soon as the queue is empty."""

    def __init__(self, max_workers: int, name: str) -> None:
        self._max_workers = max_workers
        self._name = name
        self._lock = threading.Lock()
        self._queue: deque[Task] = deque()
        self._workers = 0

    def submit(self, task: Task) -> None:
        with self._lock:
            self._queue.append(task)
            if self._workers >= self._max_workers:
                return
            self._workers += 1
        threading.Thread(target=self._work, name=f"{self._name}-worker", daemon=True).start()

    def _work(self) -> None:
        while True:
            with self._lock:
                if not self._queue:
                    self._workers -= 1
                    return
                task = self._queue.popleft()
            try:
                task()
            except Exception:
                logger.exception("job manager task failed")


class Scheduler:
    """Steps every active job set; the coordinator thread exits once none is left."""

    def __init__(self, max_workers: int, name: str = "qjm") -> None:
        self._pool = WorkerPool(max_workers, name)
        self._name = name
        self._lock = threading.Lock()
        self._wake = threading.Condition(self._lock)
        self._active: list[Schedulable] = []
        self._woken = False
        self._reactivated: set[int] = set()
        self._thread: threading.Thread | None = None
        self.pending_limits = PendingJobLimits()
        """What the manager's sets learned of their backends' pending-job limits."""

    def activate(self, job_set: Schedulable) -> None:
        """Start (or keep) stepping ``job_set``; safe to call again after it finished."""
        with self._lock:
            if job_set in self._active:
                # It may be finishing in the coordinator right now: keep it for another step.
                self._reactivated.add(id(job_set))
            else:
                self._active.append(job_set)
            self._woken = True
            self._wake.notify()
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._coordinate, name=f"{self._name}-coordinator", daemon=True
                )
                self._thread.start()

    def wake(self) -> None:
        with self._lock:
            self._woken = True
            self._wake.notify()

    def submit(self, task: Task) -> None:
        self._pool.submit(task)

    def _coordinate(self) -> None:
        while True:
            with self._lock:
                active = list(self._active)
                self._woken = False
                self._reactivated.clear()
            now = time.monotonic()
            next_wake: float | None = None
            finished: list[Schedulable] = []
            for job_set in active:
                try:
                    tasks, wake_at, done = job_set.step(now)
                except Exception:
                    logger.exception("stepping job set %r failed", job_set)
                    tasks, wake_at, done = [], now + _MAX_SLEEP, False
                for task in tasks:
                    self._pool.submit(task)
                if done:
                    finished.append(job_set)
                elif wake_at is not None:
                    next_wake = wake_at if next_wake is None else min(next_wake, wake_at)
            with self._lock:
                for job_set in finished:
                    if id(job_set) not in self._reactivated:
                        self._active.remove(job_set)
                if not self._active and not self._woken:
                    self._thread = None
                    return
                if not self._woken:
                    timeout = _MAX_SLEEP if next_wake is None else next_wake - time.monotonic()
                    if timeout > 0:
                        self._wake.wait(min(timeout, _MAX_SLEEP))
