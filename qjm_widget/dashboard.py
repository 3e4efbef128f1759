"""DashboardWidget: every job set of a manager and of its store, one row each, live.

The table is an anywidget (front end in js/dashboard.ts); under it, a slot for the
:class:`~qjm_widget.widget.JobSetWidget` of the set opened. Listing reads metadata only
(:mod:`qjm_widget.dashboard_rows`, :mod:`qjm_widget.catalog`), one page of 50 at a time.

Rows of this process's running sets follow their events: the listener (on any thread) marks the
set dirty and one write is scheduled on the kernel's event loop at most every ``min_interval``
seconds, sending only the rows that changed (``updates``), never the page. Rows of sets another
process runs are read again from the store by a poller thread at most once a second, stopped
when the dashboard is closed; once that process has ended (the row turns ``interrupted`` or
final) the row is not read again. The poller pauses while no view shows the table
(dashboard_views.py), and a view shown again is read for at once.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import pathlib
import threading
import time
from collections.abc import Callable
from typing import Any

import anywidget
import ipywidgets
import traitlets

from . import catalog
from .catalog import SORT_KEYS
from .dashboard_messages import CloseOpened, Resync, SetQuery, ViewShown, parse_message
from .dashboard_rows import PAGE_SIZE, Query, live_summary, page_of, row_of
from .dashboard_views import ShownViews
from .events import JobSetEvent
from .exceptions import JobManagerError, JobManagerInvalidInputError, JobManagerInvalidStateError
from .jobset import ManagedJobSet

logger = logging.getLogger(__name__)

STATIC = pathlib.Path(__file__).parent / "static"
MIN_INTERVAL = 0.1
POLL_INTERVAL = 1.0


class DashboardTable(anywidget.AnyWidget):
    """The table of job sets; the view sends messages (see js/dashboard-model.ts), never sets
    a trait."""

    _esm = STATIC / "dashboard.js"
    _css = STATIC / "dashboard.css"

    rows = traitlets.List(traitlets.Dict()).tag(sync=True)
    """The page shown, newest first by default. list[dict], default []. Each row: id (str),
    name (str), backend (str), created (float, epoch s), tags (list[str]), state (str: running,
    interrupted = unfinished and run by no live process, done, "<n> failed", cancelled, lost),
    final (int, chunks final), chunks (int), experiments (int), usage (float, QPU seconds; -1.0
    where unknown), where (str: here = run by this process, elsewhere = by another live process,
    stored), read_only (bool), message (str, the outcome of the row's last action; "" when
    none)."""
    updates = traitlets.Dict().tag(sync=True)
    """Rows changed since the previous update: {"seq": int, "rows": [row, ...]}, each row whole,
    as in ``rows``, applied by id. dict, default {"seq": 0, "rows": []}."""
    total = traitlets.Int(0).tag(sync=True)
    """Sets matching the filters, over all pages. int, default 0."""
    page = traitlets.Int(0).tag(sync=True)
    """Page shown, from 0. int, default 0."""
    page_size = traitlets.Int(PAGE_SIZE).tag(sync=True)
    """Rows per page. int, default 50."""
    sort = traitlets.Unicode("created").tag(sync=True)
    """Column the rows are ordered by, one of ``sort_keys``. str, default "created"."""
    descending = traitlets.Bool(True).tag(sync=True)
    """Order of ``sort``. bool, default True."""
    name_filter = traitlets.Unicode("").tag(sync=True)
    """Part of the name rows must have (any case); "" for all. str, default ""."""
    tag_filter = traitlets.Unicode("").tag(sync=True)
    """Tag rows must carry; "" for all. str, default ""."""
    sort_keys = traitlets.List(traitlets.Unicode(), list(SORT_KEYS)).tag(sync=True)
    """Columns the view may sort by (catalog.SORT_KEYS). list[str]."""
    opened = traitlets.Unicode("").tag(sync=True)
    """Id of the set whose widget is shown under the table; "" when none. str, default ""."""
    message = traitlets.Unicode("").tag(sync=True)
    """The last message of the view the kernel refused, and why; "" when none. str."""


class DashboardWidget(ipywidgets.VBox):
    """Job sets of ``manager`` and of its store in a table, with the opened set's widget under
    it. ``backends`` ({backend name: backend}) and ``provider`` let stored sets be retried and
    cancelled from here. Close it to stop its listeners and its poller."""

    def __init__(
        self,
        manager: Any,
        backends: dict[str, Any] | None = None,
        provider: Any = None,
        *,
        loop: asyncio.AbstractEventLoop | None = None,
        min_interval: float = MIN_INTERVAL,
        poll_interval: float = POLL_INTERVAL,
    ) -> None:
        _check_backends(backends)
        self.table = DashboardTable(updates={"seq": 0, "rows": []})
        self.slot = ipywidgets.VBox()
        super().__init__(children=[self.table, self.slot])
        self._manager = manager
        self._backends = dict(backends or {})
        self._provider = provider
        self._loop = loop if loop is not None else _running_loop()
        self._min_interval = min_interval
        self._poll_interval = poll_interval
        self._query = Query()
        self._shown: dict[str, dict[str, Any]] = {}
        self._messages: dict[str, str] = {}
        self._seq = 0
        self._lock = threading.Lock()
        self._dirty: set[str] = set()
        self._scheduled = False
        self._last_flush = 0.0
        self._subscriptions: dict[str, Callable[[], None]] = {}
        self._opened_widget: Any = None
        self._followed: Any = None
        self._stop = threading.Event()
        self._views = ShownViews()  # close() sets its ``any`` to wake the poller
        self._paused = threading.Event()  # the poller waits for a view (tests watch it)
        self._subscribe_new()
        self.load_page()
        self.table.on_msg(self._on_message)
        self._poller = threading.Thread(target=self._poll, name="qjm-dashboard", daemon=True)
        self._poller.start()

    # -- listing --------------------------------------------------------------------------

    def _live(self) -> dict[str, ManagedJobSet]:
        live: dict[str, ManagedJobSet] = self._manager.loaded_job_sets()
        return live

    def load_page(self) -> None:
        """Read the page the query asks for and send it whole (a new page, or new rows)."""
        live = self._live()
        found, total = page_of(self._manager.store, live, self._query, self.table.page_size)
        rows = [
            row_of(s, live=s.job_set_id in live, message=self._messages.get(s.job_set_id, ""))
            for s in found
        ]
        self._shown = {row["id"]: row for row in rows}
        self._seq += 1
        q = self._query
        with self.table.hold_sync():
            self.table.rows = rows
            self.table.updates = {"seq": self._seq, "rows": []}
            self.table.total = total
            self.table.page = q.page
            self.table.sort = q.sort
            self.table.descending = q.descending
            self.table.name_filter = q.name
            self.table.tag_filter = q.tag

    def _send_rows(self, changed: list[dict[str, Any]]) -> None:
        if not changed:
            return
        ended = False
        for row in changed:
            old = self._shown[row["id"]]
            ended |= old["state"] == "running" and row["state"] != "running"
            old.clear()
            old.update(row)  # in place: the rows trait stays current for state requests
        self._seq += 1
        with self.table.hold_sync():
            self.table.updates = {"seq": self._seq, "rows": changed}
            if ended:
                # A set ended: saved widget state and views made from here on start from it.
                self.table.send_state("rows")

    # -- live rows of this process (events from any thread) ---------------------------------

    def _subscribe_new(self) -> bool:
        """Follow sets this manager holds that are not followed yet; True if there were any."""
        new = [s for i, s in self._live().items() if i not in self._subscriptions]
        for job_set in new:
            job_set_id = job_set.job_set_id()
            self._subscriptions[job_set_id] = job_set.subscribe(
                functools.partial(self._on_event, job_set_id)
            )
        return bool(new)

    def _on_event(self, job_set_id: str, _event: JobSetEvent) -> None:
        with self._lock:
            self._dirty.add(job_set_id)
            if self._scheduled:
                return
            self._scheduled = True
            delay = max(0.0, self._last_flush + self._min_interval - time.monotonic())
        if self._loop is None:
            self.flush()
        elif not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self._loop.call_later, delay, self.flush)

    def flush(self) -> None:
        """Send the rows of the dirty sets that changed (on the kernel's loop)."""
        with self._lock:
            dirty, self._dirty = self._dirty, set()
            self._scheduled = False
            self._last_flush = time.monotonic()
        live = self._live()
        changed = []
        for job_set_id in sorted(dirty):
            job_set = live.get(job_set_id)
            if job_set is None or job_set_id not in self._shown:
                continue
            row = row_of(
                live_summary(job_set), live=True, message=self._messages.get(job_set_id, "")
            )
            if row != self._shown[job_set_id]:
                changed.append(row)
        self._send_rows(changed)

    # -- rows of other processes, and sets new to this manager (the poller thread) ----------

    def _poll(self) -> None:
        while True:
            if self._views.any.is_set():
                if self._stop.wait(self._poll_interval):
                    return
                self._views.expire()
            else:
                # Nothing would see what is read: wait for a view, then read for it at once.
                self._paused.set()
                self._views.any.wait()
                self._paused.clear()
            if self._stop.is_set():
                return
            if not self._views.any.is_set():
                continue
            try:
                self._poll_once()
            except Exception:
                logger.exception("the dashboard could not read the store")

    def _poll_once(self) -> None:
        store = self._manager.store
        live = self._live()
        if any(i not in self._subscriptions for i in live):
            self._call(self._on_new_sets)
        away = [
            i for i, r in list(self._shown.items()) if r.get("state") == "running" and i not in live
        ]
        if store is None or not away:
            return
        found = [s for s in (catalog.summary(store, i) for i in away) if s is not None]
        rows = [row_of(s, live=False, message=self._messages.get(s.job_set_id, "")) for s in found]
        self._call(lambda: self._send_rows([r for r in rows if self._shown.get(r["id"]) != r]))

    def _on_new_sets(self) -> None:
        if self._subscribe_new() and not self._stop.is_set():
            self.load_page()

    def _call(self, fn: Callable[[], None]) -> None:
        if self._loop is None:
            fn()
        elif not self._loop.is_closed():
            self._loop.call_soon_threadsafe(fn)

    # -- messages from the view (the kernel's thread) ----------------------------------------

    def _on_message(self, _widget: Any, content: Any, _buffers: Any) -> None:
        try:
            message = parse_message(
                content,
                query=self._query,
                page_size=self.table.page_size,
                total=self.table.total,
                on_page=self._shown,
                views=self._views,
            )
        except ValueError as exc:
            logger.warning("ignored a message from the dashboard: %s", exc)
            self.table.message = f"ignored: {exc}"
            return
        if isinstance(message, ViewShown):  # a view coming or going refused nothing
            self._views.heard(message.view, message.shown)
            return
        self.table.message = ""
        if isinstance(message, SetQuery):
            self._set_query(message.query)
        elif isinstance(message, Resync):
            self.table.send_state("rows")
        elif isinstance(message, CloseOpened):
            self._close_opened()
        else:
            self._row_action(message.kind, message.job_set_id)

    def _set_query(self, query: Query) -> None:
        self._query = query
        self.load_page()

    def _row_action(self, kind: str, job_set_id: str) -> None:
        try:
            note = getattr(self, f"_{kind}")(job_set_id)
        except JobManagerError as exc:
            note = str(exc)
        except Exception as exc:  # a provider's or backend's own error: shown, not raised
            logger.exception("the dashboard could not %s job set %s", kind, job_set_id)
            note = f"{kind} failed: {type(exc).__name__}: {exc}"
        self._messages[job_set_id] = note
        if kind == "delete" and not note:
            self._messages.pop(job_set_id, None)
            self.load_page()
            return
        self._subscribe_new()  # retrieving made the set live here
        self._refresh_row(job_set_id)

    def _refresh_row(self, job_set_id: str) -> None:
        live = self._live().get(job_set_id)
        message = self._messages.get(job_set_id, "")
        if live is not None:
            row = row_of(live_summary(live), live=True, message=message)
        else:
            store = self._manager.store
            found = catalog.summary(store, job_set_id) if store is not None else None
            if found is None:
                return
            row = row_of(found, live=False, message=message)
        if row != self._shown.get(job_set_id):
            self._send_rows([row])

    def _job_set(self, job_set_id: str, *, to_run: bool) -> ManagedJobSet:
        """The set from this manager, else from the store (with its backend, where known)."""
        live = self._live().get(job_set_id)
        if live is not None and (not to_run or live._adapter.can_submit):
            return live
        backend = self._backends.get(self._shown[job_set_id]["backend"])
        if to_run and backend is None and self._provider is None:
            raise JobManagerInvalidStateError(
                f"no backend for {self._shown[job_set_id]['backend']}: pass "
                "backends={name: backend} or provider=... to dashboard()"
            )
        provider = self._provider if to_run and backend is None else None
        job_set: ManagedJobSet = self._manager.retrieve_job_set(
            job_set_id, provider=provider, backend=backend
        )
        return job_set

    def _open(self, job_set_id: str) -> str:
        row = self._shown[job_set_id]
        note = ""
        if row["where"] == "elsewhere" and job_set_id not in self._live():
            follow = getattr(self._manager, "follow", None)
            if follow is None:
                raise JobManagerInvalidStateError(
                    "run by another process: it opens here once that process has ended"
                )
            job_set = follow(job_set_id)  # a read-only copy, followed through the store
            note = "read-only: run by another process"
        else:
            job_set = self._job_set(job_set_id, to_run=False)
        self._close_opened()
        if job_set_id not in self._live():
            self._followed = job_set  # not this manager's: stop following it once closed
        self._opened_widget = job_set.widget()
        self.slot.children = [self._opened_widget]
        self.table.opened = job_set_id
        return note

    def _close_opened(self) -> None:
        followed, self._followed = self._followed, None
        # A set's widget is shared by every display of the set: only that of a set not this
        # manager's is closed with it, and of a followed copy only once nothing else holds it
        # (no watch() of it).
        let_go = getattr(followed, "let_go", None)
        alone = let_go() if let_go is not None else followed is not None
        if self._opened_widget is not None:
            self.slot.children = []
            if alone:
                self._opened_widget.close()
            self._opened_widget = None
        self.table.opened = ""

    def _retry_failed(self, job_set_id: str) -> str:
        retried = self._job_set(job_set_id, to_run=True).retry_failed()
        return f"retrying {len(retried)} chunks" if retried else "nothing to retry"

    def _cancel(self, job_set_id: str) -> str:
        if self._shown[job_set_id]["where"] == "elsewhere":
            raise JobManagerInvalidStateError("run by another process: cancel it there")
        if self._shown[job_set_id]["state"] == "interrupted":
            raise JobManagerInvalidStateError(
                "interrupted: no process runs it to cancel; retry failed runs it again"
            )
        self._job_set(job_set_id, to_run=True).cancel()
        return "cancel requested"

    def _delete(self, job_set_id: str) -> str:
        self._manager.delete_job_set(job_set_id)  # refuses a running set
        if self.table.opened == job_set_id:
            self._close_opened()
        return ""

    @property
    def closed(self) -> bool:
        return self._stop.is_set()

    def use(self, backends: dict[str, Any] | None, provider: Any) -> None:
        """Backends and a provider given when the dashboard is asked for again join these."""
        _check_backends(backends)
        self._backends.update(backends or {})
        if provider is not None:
            self._provider = provider

    def close(self) -> None:
        self._stop.set()
        self._views.any.set()  # a paused poller wakes to stop
        for unsubscribe in self._subscriptions.values():
            unsubscribe()
        self._subscriptions.clear()
        self._close_opened()
        self.table.close()
        self.slot.close()
        super().close()
        if self._poller is not threading.current_thread():
            self._poller.join(5)


def _check_backends(backends: Any) -> None:
    if backends is not None and not isinstance(backends, dict):
        raise JobManagerInvalidInputError(
            f"backends must be a dict of backend name: backend, got {type(backends).__name__}"
        )


def _running_loop() -> asyncio.AbstractEventLoop | None:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None
