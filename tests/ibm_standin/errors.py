"""IBM Quantum runtime API error answers, in the shape qiskit-ibm-runtime 0.51.0 receives them.

The runtime API answers errors as ``{"errors": [{"message", "code", "solution", "more_info"}]}``
(seen from IBM for the pending-job limit: ``409 Client Error: Conflict ... "code":3458``). The
0.51 client looks for a singular ``"error"`` key, does not find it, and appends the whole body
text to the ``RequestsApiError`` message, so the code (e.g. 3458) is in ``str(exc)``; the HTTP
status is ``exc.status_code``. Callers then wrap it: a submit raises ``IBMRuntimeError``
("Failed to run program: 409 Client Error: Conflict ... 3458"), ``service.job`` turns a 404 into
``RuntimeJobNotFound``, a cancel turns a 409 into ``RuntimeInvalidStateError``. A 401 becomes
``IBMNotAuthorizedError`` (never retried). 5xx in the client's forcelist are retried; when the
retries run out urllib3 raises, and the client gives ``RequestsApiError`` with status_code -1
("Max retries exceeded ... too many 503 error responses").
"""

from __future__ import annotations

from typing import Any

MORE_INFO = "https://quantum.cloud.ibm.com/docs/errors"

PENDING_LIMIT_CODE = 3458


class ApiError(Exception):
    """An error the stand-in answers with ``status`` and IBM's error body."""

    def __init__(self, status: int, code: int | str, message: str, solution: str = "") -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.solution = solution

    def body(self) -> dict[str, Any]:
        error: dict[str, Any] = {"message": self.message, "code": self.code}
        if self.solution:
            error["solution"] = self.solution
        error["more_info"] = MORE_INFO
        return {"errors": [error]}


OPEN_PLAN_PENDING_LIMIT = 3


def pending_limit_error(limit: int | None) -> ApiError:
    """IBM's answer to a submit over the instance's pending-job limit (409, code 3458)."""
    count = OPEN_PLAN_PENDING_LIMIT if limit is None else limit
    return ApiError(
        409,
        PENDING_LIMIT_CODE,
        f"You have reached the limit of {count} pending jobs. Please wait for a job to complete "
        "or cancel one before submitting anything new.",
        "Wait until some previous jobs were finished. You can cancel pending jobs to run new jobs.",
    )


def job_not_found(job_id: str) -> ApiError:
    return ApiError(404, 1291, f"Job not found: {job_id}")


def session_not_found(session_id: str) -> ApiError:
    return ApiError(404, 1290, f"Session not found: {session_id}")


def generic_http_error(status: int) -> ApiError:
    """Body of an injected 4xx/5xx (what a gateway or a failing service would send)."""
    return ApiError(status, status, f"Injected HTTP {status} from the IBM runtime stand-in.")
