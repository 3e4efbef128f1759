"""One run()'s arguments, checked, with the chunks they cut the experiments into.

Everything here happens before anything is submitted, on the caller's thread: a bad input
raises JobManagerInvalidInputError and leaves no trace.
"""

from __future__ import annotations

import dataclasses
import datetime
from typing import Any

from .backends import BackendAdapter, adapter_for
from .chunk import ManagedJob, plan_chunks
from .exceptions import JobManagerInvalidInputError
from .policy import RetryPolicy
from .validation import (
    circuits_fit,
    fits_executions,
    positive_int,
    run_config,
    share_level,
    string_list,
)
from .workload import Experiment, experiments_from


@dataclasses.dataclass(frozen=True)
class RunRequest:
    """What a new ManagedJobSet is made of, as run() was asked for it."""

    name: str
    experiments: list[Experiment]
    chunks: list[ManagedJob]
    adapter: BackendAdapter
    tags: list[str]
    share_level: str | None
    run_config: dict[str, Any]
    max_concurrent_jobs: int | None
    retry_policy: RetryPolicy


def run_request(
    experiments: Any,
    backend: Any,
    *,
    name: str | None,
    max_experiments_per_job: int | None,
    job_share_level: str | None,
    job_tags: list[str] | None,
    max_concurrent_jobs: int | None,
    max_shots_per_job: int | None,
    max_executions_per_job: int | None,
    retry_policy: RetryPolicy | None,
    execution_mode: str | None,
    transpile: bool,
    executor: Any,
    run_config_: dict[str, Any],
) -> RunRequest:
    """Check run()'s arguments (see JobManager.run) and plan its chunks."""
    workload = experiments_from(experiments, run_config_.pop("parameter_binds", None))
    circuits = [e.circuit for e in workload]
    if not isinstance(transpile, bool):
        raise JobManagerInvalidInputError(
            f"transpile must be True or False, got {type(transpile).__name__}"
        )
    adapter = adapter_for(
        backend, execution_mode=execution_mode, transpile=transpile, executor=executor
    )
    per_job = positive_int("max_experiments_per_job", max_experiments_per_job)
    if per_job is None:  # AerSimulator(executor=client, max_job_size=n): AerJobSet's cut
        per_job = getattr(adapter, "experiments_per_job", None)
    concurrent = positive_int("max_concurrent_jobs", max_concurrent_jobs)
    shots_cap = positive_int("max_shots_per_job", max_shots_per_job)
    executions_cap = positive_int("max_executions_per_job", max_executions_per_job)
    level = share_level(job_share_level)
    tags = string_list("job_tags", job_tags)
    if name is not None and not isinstance(name, str):
        raise JobManagerInvalidInputError(f"name must be a string, got {type(name).__name__}")
    if retry_policy is not None and not isinstance(retry_policy, RetryPolicy):
        raise JobManagerInvalidInputError(
            f"retry_policy must be a RetryPolicy, got {type(retry_policy).__name__}"
        )
    config = run_config(adapter, {k: v for k, v in run_config_.items() if v is not None})
    circuits_fit(adapter, circuits)
    adapter.validate(circuits, config)
    shots = config.pop("shots", None)
    if shots is None and (shots_cap is not None or executions_cap is not None):
        shots = adapter.default_shots()
    each_shots = [e.shots or shots for e in workload]
    if None in each_shots:
        for option, value in (
            ("max_shots_per_job", shots_cap),
            ("max_executions_per_job", executions_cap),
        ):
            if value is not None:
                raise JobManagerInvalidInputError(
                    f"{option} needs shots: pass shots=... to run() (or give every PUB its shots)"
                )
    if executions_cap is None and None not in each_shots:
        executions_cap = adapter.executions_per_job_limit()
    fits_executions(executions_cap, each_shots, shots_cap)
    limit = adapter.capabilities.max_experiments_per_job
    per_job = min((s for s in (per_job, limit) if s is not None), default=len(circuits))
    return RunRequest(
        name=name or datetime.datetime.now(datetime.timezone.utc).isoformat(),
        experiments=workload,
        chunks=plan_chunks(
            [e.num_points for e in workload], each_shots, per_job, executions_cap, shots_cap
        ),
        adapter=adapter,
        tags=tags,
        share_level=level,
        run_config=config,
        max_concurrent_jobs=concurrent,
        retry_policy=retry_policy or RetryPolicy(),
    )
