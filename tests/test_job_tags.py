"""The tags a set writes on its jobs are enough to cut the set the same way again."""

from __future__ import annotations

import pytest

from qjm_widget.chunk import plan_chunks
from qjm_widget.job_tags import (
    Plan,
    chunk_index,
    is_ours,
    job_tags,
    name_from,
    plan_from,
    plan_of,
)


@pytest.mark.parametrize(
    ("experiments", "per_job", "shots", "cap"),
    [
        (1, 1, None, None),
        (10, 3, None, None),
        (10, 3, 1000, None),
        (7, 7, 1000, 300),  # 300, 300, 300, 100 shots per experiment range
        (9, 4, 600, 200),
        (5, 2, 100, 500),  # cap above shots: nothing split
    ],
)
def test_tags_of_every_chunk_give_back_the_plan_that_cut_the_set(
    experiments: int, per_job: int, shots: int | None, cap: int | None
) -> None:
    chunks = plan_chunks([1] * experiments, [shots] * experiments, per_job, max_shots_per_job=cap)
    plan = plan_of(chunks)
    assert plan is not None
    for chunk in chunks:
        tags = job_tags(["mine"], "abc", chunk.index, plan, "sweep 7")
        assert tags[0] == "mine"
        assert not is_ours("mine")
        assert all(is_ours(t) for t in tags[1:])
        assert chunk_index(tags) == chunk.index
        assert name_from(tags) == "sweep 7"
        rebuilt = plan_from(tags)
        assert rebuilt is not None
        again = rebuilt.chunks()
        assert [(c.start_index, c.end_index, c.shots) for c in again] == [
            (c.start_index, c.end_index, c.shots) for c in chunks
        ]


@pytest.mark.parametrize(
    "tags",
    [
        [],
        ["qjm_plan_"],
        ["qjm_plan_1_2_3"],
        ["qjm_plan_0_1_-_-"],
        ["qjm_plan_a_1_-_-"],
        ["qjm_plan_4_0_-_-"],
    ],
)
def test_a_missing_or_malformed_plan_tag_reads_as_none(tags: list[str]) -> None:
    assert plan_from(tags) is None


def test_a_cut_four_numbers_cannot_tell_gets_the_custom_plan_tag() -> None:
    # A sweep split along its points, then PUBs with shots of their own.
    for chunks in (
        plan_chunks([10, 1], [100, 100], 5, max_executions_per_job=400),
        plan_chunks([1, 1, 1], [100, 200, 100], 3),
    ):
        assert plan_of(chunks) is None
        tags = job_tags([], "abc", 0, None, "sweep")
        assert "qjm_plan_custom" in tags
        assert plan_from(tags) is None


def test_chunk_tag_must_be_a_number() -> None:
    assert chunk_index(["qjm_chunk_x", "qjm_chunk_"]) is None
    assert chunk_index(["other", "qjm_chunk_12"]) == 12
    assert Plan(3, 1, None, None).chunks()[-1].end_index == 2


@pytest.mark.parametrize(
    ("points", "shots", "per_job", "max_shots"),
    [
        ([1] * 10, [100] * 10, 3, None),
        ([1] * 10, [100] * 10, 10, None),
        ([1] * 10, [100] * 10, 25, 30),
        ([4, 1, 9, 2, 2], [50] * 5, 2, 20),  # sweeps: points do not cut without a cap
        ([1] * 6, [None] * 6, 4, None),
        ([], [], 3, None),
    ],
)
def test_sets_of_one_shot_count_without_an_executions_cap_are_cut_as_the_general_cut(
    points: list[int], shots: list[int | None], per_job: int, max_shots: int | None
) -> None:
    """No executions cap and one count of shots takes a shortcut (no pass over the
    experiments); a cap too large to bind takes the general one: the cuts are the same."""

    def cut(cap: int | None) -> list[tuple[object, ...]]:
        chunks = plan_chunks(points, shots, per_job, cap, max_shots_per_job=max_shots)
        return [(c.index, c.start_index, c.end_index, c.points, c.shots) for c in chunks]

    assert cut(None) == cut(10**18)
    with pytest.raises(ValueError, match="points for"):
        plan_chunks([*points, 1], shots, per_job, max_shots_per_job=max_shots)
