"""The worker scripts' own QiskitRuntimeService on the test's IBM runtime stand-in.

``standin`` holds the stand-in's ``url``, ``api_url``, ``instance`` and ``api_key``; the service
is built the way ``RuntimeStandIn.service()`` builds it.
"""

from __future__ import annotations

import os
from typing import Any

from qiskit_ibm_runtime import QiskitRuntimeService


def service_from(standin: dict[str, Any]) -> QiskitRuntimeService:
    url, api_url = standin["url"], standin["api_url"]
    # What RuntimeStandIn.env() gives: where IAM and the instance lookup answer.
    os.environ.update(
        IAM_URL=url, GLOBAL_SEARCH_URL=url + "/search", GLOBAL_CATALOG_URL=url + "/catalog"
    )
    return QiskitRuntimeService(
        channel="ibm_quantum_platform",
        token=standin["api_key"],
        instance=standin["instance"],
        url=url,
        url_resolver=lambda *_: api_url,
    )
