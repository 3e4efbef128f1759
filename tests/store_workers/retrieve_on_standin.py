"""Retrieve a stored job set by its id and a QiskitRuntimeService alone (no backend), retry what
failed, and print what came back as JSON.

Usage: ``python retrieve_on_standin.py STORE JOB_SET_ID STANDIN_JSON`` (see standin_service.py).
"""

from __future__ import annotations

import json
import sys

from standin_service import service_from

from qjm_widget import JobManager


def main() -> None:
    store, job_set_id, standin = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
    job_set = JobManager(store=store).retrieve_job_set(job_set_id, provider=service_from(standin))
    retried = job_set.retry_failed()
    results = job_set.results(timeout=120)
    print(
        json.dumps(
            {
                "backend": job_set.backend_name,
                "retried": retried,
                "success": results.success,
                "counts": [results.get_counts(i) for i in range(job_set.num_experiments)],
                "jobs": [type(job).__name__ for job in job_set.jobs()],
            }
        )
    )


if __name__ == "__main__":
    main()
