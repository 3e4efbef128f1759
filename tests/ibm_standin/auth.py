"""IBM Cloud IAM, Global Search and Global Catalog, as far as qiskit-ibm-runtime 0.51.0 uses them.

* IAM (``IAM_URL`` env var, ``POST /identity/token``, form ``grant_type`` + ``apikey``): answers
  an access token that is a JWT with ``iat``/``exp`` (ibm-cloud-sdk-core decodes it without
  checking the signature, so it is unsigned, ``alg: none``). A wrong or revoked API key gets
  IAM's 400 ``BXNIM0415E``.
* Global Search (``GLOBAL_SEARCH_URL``, ``POST /v3/resources/search``): the one instance CRN.
* Global Catalog (``GLOBAL_CATALOG_URL``, ``GET /{plan_id}``): that instance's plan and pricing.

The service constructor reads the instance list (search + catalog) before anything else, with
a bearer token from IAM; the runtime API then gets ``Authorization: Bearer <token>`` and
``Service-CRN`` on every request.
"""

from __future__ import annotations

import base64
import json
import secrets
import threading
import time
from typing import Any

API_KEY = "standin-api-key"
INSTANCE_CRN = "crn:v1:bluemix:public:quantum-computing:us-east:a/standin::standin-instance"
PLAN_ID = "standin-open-plan"
TOKEN_LIFETIME = 3600


def _b64(data: dict[str, Any]) -> str:
    raw = json.dumps(data, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


class Authority:
    """Issues and checks tokens; ``revoke()`` makes every token and the API key invalid."""

    def __init__(self, api_key: str = API_KEY) -> None:
        self.api_key = api_key
        self._lock = threading.Lock()
        self._tokens: set[str] = set()
        self._revoked = False

    def revoke(self) -> None:
        with self._lock:
            self._revoked = True
            self._tokens.clear()

    @property
    def revoked(self) -> bool:
        with self._lock:
            return self._revoked

    def issue(self, api_key: str) -> str | None:
        """A fresh access token for a valid, unrevoked API key; ``None`` otherwise."""
        with self._lock:
            if self._revoked or api_key != self.api_key:
                return None
            now = int(time.time())
            header = _b64({"alg": "none", "typ": "JWT"})
            claims = _b64(
                {
                    "iam_id": "IBMid-standin",
                    "sub": "standin@example.com",
                    "iat": now,
                    "exp": now + TOKEN_LIFETIME,
                    "jti": secrets.token_hex(8),
                }
            )
            token = f"{header}.{claims}."
            self._tokens.add(token)
            return token

    def accepts(self, authorization: str | None) -> bool:
        """Whether an ``Authorization`` header carries a token this authority issued."""
        if not authorization or not authorization.startswith("Bearer "):
            return False
        with self._lock:
            return authorization[len("Bearer ") :] in self._tokens


def token_answer(token: str) -> dict[str, Any]:
    """IAM's 200 body for ``POST /identity/token``."""
    now = int(time.time())
    return {
        "access_token": token,
        "refresh_token": "not_supported",
        "token_type": "Bearer",
        "expires_in": TOKEN_LIFETIME,
        "expiration": now + TOKEN_LIFETIME,
        "scope": "ibm openid",
    }


def bad_api_key_answer() -> dict[str, Any]:
    """IAM's 400 body for an API key it does not know."""
    return {
        "errorCode": "BXNIM0415E",
        "errorMessage": "Provided API key could not be found.",
        "context": {"requestId": secrets.token_hex(8)},
    }


def search_answer() -> dict[str, Any]:
    """Global Search: one quantum-computing instance with a backend allocation."""
    return {
        "items": [
            {
                "crn": INSTANCE_CRN,
                "name": "standin-instance",
                "service_plan_unique_id": PLAN_ID,
                "tags": [],
                "doc": {"extensions": {"virtual_private_endpoints": {}, "allocation": "open"}},
            }
        ],
        "limit": 100,
    }


def catalog_answer() -> dict[str, Any]:
    """Global Catalog entry for the instance's plan (the client reads name and pricing type)."""
    return {
        "id": PLAN_ID,
        "overview_ui": {"en": {"display_name": "Open"}},
        "metadata": {"pricing": {"type": "free"}},
    }


def iam_unauthorized_answer() -> dict[str, Any]:
    """The runtime API's 401 body for a missing, expired or revoked bearer token."""
    return {
        "errors": [
            {
                "code": "unauthorized",
                "message": "Unauthorized: the IAM token is invalid or expired.",
                "more_info": "https://cloud.ibm.com/docs/quantum-computing",
            }
        ],
        "status_code": 401,
    }
