"""The tags a set puts on its jobs, so the set can be found and rebuilt from the backend alone.

Every job carries the user's tags plus four of ours:
``qjm_jobset_<id>`` (which set), ``qjm_chunk_<index>`` (which chunk),
``qjm_plan_<experiments>_<per job>_<shots>_<max shots per job>`` (how the set was cut, so the
ranges of jobs that went missing can be worked out; ``qjm_plan_custom`` where four numbers cannot
say it: parameter sweeps, PUBs with their own shots) and ``qjm_name_<name>`` (IBM's runtime jobs
have no name of their own).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from .chunk import ManagedJob, plan_chunks

SET_TAG_PREFIX = "qjm_jobset_"
CHUNK_TAG_PREFIX = "qjm_chunk_"
PLAN_TAG_PREFIX = "qjm_plan_"
NAME_TAG_PREFIX = "qjm_name_"
_NONE = "-"
CUSTOM_PLAN = "custom"
"""The plan tag's value where the cut cannot be told in four numbers (see :func:`plan_of`)."""


@dataclass(frozen=True, slots=True)
class Plan:
    """What :func:`plan_chunks` needs to cut a set the same way again."""

    num_experiments: int
    experiments_per_job: int
    shots: int | None
    max_shots_per_job: int | None

    def chunks(self) -> list[ManagedJob]:
        return plan_chunks(
            [1] * self.num_experiments,
            [self.shots] * self.num_experiments,
            self.experiments_per_job,
            max_shots_per_job=self.max_shots_per_job,
        )


def plan_of(chunks: Sequence[ManagedJob]) -> Plan | None:
    """The plan that cut ``chunks`` (the inverse of :meth:`Plan.chunks`); None where no plan
    of these four numbers cuts a set that way (parameter sweeps, PUBs with shots of their own:
    such a set can be found by its tag but not rebuilt from the tags alone)."""
    first = chunks[0]
    parts = [c.shots for c in chunks if c.start_index == first.start_index]
    split = len(parts) > 1
    total = sum(p or 0 for p in parts) if split else first.shots
    plan = Plan(
        num_experiments=chunks[-1].end_index + 1,
        experiments_per_job=first.num_experiments,
        shots=total,
        max_shots_per_job=first.shots if split else None,
    )
    cut = [(c.start_index, c.end_index, c.points, c.shots) for c in chunks]
    again = [(c.start_index, c.end_index, c.points, c.shots) for c in plan.chunks()]
    return plan if cut == again else None


def job_tags(
    user_tags: Iterable[str], job_set_id: str, chunk_index: int, plan: Plan | None, name: str
) -> list[str]:
    if plan is None:
        plan_tag = PLAN_TAG_PREFIX + CUSTOM_PLAN
    else:
        numbers = (
            plan.num_experiments,
            plan.experiments_per_job,
            plan.shots,
            plan.max_shots_per_job,
        )
        plan_tag = PLAN_TAG_PREFIX + "_".join(_NONE if n is None else str(n) for n in numbers)
    return [
        *user_tags,
        SET_TAG_PREFIX + job_set_id,
        CHUNK_TAG_PREFIX + str(chunk_index),
        plan_tag,
        NAME_TAG_PREFIX + name,
    ]


def is_ours(tag: str) -> bool:
    return tag.startswith((SET_TAG_PREFIX, CHUNK_TAG_PREFIX, PLAN_TAG_PREFIX, NAME_TAG_PREFIX))


def name_from(tags: Iterable[str]) -> str | None:
    for tag in tags:
        if tag.startswith(NAME_TAG_PREFIX) and len(tag) > len(NAME_TAG_PREFIX):
            return tag[len(NAME_TAG_PREFIX) :]
    return None


def chunk_index(tags: Iterable[str]) -> int | None:
    for tag in tags:
        if tag.startswith(CHUNK_TAG_PREFIX):
            number = tag[len(CHUNK_TAG_PREFIX) :]
            if number.isdigit():
                return int(number)
    return None


def plan_from(tags: Iterable[str]) -> Plan | None:
    """The plan a job's tags record; None where they hold none or a malformed one."""
    for tag in tags:
        if not tag.startswith(PLAN_TAG_PREFIX):
            continue
        fields = tag[len(PLAN_TAG_PREFIX) :].split("_")
        if len(fields) != 4 or not all(f == _NONE or f.isdigit() for f in fields):
            return None
        n, per_job, shots, cap = (None if f == _NONE else int(f) for f in fields)
        if not n or not per_job:
            return None
        return Plan(n, per_job, shots, cap)
    return None
