"""A tqdm bar of a job set's chunks: ``wait(progress=True)``, ``results(progress=True)`` and
:func:`progress` for a loop of one's own.

tqdm is imported when the first bar is made, not with this module: the core imports this
module, and ``import qjm_widget`` stays free of tqdm.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable
from types import TracebackType
from typing import IO, TYPE_CHECKING, Any

from .chunk import ChunkState, ManagedJob
from .exceptions import JobManagerInvalidInputError, JobManagerTimeoutError

if TYPE_CHECKING:
    from .events import JobSetEvent
    from .jobset import ManagedJobSet

MIN_REDRAW_SECONDS = 0.1
"""Events closer together than this are drawn as one: at most 10 redraws a second."""
IDLE_REDRAW_SECONDS = 1.0
"""Without events the bar is still redrawn this often, so its elapsed time and ETA move on."""
CLOSE_JOIN_SECONDS = 5.0

_FAILED = (ChunkState.ERROR, ChunkState.FAILED, ChunkState.LOST)


def progress_flag(value: object) -> bool:
    if not isinstance(value, bool):
        raise JobManagerInvalidInputError(
            f"progress must be True or False, got {type(value).__name__}"
        )
    return value


class JobSetProgress:
    """A tqdm bar (``tqdm.auto``: text in a terminal, a widget in Jupyter) of a job set: chunks
    final of all, the ETA, and failed and running chunks in the postfix.

    It redraws itself from the set's events on a thread of its own until it is closed, and,
    with ``until_done=True`` (the default), closes itself once every chunk is final. As a
    context manager it closes on leaving the block; an exception that leaves the block is
    named on the bar's last line, and a KeyboardInterrupt prints that the set was not
    cancelled (it goes on running: ``job_set.cancel()`` stops it).

    Args:
        job_set: The set to follow.
        file: Where a text bar goes (default ``sys.stderr``); ignored by the notebook bar.
        desc: The bar's label (default: the set's name).
        until_done: Close once every chunk is final; False follows the set (retries too)
            until :meth:`close`.
        leave: Keep the bar's last state on screen after it closes.
    """

    def __init__(
        self,
        job_set: ManagedJobSet,
        *,
        file: IO[str] | None = None,
        desc: str | None = None,
        until_done: bool = True,
        leave: bool = True,
    ) -> None:
        from .jobset import ManagedJobSet

        if not isinstance(job_set, ManagedJobSet):
            raise JobManagerInvalidInputError(
                f"progress needs a ManagedJobSet, got {type(job_set).__name__}"
            )
        for name, flag in (("until_done", until_done), ("leave", leave)):
            if not isinstance(flag, bool):
                raise JobManagerInvalidInputError(
                    f"{name} must be True or False, got {type(flag).__name__}"
                )
        from tqdm.auto import tqdm

        self._job_set = job_set
        self._until_done = until_done
        self._file = file
        self._wake = threading.Condition()
        self._dirty = False
        self._closing = False
        self._finish_lock = threading.Lock()
        self._closed = False
        self._failed_inside: dict[int, tuple[object, bool]] = {}
        final, failed, running = self._tally()
        self.bar: Any = tqdm(
            total=len(job_set.managed_jobs()),
            initial=final,
            desc=job_set.name() if desc is None else desc,
            unit="chunk",
            file=file,
            leave=leave,
            smoothing=0,  # the ETA from the mean rate: chunks of one set take alike
            dynamic_ncols=True,
            postfix=_postfix(failed, running),
        )
        self._unsubscribe: Callable[[], None] = lambda: None
        try:
            self._unsubscribe = job_set.subscribe(self._on_event)
            self._thread = threading.Thread(
                target=self._follow, name=f"qjm-progress-{job_set.job_set_id()}", daemon=True
            )
            self._thread.start()
        except BaseException:  # a Control-C while starting leaves no bar open behind it
            self._closing = True
            self._finish(None)
            raise

    @property
    def closed(self) -> bool:
        return self._closed

    def refresh(self) -> None:
        """Redraw now instead of at the next event."""
        if not self._closed:
            self._draw()

    def close(self, note: str | None = None) -> None:
        """Draw the set's state a last time (``note`` after it) and close the bar; idempotent."""
        with self._wake:
            self._closing = True
            self._wake.notify_all()
        if threading.current_thread() is not self._thread:
            self._thread.join(CLOSE_JOIN_SECONDS)
        self._finish(note)

    def __enter__(self) -> JobSetProgress:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if kind is None:
            self.close()
        elif issubclass(kind, KeyboardInterrupt):
            self.close("interrupted")
            _say_not_cancelled(self._job_set, self._file)
        elif issubclass(kind, JobManagerTimeoutError):
            self.close("timed out")
        else:
            self.close(f"stopped by {kind.__name__}")

    # -- inside ---------------------------------------------------------------------------

    def _on_event(self, event: JobSetEvent) -> None:
        # Called on the set's event thread: only note the change, drawing is the follower's.
        with self._wake:
            self._dirty = True
            self._wake.notify_all()

    def _follow(self) -> None:
        while True:
            with self._wake:
                self._wake.wait_for(lambda: self._dirty or self._closing, IDLE_REDRAW_SECONDS)
                if self._closing:
                    return
                self._dirty = False
            self._draw()
            if self._until_done and self._job_set.done():
                self._finish(None)
                return
            with self._wake:  # what arrives meanwhile is drawn together, after the pause
                self._wake.wait_for(lambda: self._closing, MIN_REDRAW_SECONDS)

    def _tally(self) -> tuple[int, int, int]:
        final = failed = running = 0
        for chunk in self._job_set.managed_jobs():
            state = chunk.state
            final += state.is_final
            running += state.in_flight
            failed += state in _FAILED or (state is ChunkState.DONE and self._has_failures(chunk))
        return final, failed, running

    def _has_failures(self, chunk: ManagedJob) -> bool:
        # Reading every experiment of every chunk at each redraw costs a large set dearly; a
        # chunk's failures change only with its results.
        results = chunk.results
        seen = self._failed_inside.get(chunk.index)
        if seen is None or seen[0] is not results:
            seen = (results, bool(chunk.failed_experiments))
            self._failed_inside[chunk.index] = seen
        return seen[1]

    def _draw(self, note: str | None = None, *, show: bool = True) -> None:
        final, failed, running = self._tally()
        postfix = _postfix(failed, running)
        if final < self.bar.initial:  # retries: the rate counts from the fewest final seen
            self.bar.initial = final
        self.bar.n = final
        self.bar.set_postfix_str(postfix if note is None else f"{postfix}, {note}", refresh=False)
        if show:
            self.bar.refresh()

    def _finish(self, note: str | None) -> None:
        with self._finish_lock:
            if self._closed:
                return
            self._closed = True
            self._unsubscribe()
            self._draw(note, show=False)  # close() draws the last state itself
            self.bar.close()


def _postfix(failed: int, running: int) -> str:
    return f"failed={failed}, running={running}"


def progress(
    job_set: ManagedJobSet,
    *,
    file: IO[str] | None = None,
    desc: str | None = None,
    until_done: bool = True,
    leave: bool = True,
) -> JobSetProgress:
    """A progress bar of ``job_set`` that follows it on its own until closed.

    Example::

        with qjm_widget.progress(job_set):
            for index in range(job_set.num_experiments):
                ...  # anything, e.g. read job_set.merged_counts(index) as chunks end

    Outside ``with``, it closes itself once every chunk is final (``until_done=True``), or on
    ``close()``. See :class:`JobSetProgress` for the arguments.
    """
    return JobSetProgress(job_set, file=file, desc=desc, until_done=until_done, leave=leave)


def wait_with_progress(job_set: ManagedJobSet, timeout: float | None) -> None:
    try:
        bar = JobSetProgress(job_set)
    except KeyboardInterrupt:
        _say_not_cancelled(job_set, None)
        raise
    with bar:
        job_set.wait(timeout)


def _say_not_cancelled(job_set: ManagedJobSet, file: IO[str] | None) -> None:
    print(
        f"qjm_widget: stopped waiting for job set {job_set.job_set_id()}; it was not cancelled "
        "and goes on running (job_set.cancel() stops it)",
        file=file or sys.stderr,
        flush=True,
    )
