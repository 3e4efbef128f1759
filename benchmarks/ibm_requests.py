"""What a job set costs IBM Quantum's API: requests per chunk, by kind.

A set of 20 chunks runs through the real qiskit-ibm-runtime client against the loopback
stand-in of the API (tests/ibm_standin), with every job held queued for HOLD seconds, as on a
busy device; the stand-in logs every request. Prints requests per chunk by kind, the wall time,
and the job manager's status polls per chunk-second in flight. There is no target: the figures
say how much a bulk status read (one listing per poll instead of one GET per job) would save.
"""

from __future__ import annotations

import collections
import pathlib
import re
import sys
import threading
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "tests"))
from ibm_standin import RuntimeStandIn
from support import basis_circuits

from qjm_widget import JobManager

NUM_CHUNKS = 20
PER_CHUNK = 5
CONCURRENT = 10
HOLD = 5.0
SHOTS = 100

_ID = re.compile(r"/[a-z0-9]{20}(?=/|$)")


def main() -> None:
    circuits = basis_circuits(NUM_CHUNKS * PER_CHUNK)
    with RuntimeStandIn(backends=("fake_manila",), noise=False) as api:
        backend = api.service().backend("fake_manila")
        before = len(api.requests)
        api.hold()
        start = time.perf_counter()
        job_set = JobManager(store=None).run(
            circuits,
            backend,
            max_experiments_per_job=PER_CHUNK,
            max_concurrent_jobs=CONCURRENT,
            shots=SHOTS,
        )
        # Release the queue every HOLD seconds: each wave of jobs waits that long.
        stop = threading.Event()

        def pulse() -> None:
            while not stop.wait(HOLD):
                api.release()
                time.sleep(0.05)
                api.hold()

        pulser = threading.Thread(target=pulse, daemon=True)
        pulser.start()
        job_set.results(timeout=600)
        wall = time.perf_counter() - start
        stop.set()
        pulser.join()
        api.release()
        deadline = time.monotonic() + 10  # the set closes its batch just after its last chunk
        while time.monotonic() < deadline and not any(r.method == "PATCH" for r in api.requests):
            time.sleep(0.05)
        requests = api.requests[before:]

    kinds = collections.Counter(f"{r.method} {_ID.sub('/{id}', r.path)}" for r in requests)
    print(f"{NUM_CHUNKS} chunks, at most {CONCURRENT} in flight, jobs queued ~{HOLD:.0f} s each")
    per_chunk = len(requests) / NUM_CHUNKS
    print(f"wall {wall:.1f} s, {len(requests)} requests, {per_chunk:.1f} per chunk")
    for kind, count in kinds.most_common():
        print(f"  {count / NUM_CHUNKS:6.2f} per chunk  {kind}")
    polls = kinds.get("GET /api/v1/jobs/{id}", 0)
    in_flight_seconds = NUM_CHUNKS * HOLD
    print(f"status reads per chunk-second in flight: {polls / in_flight_seconds:.2f}")


if __name__ == "__main__":
    main()
