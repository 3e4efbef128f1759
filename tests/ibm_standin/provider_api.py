"""A stand-in of the IBM Quantum API that qiskit-ibm-provider 0.11 talks to, on 127.0.0.1.

The real ``IBMProvider`` client logs in, finds its hub/group/project and the backend, submits
circuit-runner jobs to the runtime API and reads their results, all from a threaded HTTP server
that this module starts and stops. Jobs run on qiskit-aer, one at a time, noiseless unless a
noise model is given, so basis-state circuits give exact counts.

    with ProviderStandIn() as api:
        backend = api.provider().get_backend("fake_manila")
        job = backend.run(circuits, shots=100, job_tags=["mine"])
        api.jobs[job.job_id()].tags          # ('mine',)

Paths (under ``api.url``): ``/api`` is the auth and account API (``/version``,
``/users/loginWithToken``, ``/users/me``, ``/Network``); ``/runtime`` is the runtime API
(``/backends...``, ``/jobs...``, ``/facade/v1/jobs/{id}/type``). Errors have IBM's body,
``{"error": {"code": ..., "message": ...}}``, which the client folds into its exception text.
"""

from __future__ import annotations

import json
import pathlib
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import qiskit.providers.fake_provider.backends_v1.fake_5q as _fake_5q

try:  # as tests.ibm_standin.provider_api, or with tests/ibm_standin on sys.path
    from .faults import Faults
    from .provider_jobs import PENDING_LIMIT_MESSAGE, JobBook, JobInfo
except ImportError:
    from faults import Faults  # type: ignore[no-redef]
    from provider_jobs import PENDING_LIMIT_MESSAGE, JobBook, JobInfo  # type: ignore[no-redef]

HGP = ("ibm-q", "open", "main")
TOKEN = "stand-in-api-token"
JOB_NOT_FOUND = 3250
PENDING_JOB_LIMIT = 3458
_PULSE_ONLY = frozenset({"acquire", "play", "setf", "shiftf"})
_UNAUTHORIZED = {"code": "AUTHORIZATION_REQUIRED", "message": "Authorization Required"}


def _device_files(backend_name: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """Configuration and properties of qiskit's 5-qubit fake device, renamed ``backend_name``."""
    folder = pathlib.Path(_fake_5q.__file__).parent
    configuration = json.loads((folder / "conf_yorktown.json").read_text())
    properties = json.loads((folder / "props_yorktown.json").read_text())
    configuration.update(backend_name=backend_name, description="5-qubit stand-in device")
    # Pulse instructions have no qiskit gate: the client would log a warning for each one.
    configuration["supported_instructions"] = [
        name for name in configuration["supported_instructions"] if name not in _PULSE_ONLY
    ]
    properties["backend_name"] = backend_name
    return configuration, properties


class ProviderStandIn:
    """Threaded HTTP server speaking the API of qiskit-ibm-provider 0.11; a context manager.

    Args:
        backend_name: The one device it serves (5 qubits, from qiskit's FakeYorktown data).
        noise_model: None (noiseless), "device" (Aer's model from the served properties) or an
            Aer ``NoiseModel``.
        token: The API token that logs in.
    """

    def __init__(
        self, backend_name: str = "fake_manila", noise_model: Any = None, token: str = TOKEN
    ) -> None:
        self.backend_name = backend_name
        self.token = token
        self.configuration, self.properties = _device_files(backend_name)
        if noise_model == "device":
            noise_model = _device_noise(self.properties)
        self.faults = Faults(prefix="/runtime/")
        self._book = JobBook(self.faults, noise_model)
        self._lock = threading.Lock()
        self._access_tokens: set[str] = set()
        self._revoked = False
        self._requests: list[tuple[str, str, int]] = []
        self._times: list[float] = []
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.url = ""

    # -- lifecycle -------------------------------------------------------------------------

    def __enter__(self) -> ProviderStandIn:
        handler = type("Handler", (_Handler,), {"api": self})
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._server.daemon_threads = True
        host, port = self._server.server_address[:2]
        self.url = f"http://{host}:{port}"
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name="provider-standin-http",
            daemon=True,
        )
        self._thread.start()
        self._book.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._book.stop()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=10)

    # -- what tests use --------------------------------------------------------------------

    @property
    def auth_url(self) -> str:
        """The URL to give ``IBMProvider(url=...)``."""
        return f"{self.url}/api"

    def provider(self, token: str | None = None) -> Any:
        """A real ``IBMProvider`` logged in to this stand-in."""
        from qiskit_ibm_provider import IBMProvider

        return IBMProvider(token=token or self.token, url=self.auth_url)

    @property
    def jobs(self) -> dict[str, JobInfo]:
        """Every job not deleted, by id: its status (API spelling), tags and backend."""
        return self._book.snapshot()

    @property
    def requests(self) -> list[tuple[str, str, int]]:
        """Every request so far as (method, path, status); status 0 where the socket dropped."""
        with self._lock:
            return list(self._requests)

    @property
    def times(self) -> list[float]:
        """When each request of ``requests`` was answered (``time.monotonic()``), in order."""
        with self._lock:
            return list(self._times)

    @property
    def max_pending(self) -> int | None:
        """Refuse submits (429, code 3458) while this many jobs are pending; None: no limit."""
        return self._book.max_pending

    @max_pending.setter
    def max_pending(self, limit: int | None) -> None:
        self._book.max_pending = limit

    @property
    def job_seconds(self) -> float:
        """Each job holds the device at least this long (0: as long as Aer takes)."""
        return self._book.job_seconds

    @job_seconds.setter
    def job_seconds(self, seconds: float) -> None:
        self._book.job_seconds = seconds

    def hold(self) -> None:
        """Jobs not yet started stay queued until :meth:`release`."""
        self._book.hold()

    def release(self) -> None:
        self._book.release()

    def revoke_tokens(self) -> None:
        """Every request from now on, logins included, answers 401."""
        with self._lock:
            self._revoked = True
            self._access_tokens.clear()

    def delete_job(self, job_id: str) -> None:
        """Forget a job: the API answers 404 (error 3250) for it from now on."""
        self._book.delete(job_id)

    # -- used by the handler ---------------------------------------------------------------

    def _log(self, method: str, path: str, status: int) -> None:
        with self._lock:
            self._requests.append((method, path, status))
            self._times.append(time.monotonic())

    def _login(self, api_token: str) -> str | None:
        with self._lock:
            if self._revoked or api_token != self.token:
                return None
            access_token = uuid.uuid4().hex
            self._access_tokens.add(access_token)
            return access_token

    def _authorized(self, access_token: str | None) -> bool:
        with self._lock:
            return access_token in self._access_tokens


def _device_noise(properties: dict[str, Any]) -> Any:
    from qiskit.providers.models import BackendProperties
    from qiskit_aer.noise import NoiseModel

    return NoiseModel.from_backend_properties(BackendProperties.from_dict(properties))


class _Handler(BaseHTTPRequestHandler):
    api: ProviderStandIn
    server_version = "ProviderStandIn/0.11"

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        pass

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def do_PUT(self) -> None:
        self._dispatch("PUT")

    def do_DELETE(self) -> None:
        self._dispatch("DELETE")

    # -- plumbing --------------------------------------------------------------------------

    def _dispatch(self, method: str) -> None:
        parts = urlsplit(self.path)
        path, query = parts.path, parse_qs(parts.query)
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        submit = method == "POST" and path == "/runtime/jobs"
        faults = self.api.faults
        fault = faults.take_http(method, path)
        if fault is not None and fault.drop:
            self.api._log(method, path, 0)
            self.close_connection = True
            return
        if fault is not None:
            message = f"Service unavailable (injected HTTP {fault.status})"
            self._error(fault.status, fault.status, message, method, path, fault.retry_after)
            return
        if submit and faults.take_pending_limit():
            self._error(429, PENDING_JOB_LIMIT, PENDING_LIMIT_MESSAGE, method, path)
            return
        try:
            status, answer = self._route(method, path, query, body)
        except Exception as exc:  # a bug in the stand-in: say so, as a server would
            status, answer = 500, _body(500, f"stand-in error: {type(exc).__name__}: {exc}")
        self._send(status, answer, method, path)

    def _error(
        self,
        status: int,
        code: Any,
        message: str,
        method: str,
        path: str,
        retry_after: float | None = None,
    ) -> None:
        self._send(status, _body(code, message), method, path, retry_after)

    def _send(
        self, status: int, answer: Any, method: str, path: str, retry_after: float | None = None
    ) -> None:
        self.api._log(method, path, status)
        data = b"" if answer is None else (answer if isinstance(answer, bytes) else _json(answer))
        self.send_response(status)
        if retry_after is not None:  # as IBM's rate limiter sends with a 429
            self.send_header("Retry-After", f"{retry_after:g}")
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    # -- the API ---------------------------------------------------------------------------

    def _route(
        self, method: str, path: str, query: dict[str, list[str]], body: bytes
    ) -> tuple[int, Any]:
        api = self.api
        if path == "/api/version":
            return 200, {"api-auth": "0.1", "api-runtime": "0.1"}
        if path == "/api/users/loginWithToken" and method == "POST":
            access_token = api._login(json.loads(body or b"{}").get("apiToken", ""))
            if access_token is None:
                return 401, _body("LOGIN_FAILED", "Login failed: the API token was refused")
            return 200, {"id": access_token, "ttl": 1209600, "userId": "standin-user"}
        if not api._authorized(self.headers.get("X-Access-Token")):
            return 401, {"error": _UNAUTHORIZED}
        if path == "/api/users/me":
            return 200, {
                "urls": {
                    "http": f"{api.url}/api",
                    "ws": f"{api.url.replace('http', 'ws')}/ws",
                    "services": {"runtime": f"{api.url}/runtime"},
                }
            }
        if path == "/api/Network":
            hub, group, project = HGP
            projects = {project: {"name": project, "isDefault": True}}
            return 200, [{"name": hub, "groups": {group: {"name": group, "projects": projects}}}]
        if path.startswith("/runtime/backends"):
            return self._backends(path.removeprefix("/runtime/backends").strip("/"))
        if path.startswith("/runtime/facade/v1/jobs/") and path.endswith("/type"):
            job_id = path.split("/")[5]
            if api._book.get(job_id) is None:
                return 404, _body(JOB_NOT_FOUND, f"Job {job_id} not found")
            return 200, {"type": "RUNTIME"}
        if path == "/runtime/jobs":
            if method == "POST":
                job = api._book.create(body, HGP)
                if job is None:
                    return 429, _body(PENDING_JOB_LIMIT, PENDING_LIMIT_MESSAGE)
                return 200, {"id": job.id, "backend": job.backend}
            return 200, api._book.listing(query)
        if path.startswith("/runtime/jobs/"):
            return self._job(method, path.removeprefix("/runtime/jobs/").split("/"), query, body)
        return 404, _body(404, f"no such endpoint: {method} {path}")

    def _backends(self, rest: str) -> tuple[int, Any]:
        api = self.api
        if not rest:
            return 200, {"devices": [api.backend_name]}
        name, _, what = rest.partition("/")
        if name != api.backend_name:
            return 404, _body(404, f"Backend {name} not found")
        if what == "configuration":
            return 200, api.configuration
        if what == "properties":
            return 200, api.properties
        if what == "defaults":
            return 200, {}
        if what == "status":
            return 200, {"state": True, "status": "active", "length_queue": 0}
        return 404, _body(404, f"no such backend endpoint: {what}")

    def _job(
        self, method: str, parts: list[str], query: dict[str, list[str]], body: bytes
    ) -> tuple[int, Any]:
        book = self.api._book
        job_id, what = parts[0], "/".join(parts[1:])
        job = book.get(job_id)
        if job is None:
            return 404, _body(JOB_NOT_FOUND, f"Job {job_id} not found")
        if method == "DELETE" and not what:
            book.delete(job_id)
            return 204, None
        if method == "GET" and not what:
            with_params = query.get("exclude_params", ["false"])[0] != "true"
            return 200, job.as_json(with_params=with_params)
        if method == "POST" and what == "cancel":
            if book.cancel(job_id):
                return 204, None
            return 409, _body(3209, f"Job {job_id} cannot be cancelled: it is {job.status}")
        if method == "GET" and what == "results":
            if job.result is None:
                return 200, f"JobError: '{job.reason or job.status}'".encode()
            return 200, job.result.encode()
        if method == "GET" and what == "metrics":
            return 200, {"timestamps": {"created": job.created}, "usage": {}}
        if method == "PUT" and what == "tags":
            book.set_tags(job_id, json.loads(body)["tags"])
            return 204, None
        return 404, _body(404, f"no such job endpoint: {method} {what}")


def _body(code: Any, message: str) -> dict[str, Any]:
    return {"error": {"code": code, "message": message}}


def _json(data: Any) -> bytes:
    return json.dumps(data).encode()
