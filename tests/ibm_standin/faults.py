"""Fault injection for the IBM Quantum stand-ins: the runtime API (qiskit-ibm-runtime 0.51.0)
and the one qiskit-ibm-provider 0.11.0 uses, which retries the same way. Standard library only,
so that both venvs import it.

Stands in for the ways the real service misbehaves: the pending-job limit (error code 3458),
5xx bursts from the gateway, connections dropped without an answer, and jobs that fail on the
device. Every rule is counted: it fires for the next ``count`` matching events, then disappears.

HTTP rules (``http_error``, ``drop_connection``, ``pending_limit``) apply to the jobs API only
(paths under ``prefix``: ``/api/v1`` for the runtime, ``/runtime/`` for the provider), never to
logging in (IAM token, instance lookup, the provider's login).

What the 0.51 client does about them (its ``RetrySession``: urllib3 ``Retry(total=5, connect=3,
backoff_factor=0.5)`` with status_forcelist 500/502/503/504/520/521/522/524, POST included):

* a 5xx in that list is retried for every method; the waits between tries are 0, 1, 2, 4, 8 s,
  so a burst of up to 5 is survived (a burst of 2 costs ~1 s, 3 costs ~3 s). A sixth failure
  surfaces as ``RequestsApiError`` with status_code -1 (urllib3's MaxRetryError).
* a dropped connection is retried only for idempotent methods (GET, PUT, DELETE): a drop on
  POST /jobs, POST /jobs/{id}/cancel, POST /sessions or PATCH /sessions/{id} reaches the caller
  (``IBMRuntimeError`` "Failed to run program" for a submit). A drop happens before the stand-in
  acts on the request, so a dropped submit created no job.
* 4xx (3458 included) are never retried by the client.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

RUNTIME_PREFIX = "/api/v1"


@dataclass(slots=True)
class _HttpRule:
    kind: str  # "status" or "drop"
    count: int
    status: int
    method: str | None
    path_contains: str | None
    retry_after: float | None = None
    path: str | None = None

    def matches(self, method: str, path: str) -> bool:
        if self.method is not None and self.method.upper() != method.upper():
            return False
        if self.path is not None and self.path != path:
            return False
        return self.path_contains is None or self.path_contains in path


@dataclass(frozen=True, slots=True)
class HttpFault:
    """What to do with one request: answer ``status`` with an IBM error body, or ``drop`` it."""

    drop: bool
    status: int
    retry_after: float | None = None
    """Seconds for the answer's ``Retry-After`` header (None: no header)."""


@dataclass(frozen=True, slots=True)
class JobFailure:
    """Why an injected job failure failed (``reason`` is what ``job.error_message()`` shows)."""

    reason: str
    reason_code: int | None


class Faults:
    """Counted fault rules, safe to change from the test thread while the server runs."""

    def __init__(self, prefix: str = RUNTIME_PREFIX) -> None:
        self._prefix = prefix
        self._lock = threading.Lock()
        self._http: list[_HttpRule] = []
        self._pending_limit = 0
        self._job_failures: list[JobFailure] = []

    def pending_limit(self, count: int = 1) -> None:
        """The next ``count`` job submissions answer IBM error code 3458 (no job is made)."""
        self._check_count(count)
        with self._lock:
            self._pending_limit += count

    def http_error(
        self,
        status: int = 503,
        count: int = 1,
        method: str | None = None,
        path_contains: str | None = None,
        retry_after: float | None = None,
        path: str | None = None,
    ) -> None:
        """The next ``count`` runtime requests matching ``method``, ``path_contains`` and the
        exact ``path`` (each where given) answer ``status`` with an IBM error body, before the
        stand-in acts on them; with a ``Retry-After: retry_after`` header where given (as IBM's
        rate limiter sends on 429)."""
        self._check_count(count)
        if not 400 <= status <= 599:
            raise ValueError(f"status must be an HTTP error status (400-599), got {status}")
        with self._lock:
            self._http.append(
                _HttpRule("status", count, status, method, path_contains, retry_after, path)
            )

    def drop_connection(
        self, count: int = 1, method: str | None = None, path_contains: str | None = None
    ) -> None:
        """The next ``count`` matching runtime requests are read, then the socket is closed
        without an answer (the client sees ``RemoteDisconnected``)."""
        self._check_count(count)
        with self._lock:
            self._http.append(_HttpRule("drop", count, 0, method, path_contains))

    def fail_job(
        self, count: int = 1, reason: str = "Injected failure", reason_code: int | None = None
    ) -> None:
        """The next ``count`` jobs to start running end FAILED with ``reason``."""
        self._check_count(count)
        with self._lock:
            self._job_failures.extend([JobFailure(reason, reason_code)] * count)

    def clear(self) -> None:
        """Forget every rule not yet used."""
        with self._lock:
            self._http.clear()
            self._pending_limit = 0
            self._job_failures.clear()

    # -- used by the server -------------------------------------------------------------------

    def take_http(self, method: str, path: str) -> HttpFault | None:
        """Consume and return the first rule matching this request, if any."""
        if not path.startswith(self._prefix):
            return None
        with self._lock:
            for rule in self._http:
                if rule.matches(method, path):
                    rule.count -= 1
                    if rule.count <= 0:
                        self._http.remove(rule)
                    return HttpFault(rule.kind == "drop", rule.status, rule.retry_after)
        return None

    def take_pending_limit(self) -> bool:
        with self._lock:
            if self._pending_limit > 0:
                self._pending_limit -= 1
                return True
        return False

    def take_job_failure(self) -> JobFailure | None:
        with self._lock:
            return self._job_failures.pop(0) if self._job_failures else None

    @staticmethod
    def _check_count(count: int) -> None:
        if not isinstance(count, int) or count < 1:
            raise ValueError(f"count must be a positive int, got {count!r}")
