"""JobSetWidget: a live Jupyter view of a job set (anywidget; the front end lives in js/).

The widget only watches the core: it subscribes to the job set's events, gathers what changed,
and writes its traits on the kernel's event loop at most ``1 / min_interval`` times a second,
inside ``hold_sync`` so each update is one comm message. Per-chunk state travels as bytes: a
snapshot (``states``) sent at creation, at the end and when a view asks, and between them
``delta``, which holds only the chunks that changed since the previous update. A state change
therefore costs the same few bytes whether the set has 100 chunks or 5,000.

A set has one widget while it is open (:meth:`JobSetWidget.of`): displaying the set again shows
another view of that widget, over its one comm, instead of opening a comm per display.
"""

from __future__ import annotations

import asyncio
import logging
import pathlib
import struct
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any

import anywidget
import numpy as np
import traitlets

from .chunk import ChunkState, ManagedJob
from .events import JobSetEvent
from .exceptions import JobManagerError
from .jobset import ManagedJobSet

logger = logging.getLogger(__name__)

STATIC = pathlib.Path(__file__).parent / "static"
STATE_CODES = {state: code for code, state in enumerate(ChunkState)}
PARTIAL = len(STATE_CODES)
"""Code of a DONE chunk in which some experiments failed."""
FAILED_CODES = frozenset(
    {STATE_CODES[ChunkState.ERROR], STATE_CODES[ChunkState.FAILED], STATE_CODES[ChunkState.LOST]}
    | {PARTIAL}
)
FINAL_CODE = min(STATE_CODES[s] for s in ChunkState if s.is_final)
"""Codes from this one up are final states (PARTIAL included)."""
MAX_ERRORS = 100
HISTOGRAM_BARS = 16
MIN_INTERVAL = 0.1

_open_widgets: dict[ManagedJobSet, JobSetWidget] = {}
"""The open widget of each set that has one (JobSetWidget.of); a widget leaves when it closes."""
_open_lock = threading.Lock()


def chunk_code(chunk: ManagedJob) -> int:
    if chunk.state is ChunkState.DONE and chunk.failed_experiments:
        return PARTIAL
    return STATE_CODES[chunk.state]


def pack_states(seq: int, codes: bytes | bytearray) -> bytes:
    return struct.pack("<I", seq) + bytes(codes)


def pack_delta(seq: int, changes: Iterable[tuple[int, int]]) -> bytes:
    return struct.pack("<I", seq) + b"".join(struct.pack("<IB", i, c) for i, c in changes)


def top_outcomes(counts: dict[str, int], bars: int = HISTOGRAM_BARS) -> dict[str, Any]:
    """The most frequent outcomes, the rest summed as "other", so the chart stays readable."""
    ranked = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    shown = ranked if len(ranked) <= bars else ranked[: bars - 1]
    return {
        "bars": [[key, value] for key, value in shown],
        "other": sum(value for _, value in ranked[len(shown) :]),
        "total": sum(counts.values()),
    }


class JobSetWidget(anywidget.AnyWidget):
    """A live view of a :class:`ManagedJobSet`: progress, chunk grid, errors, counts, controls.

    Example:
        >>> job_set.widget()      # or make the job set the last expression of a cell
    """

    _esm = STATIC / "widget.js"
    _css = STATIC / "widget.css"

    job_set_id = traitlets.Unicode("").tag(sync=True)
    """Id of the job set shown. str, default ""."""
    name = traitlets.Unicode("").tag(sync=True)
    """The set's name. str, default ""."""
    backend_name = traitlets.Unicode("").tag(sync=True)
    """Name of the backend or sampler. str, default ""."""
    tags = traitlets.List(traitlets.Unicode()).tag(sync=True)
    """The set's tags. list[str], default []."""
    num_chunks = traitlets.Int(0).tag(sync=True)
    """Number of chunks (jobs). int, default 0."""
    num_experiments = traitlets.Int(0).tag(sync=True)
    """Number of experiments (circuits). int, default 0."""
    started_at = traitlets.Float(0.0).tag(sync=True)
    """When the set was created, in epoch seconds. float, default 0.0."""
    finished_at = traitlets.Float(0.0).tag(sync=True)
    """When the last chunk became final, in epoch seconds; 0.0 while unfinished."""
    usage_seconds = traitlets.Float(-1.0).tag(sync=True)
    """QPU seconds the set's jobs used so far (IBM Quantum); -1.0 where the backend reports
    none. float, default -1.0."""
    pending_job_limit = traitlets.Int(0).tag(sync=True)
    """IBM's pending-job limit for the set's account and backend, learned from its error 3458
    (and shared by the manager's sets there); 0 while none is learned. int, default 0."""
    can_cancel = traitlets.Bool(True).tag(sync=True)
    """False where the backend can never cancel a submitted job. bool, default True."""
    dashboard_link = traitlets.Unicode("").tag(sync=True)
    """URL of the Dask dashboard of the cluster the set runs on; "" where it runs elsewhere
    (or the cluster serves no dashboard). str, default ""."""
    states = traitlets.Bytes(b"").tag(sync=True)
    """Snapshot: uint32 LE sequence number, then one state code per chunk. bytes, default b""."""
    delta = traitlets.Bytes(b"").tag(sync=True)
    """uint32 LE sequence number, then (uint32 LE index, uint8 code) per chunk changed since the
    previous delta. bytes, default b""."""
    bounds = traitlets.Bytes(b"").tag(sync=True)
    """Per chunk, uint32 LE first and last experiment index; sent once. bytes, default b""."""
    errors = traitlets.List(traitlets.Dict()).tag(sync=True)
    """Failed chunks (at most 100): index, start, end, points ([experiment, first, last] of
    the part of one sweep it holds, or None), state, error, job_id, attempts."""
    errors_total = traitlets.Int(0).tag(sync=True)
    """Number of failed chunks, those beyond the first 100 included. int, default 0."""
    selected_detail = traitlets.Dict().tag(sync=True)
    """Details of the chunk the view selected, {} when none; ``worker`` is the Dask worker that
    runs or ran it (None off Dask). dict, default {}."""
    histogram = traitlets.Dict().tag(sync=True)
    """Merged counts shown: experiment (-1 = all), point (-1 = all its points), num_points (0
    where the experiment is a bound circuit), shape (of its points, []), values ({parameter:
    value} of the point shown, {}), bars [[key, count]], other, total. dict, default {}.
    Only the point shown travels: never the sweep's values in bulk."""

    def __init__(
        self,
        job_set: ManagedJobSet,
        *,
        loop: asyncio.AbstractEventLoop | None = None,
        min_interval: float = MIN_INTERVAL,
    ) -> None:
        chunks = job_set.managed_jobs()
        self._codes = bytearray(chunk_code(c) for c in chunks)
        self._seq = 0
        self._snapshot_seq = 0
        super().__init__(
            job_set_id=job_set.job_set_id(),
            backend_name=job_set.backend_name,
            num_chunks=len(chunks),
            num_experiments=job_set.num_experiments,
            started_at=job_set.created_at.timestamp(),
            can_cancel=job_set._adapter.capabilities.can_cancel,
            dashboard_link=getattr(job_set._adapter, "dashboard_link", ""),
            pending_job_limit=job_set.pending_job_limit or 0,
            states=pack_states(0, self._codes),
            delta=pack_delta(0, []),
            bounds=b"".join(struct.pack("<II", c.start_index, c.end_index) for c in chunks),
        )
        self._job_set = job_set
        # A set's experiments never change: read once, not copied on every histogram write.
        self._experiments = job_set.experiments()
        self._loop = loop if loop is not None else _running_loop()
        self._min_interval = min_interval
        self._lock = threading.Lock()
        self._dirty: set[int] = set()
        self._counts_dirty = False
        self._scheduled = False
        self._last_flush = 0.0
        self._selected = -1
        self._experiment: int | None = None
        self._point: int | None = None
        self._failed = {i for i, code in enumerate(self._codes) if code in FAILED_CODES}
        self._flush_lock = threading.Lock()
        with self.hold_sync():
            self._write_summary()
        self.on_msg(self._on_message)
        self._unsubscribe = job_set.subscribe(self._on_event)
        # A chunk that changed after its code was read above and before this subscription sent
        # an event no one heard (a fast set can end in that gap): look at them all once more.
        self._mark(range(len(chunks)), counts=True)
        if self.comm is not None:
            # The front end may close the comm too: then this widget is closed for good.
            self.comm.on_close(lambda _msg: self.close())

    @classmethod
    def of(cls, job_set: ManagedJobSet) -> JobSetWidget:
        """The open widget of ``job_set``, made now if it has none (or its widget was closed).

        Every display of the set shows a view of this one widget, over one comm, all in step.
        """
        with _open_lock:
            widget = _open_widgets.get(job_set)
            if widget is None or widget.comm is None:
                widget = cls(job_set)
                _open_widgets[job_set] = widget
            return widget

    # -- from the job set (any thread) ----------------------------------------------------

    def _on_event(self, event: JobSetEvent) -> None:
        chunk = () if event.chunk_index is None else (event.chunk_index,)
        self._mark(chunk, counts=event.kind in ("counts", "set", "final"))

    def _mark(self, chunks: Iterable[int], *, counts: bool) -> None:
        """Note chunks (and the counts, if ``counts``) to write, and schedule a flush."""
        with self._lock:
            self._dirty.update(chunks)
            self._counts_dirty |= counts
            if self._scheduled:
                return
            self._scheduled = True
            delay = max(0.0, self._last_flush + self._min_interval - time.monotonic())
        if self._loop is None:
            self.flush()  # no kernel loop (a plain script): nothing to coalesce for
        elif not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self._loop.call_later, delay, self.flush)

    def flush(self) -> None:
        """Write what changed since the last flush to the traits, as one comm message."""
        with self._flush_lock:
            self._flush()

    def _flush(self) -> None:
        with self._lock:
            dirty, self._dirty = self._dirty, set()
            counts_dirty, self._counts_dirty = self._counts_dirty, False
            self._scheduled = False
            self._last_flush = time.monotonic()
        chunks = self._job_set.managed_jobs()
        changes = []
        for index in sorted(dirty):
            code = chunk_code(chunks[index])
            if self._codes[index] != code:
                self._codes[index] = code
                changes.append((index, code))
        with self.hold_sync():
            if changes:
                self._seq += 1
                self.delta = pack_delta(self._seq, changes)
            if any(i in self._failed or c in FAILED_CODES for i, c in changes):
                self._write_errors(chunks)
            if self._selected in dirty:
                self._write_selected()
            if counts_dirty:
                self._write_summary()
            elif changes:
                self._write_finished()
            # No event says the limit changed (another set of the manager may have learned or
            # raised the shared one), so every update reads it.
            self.pending_job_limit = self._job_set.pending_job_limit or 0

    def _write_summary(self) -> None:
        job_set = self._job_set
        self.name = job_set.name()
        usage = job_set.usage_seconds()
        self.usage_seconds = -1.0 if usage is None else usage
        self.tags = job_set.tags()
        self._write_finished()
        self._write_histogram()
        self._write_errors(job_set.managed_jobs())

    def _write_finished(self) -> None:
        # Final by the codes sent so far, not by the job set: its last events may be in flight.
        finished = min(self._codes, default=FINAL_CODE) >= FINAL_CODE
        if not finished:
            self.finished_at = 0.0
        elif not self.finished_at or self._snapshot_seq != self._seq:
            # Final for the first time, or again after a retry (which may have gone from error
            # to done between two updates): saved widget state and new views start from here.
            self.finished_at = self._job_set.last_finished_at or time.time()
            self._send_snapshot()

    def _write_errors(self, chunks: list[ManagedJob]) -> None:
        self._failed = {i for i, code in enumerate(self._codes) if code in FAILED_CODES}
        self.errors_total = len(self._failed)
        self.errors = [_chunk_summary(chunks[i]) for i in sorted(self._failed)[:MAX_ERRORS]]

    def _write_histogram(self) -> None:
        loc: int | tuple[int, ...] | None = self._point
        sweep: dict[str, Any] = {"num_points": 0, "shape": [], "values": {}}
        if self._experiment is not None:
            shown = self._experiments[self._experiment]
            if self._point is not None and len(shown.shape) > 1:
                # merged_counts takes a point of a multi-dimensional sweep as a tuple index.
                loc = tuple(int(i) for i in np.unravel_index(self._point, shown.shape))
            if shown.parameterized:
                sweep = {
                    "num_points": shown.num_points,
                    "shape": list(shown.shape),
                    "values": {} if self._point is None else shown.values_at(self._point),
                }
        self.histogram = {
            "experiment": -1 if self._experiment is None else self._experiment,
            "point": -1 if self._point is None else self._point,
            **sweep,
            **top_outcomes(self._job_set.merged_counts(self._experiment, loc)),
        }

    def _write_selected(self) -> None:
        if self._selected < 0:
            self.selected_detail = {}
            return
        chunk = self._job_set.managed_jobs()[self._selected]
        cancellable = not chunk.state.is_final and (
            self.can_cancel or chunk.state in (ChunkState.PENDING, ChunkState.WAITING)
        )
        self.selected_detail = {
            **_chunk_summary(chunk),
            "shots": chunk.shots,
            "usage_seconds": chunk.usage_seconds,
            "note": chunk.note,
            "can_cancel": cancellable,
            "can_retry": self._job_set._can_retry(chunk),
            "worker": _worker(self._job_set, chunk),
        }

    def _send_snapshot(self) -> None:
        self._snapshot_seq = self._seq
        snapshot = pack_states(self._seq, self._codes)
        if snapshot == self.states:
            self.send_state("states")  # unchanged, so assigning would send nothing; a view asked
        else:
            self.states = snapshot

    # -- from the view (the kernel's thread) ----------------------------------------------

    def _on_message(self, _widget: Any, content: Any, _buffers: Any) -> None:
        try:
            action = self._parse(content)
        except ValueError as exc:
            logger.warning("ignored a message from the job set view: %s", exc)
            return
        try:
            action()
        except JobManagerError as exc:
            logger.warning("could not do what the job set view asked: %s", exc)

    def _parse(self, content: Any) -> Callable[[], Any]:
        if not isinstance(content, dict):
            raise ValueError(f"expected an object, got {type(content).__name__}")
        kind = content.get("type")
        job_set = self._job_set
        if kind == "cancel_all":
            return job_set.cancel
        if kind == "retry_failed":
            return job_set.retry_failed
        if kind == "resync":
            return self._send_snapshot
        if kind in ("cancel_chunk", "retry_chunk", "select"):
            index = _index(content, self.num_chunks, allow_none=kind == "select")
            if kind == "cancel_chunk":
                return lambda: job_set.cancel_job(index)
            if kind == "retry_chunk":
                return lambda: job_set.retry(index)
            return lambda: self._select(index)
        if kind == "show_experiment":
            index = _index(content, self.num_experiments, allow_none=True)
            point = self._point_of(content, index)
            return lambda: self._show_experiment(index, point)
        raise ValueError(f"unknown message type {kind!r}")

    def _select(self, index: int) -> None:
        self._selected = index
        self._write_selected()

    def _point_of(self, content: dict[str, Any], experiment: int) -> int:
        """The point a show_experiment message asks for: -1 (all points) when it names none;
        only -1 for all experiments or a bound circuit, which have no points to pick."""
        if "point" not in content:
            return -1
        shown = self._experiments[experiment] if experiment >= 0 else None
        size = shown.num_points if shown is not None and shown.parameterized else 0
        return _checked_index("show_experiment", "point", content["point"], size, allow_none=True)

    def _show_experiment(self, index: int, point: int) -> None:
        self._experiment = None if index < 0 else index
        self._point = None if point < 0 else point
        self._write_histogram()

    def close(self) -> None:
        self._unsubscribe()
        with _open_lock:
            if _open_widgets.get(self._job_set) is self:
                del _open_widgets[self._job_set]
        super().close()


def _index(content: dict[str, Any], size: int, *, allow_none: bool) -> int:
    return _checked_index(
        content.get("type"), "index", content.get("index"), size, allow_none=allow_none
    )


def _checked_index(kind: object, field: str, value: object, size: int, *, allow_none: bool) -> int:
    """``value`` as an index below ``size`` (-1 too, for none, where allowed), or ValueError."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{kind}: {field} must be an int, got {value!r}")
    if not (-1 if allow_none else 0) <= value < size:
        raise ValueError(f"{kind}: {field} {value} is out of range (size {size})")
    return value


def _chunk_summary(chunk: ManagedJob) -> dict[str, Any]:
    return {
        "index": chunk.index,
        "start": chunk.start_index,
        "end": chunk.end_index,
        "points": None if chunk.points is None else list(chunk.points),
        "state": "partial" if chunk_code(chunk) == PARTIAL else chunk.state.value,
        "error": chunk.error,
        "job_id": chunk.job_id,
        "attempts": chunk.attempts,
    }


def _worker(job_set: ManagedJobSet, chunk: ManagedJob) -> str | None:
    """The Dask worker that runs or ran the chunk's job; None off Dask."""
    where = getattr(job_set._adapter, "job_worker", None)
    return where(chunk.job) if callable(where) and chunk.job is not None else None


def _running_loop() -> asyncio.AbstractEventLoop | None:
    """The kernel's event loop, when the widget is made inside a cell."""
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None
