"""``RuntimeStandIn``: a loopback IBM Quantum runtime service for the real runtime client.

Pinned to qiskit-ibm-runtime 0.51.0. One threaded HTTP server on 127.0.0.1 (random port) serves
IAM, Global Search/Catalog and the runtime API; ``service()`` builds a real
``QiskitRuntimeService`` pointed at it (``IAM_URL``, ``GLOBAL_SEARCH_URL`` and
``GLOBAL_CATALOG_URL`` are set only while the service is built, under a lock; the client keeps
the URLs it read). Stopping closes every connection and joins every thread the stand-in
started (all named ``ibm-standin-*``).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from types import TracebackType
from typing import Any

from qiskit_ibm_runtime import QiskitRuntimeService

from . import auth
from .backends import StandInBackend
from .faults import RUNTIME_PREFIX, Faults
from .jobs import JobStore, JobView
from .runtime_api import RequestRecord, RuntimeApi, StandInHTTPServer

_ENV_LOCK = threading.Lock()


class RuntimeStandIn:
    """A loopback IBM Quantum runtime API that runs sampler jobs on Aer.

    Example::

        with RuntimeStandIn(backends=("fake_manila",), noise=False) as api:
            backend = api.service().backend("fake_manila")
            job = SamplerV2(mode=backend).run([isa_circuit], shots=100)
            job.result()[0].data.c.get_counts()

    Args:
        backends: names of ``qiskit_ibm_runtime.fake_provider`` backends to serve
            (``FakeManilaV2.backend_name`` is ``"fake_manila"``).
        noise: run on ``AerSimulator.from_backend(fake)`` (True) or a noiseless
            ``AerSimulator`` (False: basis-state circuits give exact counts).
        seed: Aer's sampler seed, for reproducible noisy counts.
        api_key: the API key the stand-in's IAM accepts.
    """

    def __init__(
        self,
        backends: Iterable[str] = ("fake_manila",),
        noise: bool = True,
        seed: int | None = None,
        api_key: str = auth.API_KEY,
    ) -> None:
        names = list(backends)
        if not names:
            raise ValueError("backends must name at least one fake backend, got none")
        self._backends = {name: StandInBackend(name) for name in names}
        self.faults = Faults()
        """Counted fault rules: ``pending_limit``, ``http_error``, ``drop_connection``,
        ``fail_job``, ``clear``."""
        self.api_key = api_key
        self._authority = auth.Authority(api_key)
        self._store = JobStore(self._backends, self.faults, noise=noise, seed=seed)
        self._api = RuntimeApi(self._backends, self._store, self._authority, self.faults)
        self._server: StandInHTTPServer | None = None
        self._serve_thread: threading.Thread | None = None

    # -- lifecycle ------------------------------------------------------------------------------

    def start(self) -> RuntimeStandIn:
        if self._server is not None:
            raise RuntimeError("this RuntimeStandIn is already started")
        self._server = StandInHTTPServer(self._api)
        self._serve_thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name="ibm-standin-http",
            daemon=True,
        )
        self._serve_thread.start()
        self._store.start()
        return self

    def stop(self) -> None:
        """Stop serving, close every connection, stop the worker; joins all its threads."""
        server, self._server = self._server, None
        if server is not None:
            server.shutdown()
            server.server_close()
            server.close_connections()
        if self._serve_thread is not None:
            self._serve_thread.join(5.0)
        self._store.stop()

    def __enter__(self) -> RuntimeStandIn:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # -- addresses and the client ---------------------------------------------------------------

    @property
    def url(self) -> str:
        """Root URL (``http://127.0.0.1:<port>``); the runtime API is at ``api_url``."""
        if self._server is None:
            raise RuntimeError("the stand-in is not running: use it as a context manager")
        return f"http://127.0.0.1:{self._server.server_port}"

    @property
    def api_url(self) -> str:
        """Base URL of the runtime API (what ``url_resolver`` must return)."""
        return self.url + RUNTIME_PREFIX

    @property
    def instance(self) -> str:
        """The CRN of the stand-in's one instance."""
        return auth.INSTANCE_CRN

    def env(self) -> dict[str, str]:
        """The env vars the 0.51 client reads for IAM and the instance lookup."""
        return {
            "IAM_URL": self.url,
            "GLOBAL_SEARCH_URL": self.url + "/search",
            "GLOBAL_CATALOG_URL": self.url + "/catalog",
        }

    @contextmanager
    def client_env(self) -> Iterator[None]:
        """Set ``env()`` for the block (process-wide, serialised by a lock), then restore."""
        with _ENV_LOCK:
            saved = {name: os.environ.get(name) for name in self.env()}
            os.environ.update(self.env())
            try:
                yield
            finally:
                for name, value in saved.items():
                    if value is None:
                        os.environ.pop(name, None)
                    else:
                        os.environ[name] = value

    def service(self, token: str | None = None, **kwargs: Any) -> QiskitRuntimeService:
        """A real ``QiskitRuntimeService`` connected to the stand-in.

        ``token`` defaults to the valid API key; a wrong one makes the client raise its own
        ``InvalidAccountError`` ("Unable to retrieve instances..."), as with IBM's IAM.
        """
        resolved = self.api_url
        options: dict[str, Any] = {
            "channel": "ibm_quantum_platform",
            "token": self.api_key if token is None else token,
            "instance": self.instance,
            "url": self.url,
            "url_resolver": lambda *_: resolved,
        }
        options.update(kwargs)
        with self.client_env():
            return QiskitRuntimeService(**options)

    # -- state and control ----------------------------------------------------------------------

    def use_up_usage(self, used_up: bool = True) -> None:
        """Make ``GET /instances/usage`` say the instance's time is used up (or not)."""
        self._api.usage_limit_reached = used_up

    @property
    def jobs(self) -> dict[str, JobView]:
        """Snapshot of the stored jobs: id -> ``JobView`` (status upper-case: QUEUED, ...)."""
        return self._store.views()

    @property
    def sessions(self) -> dict[str, str]:
        """Snapshot of the sessions created: id -> mode ("batch" or "dedicated")."""
        return self._store.sessions.ids()

    @property
    def requests(self) -> list[RequestRecord]:
        """Every request so far as ``(method, path, status)``; status 0 means dropped."""
        return self._api.requests()

    @property
    def queries(self) -> list[str]:
        """The query string of each request in :attr:`requests`, in the same order."""
        return self._api.queries()

    @property
    def times(self) -> list[float]:
        """When each request in :attr:`requests` was answered (``time.monotonic()``)."""
        return self._api.times()

    @property
    def max_pending(self) -> int | None:
        """When set, POST /jobs answers 409/3458 while this many jobs are QUEUED or RUNNING."""
        return self._store.max_pending

    @max_pending.setter
    def max_pending(self, value: int | None) -> None:
        if value is not None and (not isinstance(value, int) or value < 0):
            raise ValueError(f"max_pending must be None or an int >= 0, got {value!r}")
        self._store.max_pending = value

    @property
    def max_executions(self) -> int | None:
        """When set, POST /jobs answers 400 for a job of more circuit executions (PUB points x
        shots) than this: IBM's limit is 10 million, a test sets it low."""
        return self._store.max_executions

    @max_executions.setter
    def max_executions(self, value: int | None) -> None:
        if value is not None and (not isinstance(value, int) or value <= 0):
            raise ValueError(f"max_executions must be None or an int > 0, got {value!r}")
        self._store.max_executions = value

    @property
    def job_seconds(self) -> float:
        """Each job holds the one device at least this long (0: as long as Aer takes)."""
        return self._store.job_seconds

    @job_seconds.setter
    def job_seconds(self, seconds: float) -> None:
        self._store.job_seconds = float(seconds)

    def hold(self) -> None:
        """New and queued jobs stay QUEUED until ``release()`` (a running job finishes)."""
        self._store.hold()

    def release(self) -> None:
        self._store.release()

    def wait_idle(self, timeout: float = 10.0) -> bool:
        """Wait until no job is QUEUED or RUNNING; False on timeout."""
        return self._store.wait_idle(timeout)

    def revoke_tokens(self) -> None:
        """Every later runtime request answers 401; IAM refuses the API key (400)."""
        self._authority.revoke()

    def delete_job(self, job_id: str) -> None:
        """Forget a job: later GET /jobs/{id} answer 404, as for a job IBM no longer has."""
        self._store.delete(job_id)
