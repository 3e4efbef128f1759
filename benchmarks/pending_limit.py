"""What an unknown pending-job limit costs IBM Quantum's API, learned against the right cap.

24 one-circuit chunks run through the real client against the loopback stand-in, which takes at
most 3 pending jobs (the open plan's limit) and keeps each job on its one device for 1 s. Side
by side in one run: the set with ``max_concurrent_jobs=3`` (the right cap, known in advance) and
the same set with no cap, which must learn the limit from the first refusal (error 3458).
Prints submits and requests per chunk and the wall time of each, and the ratio of the walls.
Targets for the set with no cap: <= 1.2 submits per chunk, <= 5 requests per chunk, wall within
5 % of the capped set's.

    .venv/bin/python benchmarks/pending_limit.py                  # qiskit-ibm-runtime 0.51
    PYTHONPATH=. .venv-qiskit1/bin/python benchmarks/pending_limit.py --provider
                                                                  # qiskit-ibm-provider 0.11
"""

from __future__ import annotations

import argparse
import pathlib
import sys
import time
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "tests"))
sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "tests" / "ibm_standin"))
from support import basis_circuits

from qjm_widget import JobManager

CHUNKS = 24
LIMIT = 3
JOB_SECONDS = 1.0
SHOTS = 100

Requests = Callable[[], list[tuple[str, str, int]]]


@contextmanager
def runtime_standin() -> Iterator[tuple[Any, Requests, str]]:
    from ibm_standin import RuntimeStandIn

    with RuntimeStandIn(backends=("fake_manila",), noise=False) as api:
        api.max_pending, api.job_seconds = LIMIT, JOB_SECONDS
        yield (
            api.service().backend("fake_manila"),
            lambda: [(r.method, r.path, r.status) for r in api.requests],
            "/api/v1/jobs",
        )


@contextmanager
def provider_standin() -> Iterator[tuple[Any, Requests, str]]:
    from provider_api import ProviderStandIn

    with ProviderStandIn() as api:
        api.max_pending, api.job_seconds = LIMIT, JOB_SECONDS
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            backend = api.provider().get_backend("fake_manila")
        yield backend, lambda: api.requests, "/runtime/jobs"


def measure(standin: Any, cap: int | None) -> tuple[float, int, int]:
    """Wall seconds, submits and requests of one set, each on a fresh stand-in."""
    with standin() as (backend, requests, submit_path):
        before = len(requests())
        start = time.perf_counter()
        job_set = JobManager(store=None).run(
            basis_circuits(CHUNKS),
            backend,
            max_experiments_per_job=1,
            max_concurrent_jobs=cap,
            shots=SHOTS,
        )
        results = job_set.results(timeout=600)
        wall = time.perf_counter() - start
        assert results.success, job_set.report()
        seen = requests()[before:]
    submits = sum(1 for method, path, _ in seen if (method, path) == ("POST", submit_path))
    return wall, submits, len(seen)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--provider", action="store_true", help="qiskit-ibm-provider 0.11")
    provider = parser.parse_args().provider
    standin = provider_standin if provider else runtime_standin
    client = "qiskit-ibm-provider" if provider else "qiskit-ibm-runtime"
    print(f"{client}: {CHUNKS} one-circuit chunks, limit {LIMIT} pending, {JOB_SECONDS:.0f} s jobs")
    rows = {
        "max_concurrent_jobs=3": measure(standin, LIMIT),
        "no cap (learned)": measure(standin, None),
    }
    for label, (wall, submits, requests) in rows.items():
        print(
            f"  {label:22} wall {wall:5.1f} s  submits/chunk {submits / CHUNKS:4.2f}  "
            f"requests/chunk {requests / CHUNKS:4.2f}"
        )
    capped, learned = rows.values()
    print(
        f"  learned / capped wall {learned[0] / capped[0]:.3f} (target <= 1.05); "
        f"device busy {CHUNKS * JOB_SECONDS:.0f} s"
    )
    print(
        f"  targets, no cap: submits/chunk {learned[1] / CHUNKS:.2f} <= 1.2, "
        f"requests/chunk {learned[2] / CHUNKS:.2f} <= 5"
    )


if __name__ == "__main__":
    main()
