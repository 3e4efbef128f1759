"""The HTTP side of the IBM Quantum runtime stand-in: routes, auth checks, faults, request log.

Stands in for ``https://quantum.cloud.ibm.com/api/v1`` (served under ``/api/v1``), IBM Cloud IAM
(``/identity/token``), Global Search (``/search``) and Global Catalog (``/catalog``), as the
qiskit-ibm-runtime 0.51.0 client calls them. Paths, payloads and answers follow that client's
``api/rest/*.py``; every runtime request needs a bearer token issued by the stand-in's IAM.

Besides the job routes, each submit makes the client call ``GET /backends/{name}/status`` and
``GET /instances/usage`` first, and a ``Session``/``Batch`` calls ``POST /sessions``.
"""

from __future__ import annotations

import contextlib
import json
import logging
import re
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, NamedTuple
from urllib.parse import parse_qs, urlsplit

from qiskit_ibm_runtime import RuntimeDecoder

from . import auth
from .backends import StandInBackend
from .errors import ApiError, generic_http_error
from .faults import RUNTIME_PREFIX, Faults
from .jobs import JobStore, decode_inputs, new_id

logger = logging.getLogger(__name__)

DROPPED = 0
"""Status recorded in the request log for a connection closed without an answer."""


class RequestRecord(NamedTuple):
    """One request the stand-in received: method, URL path (no query) and the status answered."""

    method: str
    path: str
    status: int


@dataclass(frozen=True, slots=True)
class Answer:
    status: int
    body: bytes = b""
    content_type: str = "application/json"

    @classmethod
    def json(cls, payload: Any, status: int = 200) -> Answer:
        return cls(status, json.dumps(payload).encode())


NO_CONTENT = Answer(204)


@dataclass(frozen=True, slots=True)
class Request:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        try:
            return json.loads(self.body or b"{}")
        except ValueError as ex:
            raise ApiError(400, 1200, f"Request body is not valid JSON: {ex}") from None


Route = Callable[[Request, dict[str, str]], Answer]


class RuntimeApi:
    """Maps requests to the job store, the backends and the authority."""

    def __init__(
        self,
        backends: dict[str, StandInBackend],
        store: JobStore,
        authority: auth.Authority,
        faults: Faults,
    ) -> None:
        self.backends = backends
        self.store = store
        self.authority = authority
        self.faults = faults
        self.usage_limit_reached = False
        """What ``GET /instances/usage`` says (True: the instance's time is used up)."""
        self._log: list[RequestRecord] = []
        self._queries: list[str] = []
        self._times: list[float] = []
        self._log_lock = threading.Lock()
        j = RUNTIME_PREFIX + "/jobs/(?P<id>[^/]+)"
        s = RUNTIME_PREFIX + "/sessions/(?P<id>[^/]+)"
        b = RUNTIME_PREFIX + "/backends/(?P<name>[^/]+)"
        table: list[tuple[str, str, Route]] = [
            ("POST", "/identity/token", self._iam_token),
            ("POST", "/search/v3/resources/search", self._search),
            ("GET", "/catalog/(?P<id>[^/]+)", self._catalog),
            ("GET", RUNTIME_PREFIX + "/backends", self._backends),
            ("GET", b + "/configuration", self._configuration),
            ("GET", b + "/properties", self._properties),
            ("GET", b + "/status", self._status),
            ("GET", RUNTIME_PREFIX + "/instances/usage", self._usage),
            ("POST", RUNTIME_PREFIX + "/jobs", self._submit),
            ("GET", RUNTIME_PREFIX + "/jobs", self._list_jobs),
            ("GET", j, self._get_job),
            ("DELETE", j, self._delete_job),
            ("GET", j + "/results", self._results),
            ("GET", j + "/metrics", self._metrics),
            ("GET", j + "/logs", lambda r, p: Answer(200, b"", "text/plain")),
            ("POST", j + "/cancel", self._cancel),
            ("PUT", j + "/tags", self._tags),
            ("POST", RUNTIME_PREFIX + "/sessions", self._create_session),
            ("GET", s, self._session),
            ("PATCH", s, self._update_session),
            ("DELETE", s + "/close", self._cancel_session),
        ]
        self._routes = [(m, re.compile(pattern + "$"), fn) for m, pattern, fn in table]

    # -- request log ----------------------------------------------------------------------------

    def record(self, method: str, path: str, status: int, query: str = "") -> None:
        with self._log_lock:
            self._log.append(RequestRecord(method, path, status))
            self._queries.append(query)
            self._times.append(time.monotonic())

    def queries(self) -> list[str]:
        """The query string of each logged request, in the order of :meth:`requests`."""
        with self._log_lock:
            return list(self._queries)

    def times(self) -> list[float]:
        """When each logged request was answered (``time.monotonic()``), in the same order."""
        with self._log_lock:
            return list(self._times)

    def requests(self) -> list[RequestRecord]:
        with self._log_lock:
            return list(self._log)

    # -- dispatch -------------------------------------------------------------------------------

    def handle(self, request: Request) -> Answer:
        try:
            allowed = False
            for method, pattern, route in self._routes:
                match = pattern.match(request.path)
                if match is None:
                    continue
                if method != request.method:
                    allowed = True
                    continue
                self._authorize(request)
                return route(request, match.groupdict())
            if allowed:
                raise ApiError(405, 405, f"Method {request.method} not allowed on {request.path}.")
            raise ApiError(404, 404, f"No such endpoint: {request.path}")
        except ApiError as ex:
            return Answer.json(ex.body(), ex.status)
        except Exception as ex:
            logger.exception("stand-in route failed for %s %s", request.method, request.path)
            return Answer.json(ApiError(500, 500, f"{type(ex).__name__}: {ex}").body(), 500)

    def _authorize(self, request: Request) -> None:
        if request.path == "/identity/token":
            return
        if not self.authority.accepts(request.headers.get("authorization")):
            raise _Unauthorized()

    # -- IAM, search, catalog -------------------------------------------------------------------

    def _iam_token(self, request: Request, _: dict[str, str]) -> Answer:
        form = parse_qs(request.body.decode())
        token = self.authority.issue((form.get("apikey") or [""])[0])
        if token is None:
            return Answer.json(auth.bad_api_key_answer(), 400)
        return Answer.json(auth.token_answer(token))

    def _search(self, request: Request, _: dict[str, str]) -> Answer:
        return Answer.json(auth.search_answer())

    def _catalog(self, request: Request, params: dict[str, str]) -> Answer:
        if params["id"] != auth.PLAN_ID:
            raise ApiError(404, 404, f"Catalog entry {params['id']} not found.")
        return Answer.json(auth.catalog_answer())

    # -- backends -------------------------------------------------------------------------------

    def _backend(self, name: str) -> StandInBackend:
        if name not in self.backends:
            raise ApiError(404, 1216, f"Backend {name} not found.")
        return self.backends[name]

    def _backends(self, request: Request, _: dict[str, str]) -> Answer:
        devices = [b.listing(self.store.queue_length(b.name)) for b in self.backends.values()]
        return Answer.json({"devices": devices})

    def _configuration(self, request: Request, params: dict[str, str]) -> Answer:
        return Answer.json(self._backend(params["name"]).configuration())

    def _properties(self, request: Request, params: dict[str, str]) -> Answer:
        return Answer.json(self._backend(params["name"]).properties())

    def _status(self, request: Request, params: dict[str, str]) -> Answer:
        backend = self._backend(params["name"])
        return Answer.json(backend.status(self.store.queue_length(backend.name)))

    def _usage(self, request: Request, _: dict[str, str]) -> Answer:
        return Answer.json(
            {
                "instance_id": auth.INSTANCE_CRN,
                "plan_id": auth.PLAN_ID,
                "usage_consumed_seconds": 0,
                "usage_limit_seconds": None,
                "usage_allocation_seconds": None,
                "usage_limit_reached": self.usage_limit_reached,
            }
        )

    # -- jobs -----------------------------------------------------------------------------------

    def _submit(self, request: Request, _: dict[str, str]) -> Answer:
        payload = request.json()
        try:
            decoded = json.loads(request.body, cls=RuntimeDecoder)
            pubs, program = decode_inputs(str(payload.get("program_id")), decoded["params"])
        except Exception as ex:
            raise ApiError(400, 1234, f"Invalid job parameters: {ex}") from None
        return Answer.json(self.store.submit(payload, pubs, program))

    def _list_jobs(self, request: Request, _: dict[str, str]) -> Answer:
        return Answer.json(self.store.list(request.query))

    def _get_job(self, request: Request, params: dict[str, str]) -> Answer:
        with_params = request.query.get("exclude_params", ["false"])[0] != "true"
        return Answer.json(self.store.get(params["id"], with_params))

    def _delete_job(self, request: Request, params: dict[str, str]) -> Answer:
        self.store.delete(params["id"])
        return NO_CONTENT

    def _results(self, request: Request, params: dict[str, str]) -> Answer:
        return Answer(200, self.store.results(params["id"]).encode())

    def _metrics(self, request: Request, params: dict[str, str]) -> Answer:
        return Answer.json(self.store.metrics(params["id"]))

    def _cancel(self, request: Request, params: dict[str, str]) -> Answer:
        self.store.cancel(params["id"])
        return NO_CONTENT

    def _tags(self, request: Request, params: dict[str, str]) -> Answer:
        self.store.update_tags(params["id"], request.json().get("tags"))
        return NO_CONTENT

    # -- sessions -------------------------------------------------------------------------------

    def _create_session(self, request: Request, _: dict[str, str]) -> Answer:
        payload = request.json()
        if payload.get("backend") is not None:
            self._backend(payload["backend"])
        return Answer.json(self.store.sessions.create(new_id(), payload))

    def _session(self, request: Request, params: dict[str, str]) -> Answer:
        return Answer.json(self.store.sessions.details(params["id"]))

    def _update_session(self, request: Request, params: dict[str, str]) -> Answer:
        self.store.sessions.update(params["id"], request.json())
        return NO_CONTENT

    def _cancel_session(self, request: Request, params: dict[str, str]) -> Answer:
        self.store.cancel_session_jobs(params["id"])
        return NO_CONTENT


class _Unauthorized(ApiError):
    def __init__(self) -> None:
        super().__init__(401, "unauthorized", "Unauthorized")

    def body(self) -> dict[str, Any]:
        return auth.iam_unauthorized_answer()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # An idle keep-alive connection is closed after this; stop() closes the others at once.
    timeout = 600.0
    server: StandInHTTPServer

    def log_message(self, format: str, *args: Any) -> None:
        logger.debug("%s " + format, self.address_string(), *args)

    def _serve(self) -> None:
        parts = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        api = self.server.api
        fault = api.faults.take_http(self.command, parts.path)
        if fault is not None and fault.drop:
            api.record(self.command, parts.path, DROPPED, parts.query)
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)
            return
        request = Request(
            self.command,
            parts.path,
            parse_qs(parts.query),
            {k.lower(): v for k, v in self.headers.items()},
            body,
        )
        answer = (
            Answer.json(generic_http_error(fault.status).body(), fault.status)
            if fault is not None
            else api.handle(request)
        )
        api.record(self.command, parts.path, answer.status, parts.query)
        self.send_response(answer.status)
        if fault is not None and fault.retry_after is not None:
            self.send_header("Retry-After", f"{fault.retry_after:g}")
        if answer.status != 204:
            self.send_header("Content-Type", answer.content_type)
        self.send_header("Content-Length", str(len(answer.body)))
        self.end_headers()
        if answer.body:
            self.wfile.write(answer.body)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _serve


class StandInHTTPServer(ThreadingHTTPServer):
    """A threaded server on 127.0.0.1 that can close every open connection when it stops."""

    daemon_threads = True
    block_on_close = False

    def __init__(self, api: RuntimeApi) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.api = api
        self._open: dict[socket.socket, threading.Thread] = {}
        self._open_lock = threading.Lock()

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that went away mid-answer is not an error worth printing."""
        logger.debug("connection from %s failed", client_address, exc_info=True)

    def process_request(self, request: Any, client_address: Any) -> None:
        thread = threading.Thread(
            target=self._serve_connection,
            args=(request, client_address),
            name="ibm-standin-connection",
            daemon=True,
        )
        with self._open_lock:
            self._open[request] = thread
        thread.start()

    def _serve_connection(self, request: Any, client_address: Any) -> None:
        try:
            self.process_request_thread(request, client_address)
        finally:
            with self._open_lock:
                self._open.pop(request, None)

    def close_connections(self, timeout: float = 5.0) -> None:
        """Shut every open connection down and wait for its thread to end."""
        with self._open_lock:
            open_now = dict(self._open)
        for sock in open_now:
            with contextlib.suppress(OSError):  # already closed by the client
                sock.shutdown(socket.SHUT_RDWR)
        for thread in open_now.values():
            thread.join(timeout)
