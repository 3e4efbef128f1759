"""What a big job set costs IBM Quantum's API: status requests per poll round, requests per chunk.

500 one-circuit chunks, ``max_concurrent_jobs=500``, run through the real qiskit-ibm-runtime 0.51
client against the loopback stand-in of the API (tests/ibm_standin), with every job held queued
for HOLD seconds after the last one was submitted, as on a busy device; the stand-in logs every
request. A poll round reads the set's in-flight jobs with one listing request per page of 200
(``GET /jobs?tags=...``), so a round costs 3 requests whatever the number of jobs, where one
``GET /jobs/{id}`` per job cost 500. Prints status requests per poll round (target <= 3), and
requests per chunk by kind and in all (target <= 4; 7.9 with one GET per job per round).
"""

from __future__ import annotations

import collections
import pathlib
import re
import sys
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "tests"))
from ibm_standin import RuntimeStandIn
from support import basis_circuits

from qjm_widget import JobManager

NUM_CHUNKS = 500
HOLD = 10.0
SHOTS = 100
LISTING = ("GET", "/api/v1/jobs")

_ID = re.compile(r"/[a-z0-9]{20}(?=/|$)")


def main() -> None:
    with RuntimeStandIn(backends=("fake_manila",), noise=False) as api:
        backend = api.service().backend("fake_manila")
        before = len(api.requests)
        api.hold()
        start = time.perf_counter()
        job_set = JobManager(store=None).run(
            basis_circuits(NUM_CHUNKS),
            backend,
            max_experiments_per_job=1,
            max_concurrent_jobs=NUM_CHUNKS,
            shots=SHOTS,
        )
        deadline = time.monotonic() + 600
        while len(api.jobs) < NUM_CHUNKS and time.monotonic() < deadline:
            time.sleep(0.1)
        submitted = time.perf_counter() - start
        time.sleep(HOLD)  # the device is busy: every job waits in its queue
        api.release()
        results = job_set.results(timeout=600)
        wall = time.perf_counter() - start
        assert results.success, job_set.report()
        deadline = time.monotonic() + 10  # the set closes its batch just after its last chunk
        while time.monotonic() < deadline and not any(r.method == "PATCH" for r in api.requests):
            time.sleep(0.05)
        requests = api.requests[before:]
        queries = api.queries[before : before + len(requests)]

    kinds = collections.Counter(f"{r.method} {_ID.sub('/{id}', r.path)}" for r in requests)
    listings = [q for r, q in zip(requests, queries, strict=True) if (r.method, r.path) == LISTING]
    rounds = sum(1 for query in listings if "offset=" not in query)
    single_reads = kinds.get("GET /api/v1/jobs/{id}", 0)
    per_chunk = len(requests) / NUM_CHUNKS
    print(
        f"{NUM_CHUNKS} one-circuit chunks, all in flight at once, queued {HOLD:.0f} s after the "
        f"last submit ({submitted:.1f} s to submit them all); wall {wall:.1f} s"
    )
    print(
        f"poll rounds {rounds}: {len(listings) / rounds:.2f} listing requests a round "
        f"+ {single_reads / rounds:.2f} single job reads a round "
        f"= {(len(listings) + single_reads) / rounds:.2f} status requests a round (target <= 3)"
    )
    print(f"{len(requests)} requests, {per_chunk:.2f} per chunk (target <= 4)")
    for kind, count in kinds.most_common():
        print(f"  {count / NUM_CHUNKS:6.3f} per chunk  {kind}")


if __name__ == "__main__":
    main()
