"""Sessions and batches of the IBM Quantum runtime stand-in (qiskit-ibm-runtime 0.51.0 client).

Stands in for ``POST /sessions`` (``Session``: mode "dedicated", ``Batch``: mode "batch"),
``GET /sessions/{id}`` (``session.details()``/``status()``), ``PATCH /sessions/{id}`` with
``{"accepting_jobs": false}`` (``close()``) and ``DELETE /sessions/{id}/close`` (``cancel()``).
States: "open" until its first job runs, then "active"; "closed" once it no longer accepts jobs
and none of its jobs is pending. A job sent to a session that does not accept jobs is refused
with 400, IBM code 1217 "Session has been closed."
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from .errors import ApiError, session_not_found


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat().replace("+00:00", "Z")


@dataclass(slots=True)
class _Session:
    id: str
    backend: str | None
    mode: str
    max_ttl: int
    created: datetime = field(default_factory=lambda: datetime.now(timezone.utc))
    state: str = "open"
    accepting_jobs: bool = True
    activated: datetime | None = None
    closed: datetime | None = None
    last_job_started: datetime | None = None
    last_job_completed: datetime | None = None

    def wire(self) -> dict[str, Any]:
        elapsed = 0.0
        if self.activated is not None:
            end = self.closed or datetime.now(timezone.utc)
            elapsed = (end - self.activated).total_seconds()
        return {
            "id": self.id,
            "backend_name": self.backend,
            "mode": self.mode,
            "max_ttl": self.max_ttl,
            "interactive_ttl": 60 if self.mode == "dedicated" else None,
            "active_ttl": self.max_ttl,
            "state": self.state,
            "accepting_jobs": self.accepting_jobs,
            "started_at": _iso(self.created),
            "activated_at": _iso(self.activated),
            "closed_at": _iso(self.closed),
            "last_job_started": _iso(self.last_job_started),
            "last_job_completed": _iso(self.last_job_completed),
            "elapsed_time": elapsed,
            "timestamps": [],
            "user_id": "standin-user",
        }


class SessionBook:
    """Sessions, guarded by the job store's condition (one lock for jobs and sessions)."""

    def __init__(self, cond: threading.Condition, has_pending: Callable[[str], bool]) -> None:
        self._cond = cond
        self._has_pending = has_pending
        self._sessions: dict[str, _Session] = {}

    def create(self, session_id: str, payload: dict[str, Any]) -> dict[str, Any]:
        mode = payload.get("mode") or "dedicated"
        if mode not in ("dedicated", "batch"):
            raise ApiError(400, 1218, f"Unknown session mode {mode!r}.")
        session = _Session(
            id=session_id,
            backend=payload.get("backend"),
            mode=mode,
            max_ttl=int(payload.get("max_ttl") or 28800),
        )
        with self._cond:
            self._sessions[session_id] = session
            return session.wire()

    def _get(self, session_id: str) -> _Session:
        session = self._sessions.get(session_id)
        if session is None:
            raise session_not_found(session_id)
        return session

    def details(self, session_id: str) -> dict[str, Any]:
        with self._cond:
            return self._get(session_id).wire()

    def ids(self) -> dict[str, str]:
        """Session id -> mode, for test assertions."""
        with self._cond:
            return {s.id: s.mode for s in self._sessions.values()}

    def check_accepting(self, session_id: str) -> None:
        with self._cond:
            if not self._get(session_id).accepting_jobs:
                raise ApiError(400, 1217, "Session has been closed.")

    def update(self, session_id: str, payload: dict[str, Any]) -> None:
        """``PATCH``: only ``accepting_jobs: false`` means something (the client's ``close()``)."""
        if payload.get("accepting_jobs") is False:
            self.close(session_id, cancel=False)

    def close(self, session_id: str, cancel: bool) -> None:
        with self._cond:
            session = self._get(session_id)
            session.accepting_jobs = False
            if cancel or not self._has_pending(session_id):
                self._mark_closed(session)

    def _mark_closed(self, session: _Session) -> None:
        if session.state != "closed":
            session.state = "closed"
            session.closed = datetime.now(timezone.utc)

    def job_started(self, session_id: str, moment: datetime) -> None:
        session = self._sessions.get(session_id)
        if session is not None:
            if session.activated is None:
                session.activated = moment
            if session.state == "open":
                session.state = "active"
            session.last_job_started = moment

    def job_finished(self, session_id: str, moment: datetime) -> None:
        session = self._sessions.get(session_id)
        if session is not None:
            session.last_job_completed = moment
            if not session.accepting_jobs and not self._has_pending(session_id):
                self._mark_closed(session)
