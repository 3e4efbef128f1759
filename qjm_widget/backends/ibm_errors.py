"""Words for what IBM Quantum's clients raise, so a chunk's error says what to do.

Both clients (qiskit-ibm-runtime and qiskit-ibm-provider) wrap HTTP failures in their own
exception types carrying ``status_code``, and connection failures (after their own retries) in
errors whose cause is a ``requests`` ConnectionError. We read those by duck typing: importing
either client here would make it a dependency.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterator
from email.utils import parsedate_to_datetime

_CONNECTION_ERRORS = (
    "ConnectionError",
    "ConnectTimeout",
    "ReadTimeout",
    "MaxRetryError",
    "ChunkedEncodingError",
    "RemoteDisconnected",
    "ProtocolError",
    "NewConnectionError",
)
PENDING_JOB_LIMIT_CODE = 3458
"""IBM's answer when an account has as many unfinished jobs as its plan allows."""

# 4xx answers worth another try: timeout, conflict, too many requests.
_TRANSIENT_CLIENT_ERRORS = frozenset({408, 409, 429})


def _chain(exc: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        context = None if current.__suppress_context__ else current.__context__
        current = current.__cause__ or context


def _whole_chain(exc: BaseException) -> Iterator[BaseException]:
    """Like _chain, and also the context a client hid with ``raise ... from None``."""
    seen: set[int] = set()
    todo: list[BaseException] = [exc]
    while todo:
        current = todo.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        todo.extend(e for e in (current.__context__, current.__cause__) if e is not None)


def retry_after(exc: BaseException) -> float | None:
    """Seconds the answer behind ``exc`` asked us to wait (its ``Retry-After`` header, as IBM's
    rate limiter sends with a 429), or None where it named none.

    qiskit-ibm-runtime does not retry a 429 on a submit (POST /jobs) and raises
    ``IBMRuntimeError(...) from None``, which hides the answer from the traceback but not from
    ``__context__``: the ``requests`` HTTPError there keeps the response and its headers.
    """
    for error in _whole_chain(exc):
        headers = getattr(getattr(error, "response", None), "headers", None)
        get = getattr(headers, "get", None)
        value = get("Retry-After") if callable(get) else None
        if value is not None:
            return _seconds_of(str(value))
    return None


def _seconds_of(value: str) -> float | None:
    """A Retry-After value (delay-seconds or an HTTP-date) as seconds from now, at least 0."""
    try:
        seconds = float(value)
    except ValueError:
        try:
            seconds = parsedate_to_datetime(value).timestamp() - time.time()
        except (TypeError, ValueError, IndexError):
            return None
    return max(0.0, seconds) if math.isfinite(seconds) else None


def is_pending_job_limit(exc: BaseException) -> bool:
    """True for IBM's 'too many pending jobs' answer (error code 3458), however it is wrapped:
    both clients keep the code only in their message text (see tests/ibm_standin/README.md)."""
    code = PENDING_JOB_LIMIT_CODE
    for error in _chain(exc):
        for attr in ("code", "error_code", "status_code"):
            if getattr(error, attr, None) in (code, str(code)):
                return True
        if str(code) in str(error):
            return True
    return False


def http_status(exc: BaseException) -> int | None:
    """The HTTP status an IBM client error carries (its own or its cause's), if any."""
    for error in _chain(exc):
        # requests' HTTPError keeps it on its response (IBMNotAuthorizedError's cause).
        for holder in (error, getattr(error, "response", None)):
            for attr in ("status_code", "status"):
                value = getattr(holder, attr, None)
                if isinstance(value, int) and 100 <= value < 600:
                    return value
    return None


def is_permanent_http_error(exc: BaseException) -> bool:
    """A 4xx answer (bad token, not found, bad request): trying again cannot help."""
    status = http_status(exc)
    return status is not None and 400 <= status < 500 and status not in _TRANSIENT_CLIENT_ERRORS


_JOB_NOT_FOUND = frozenset({"RuntimeJobNotFound", "IBMJobNotFoundError", "JobNotFoundError"})


def job_is_gone(exc: BaseException) -> bool:
    """The service says the job does not exist (deleted, or expired from its history)."""
    for error in _chain(exc):
        if _JOB_NOT_FOUND & {cls.__name__ for cls in type(error).__mro__}:
            return True
        if "Error code: 3250" in str(error):  # qiskit-ibm-provider's "job not found"
            return True
    return http_status(exc) == 404


def _unreachable(exc: BaseException) -> bool:
    # The whole chain: a failed submit is ``IBMRuntimeError(...) from None`` over the
    # connection error.
    return any(
        any(cls.__name__ in _CONNECTION_ERRORS for cls in type(error).__mro__)
        for error in _whole_chain(exc)
    )


def explain_ibm_error(exc: BaseException) -> str | None:
    """Plain words for an IBM client failure; None when ``exc`` is not one we can explain."""
    names = {cls.__name__ for error in _chain(exc) for cls in type(error).__mro__}
    status = http_status(exc)
    if status in (401, 403) or "IBMNotAuthorizedError" in names:
        provider = any(type(e).__module__.startswith("qiskit_ibm_provider") for e in _chain(exc))
        client = "IBMProvider" if provider else "QiskitRuntimeService"
        return (
            f"IBM Quantum refused the credentials (HTTP {status or 401}): the API token is "
            "wrong, expired or revoked, or has no access to this instance. Save a valid one "
            f"({client}.save_account(token=..., overwrite=True)) and retry"
        )
    if "The session is closed" in str(exc):
        return (
            "the IBM Quantum batch or session the job was sent to is closed (by its owner, or "
            "it expired): pass an open one, or pass the backend and let the job manager open "
            "its own"
        )
    if "QiskitBackendNotFoundError" in names or (status == 404 and "backend" in str(exc).lower()):
        return f"IBM Quantum does not know this backend (HTTP {status or 404}): {exc}"
    if status == 429:
        return f"IBM Quantum is limiting the rate of requests (HTTP 429): {exc}"
    if status is not None and status >= 500:
        return f"IBM Quantum had a server error (HTTP {status}); it is usually brief: {exc}"
    if _unreachable(exc):
        return (
            "could not reach IBM Quantum, even after the client's own retries (network down, "
            f"proxy or firewall?): {exc}"
        )
    return None
