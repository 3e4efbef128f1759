"""The reads IBM's clients make before every job, made once per few seconds for a set.

``QiskitRuntimeService._run`` (0.51) reads the instance's usage (``GET /instances/usage``) and
the backend's status (``GET /backends/{name}/status``) before each job it sends, only to warn
(the instance's time is used up; the device is not active). No option or mode skips them, so a
set of 500 chunks spent 1,000 of its 2,000 requests on them, and IBM rate-limits an account's
requests. qiskit-ibm-provider 0.11's ``IBMBackend.run`` reads the backend's status the same way.
Here, while one of our workers submits a chunk, these reads are answered from the
last one made under ``CHECK_TTL`` seconds before: the client still warns, from that answer, so a
warning comes at most ``CHECK_TTL`` seconds late. Any other thread (the user's own calls on
the same objects) still reads IBM every time: the sharing is on only inside :func:`sharing`.

``usage`` and ``status`` are public, but that the clients call them before each job is not:
``CHECKED_RELEASES`` names the client releases this was checked against. On any other release
nothing is shared (each job reads them again, as the client does); tests/test_ibm_checks.py and
tests/qiskit1/test_q1_listing.py fail loudly when the installed client is not one of them, so
that an upgrade is checked, not guessed.
"""

from __future__ import annotations

import copy
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from .ibm_listing import is_checked_release

CHECKED_RELEASES = {"qiskit_ibm_runtime": ("0.51",), "qiskit_ibm_provider": ("0.11",)}
CHECK_TTL = 10.0
"""Seconds a usage or status answer serves our submits before it is read again."""

_submitting = threading.local()


@contextmanager
def sharing() -> Iterator[None]:
    """While this thread submits a job: the client's checks read the shared answers."""
    _submitting.on = True
    try:
        yield
    finally:
        _submitting.on = False


class SharedRead:
    """A read (``service.usage``, ``backend.status``) that our submitting threads share.

    The answer is kept per ``key()`` (the API client of the instance the job goes to: the
    service reads the usage of its active instance). One thread reads while the others wait
    for its answer; a read that fails is not kept."""

    def __init__(self, read: Callable[[], Any], key: Callable[[], Any] = lambda: None) -> None:
        self._read = read
        self._key = key
        self._lock = threading.Lock()
        self._answers: dict[int, tuple[float, Any]] = {}

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if args or kwargs or not getattr(_submitting, "on", False):
            return self._read(*args, **kwargs)
        key = id(self._key())
        with self._lock:
            kept = self._answers.get(key)
            if kept is None or time.monotonic() - kept[0] >= CHECK_TTL:
                kept = self._answers[key] = (time.monotonic(), self._read())
            # A copy: the client may change what it is given (it adds to the usage dict).
            return copy.deepcopy(kept[1])

    def __reduce__(self) -> tuple[Any, ...]:
        # A copy or pickle of the user's object (which holds this) gets the client's own
        # method back, not our lock and answers.
        method: Any = self._read  # a bound method of the client's object
        return (getattr, (method.__self__, method.__name__))


def checked(package: str) -> bool:
    """Whether the installed release of IBM client ``package`` is one this was checked against."""
    releases = CHECKED_RELEASES.get(package, ())
    return is_checked_release(package, releases, "each job reads its checks again")


def share_checks(package: str, backend: Any) -> bool:
    """Make the pre-submit reads of ``backend`` (an IBMBackend of client ``package``) shared by
    our submits: its status, and with qiskit-ibm-runtime its service's usage. False where the
    installed client was not checked (nothing is changed then)."""
    if not checked(package) or not callable(getattr(backend, "status", None)):
        return False
    # Set on the instances (once: every set on these objects shares the same answers).
    if not isinstance(vars(backend).get("status"), SharedRead):
        backend.status = SharedRead(backend.status)
    service: Any = getattr(backend, "service", None)
    if (
        package == "qiskit_ibm_runtime"
        and callable(getattr(service, "usage", None))
        and not isinstance(vars(service).get("usage"), SharedRead)
    ):
        service.usage = SharedRead(service.usage, lambda: service._active_api_client)
    return True
