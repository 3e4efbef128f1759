"""pandas tables of a job set's chunks and of its results' counts.

pandas is the optional extra ``qjm_widget[pandas]``: it is imported when a table is asked for,
and its absence is a :class:`MissingExtraError` naming the extra to install.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .exceptions import JobManagerError

if TYPE_CHECKING:
    from .jobset import ManagedJobSet
    from .results import ManagedResults

CHUNK_COLUMNS = (
    "start",
    "end",
    "first_point",
    "last_point",
    "shots",
    "state",
    "job_id",
    "attempts",
    "error",
    "submitted_at",
    "finished_at",
    "usage_seconds",
)
COUNT_COLUMNS = ("experiment", "point", "outcome", "count")


class MissingExtraError(JobManagerError, ImportError):
    """An optional dependency of the call is not installed; the message names its extra."""


def _pandas() -> Any:
    try:
        import pandas
    except ImportError as exc:
        raise MissingExtraError(
            "to_dataframe needs pandas: pip install qjm_widget[pandas]"
        ) from exc
    return pandas


def chunk_table(job_set: ManagedJobSet) -> Any:
    """One row per chunk, indexed by chunk number (``chunk``), with columns ``start``, ``end``
    (its experiments, inclusive), ``first_point``, ``last_point`` (the points it holds of one
    experiment, inclusive; <NA> for a chunk of whole experiments), ``shots`` (<NA> where the
    set's run config says), ``state``, ``job_id`` (its current job; missing before one),
    ``attempts``, ``error`` (missing if none), ``submitted_at``, ``finished_at`` (UTC
    Timestamps; NaT while not yet) and ``usage_seconds`` (NaN where the backend reports none).
    """
    pd = _pandas()
    # One chunk's fields change together (state, job id, times): read them all at one moment.
    with job_set._lock:
        rows = [
            (
                chunk.start_index,
                chunk.end_index,
                None if chunk.points is None else chunk.points[1],
                None if chunk.points is None else chunk.points[2],
                chunk.shots,
                chunk.state.value,
                chunk.job_id,
                chunk.attempts,
                chunk.error,
                chunk.submitted_at,
                chunk.finished_at,
                chunk.usage_seconds,
            )
            for chunk in job_set.managed_jobs()
        ]
    frame = pd.DataFrame.from_records(rows, columns=CHUNK_COLUMNS)
    frame.index.name = "chunk"
    for column in ("first_point", "last_point", "shots"):
        frame[column] = frame[column].astype("Int64")  # <NA> where a chunk has none
    for column in ("submitted_at", "finished_at"):
        seconds = frame[column].astype("float64")
        frame[column] = pd.to_datetime(seconds, unit="s", utc=True)
    frame["usage_seconds"] = frame["usage_seconds"].astype("float64")
    return frame


def counts_table(results: ManagedResults) -> Any:
    """Counts in long form, one row per experiment, point and outcome; see
    ``ManagedResults.to_dataframe``."""
    pd = _pandas()
    rows: list[tuple[int, int, str, int]] = []
    for experiment, point, counts in results.point_counts():
        rows.extend((experiment, point, outcome, counts[outcome]) for outcome in sorted(counts))
    frame = pd.DataFrame.from_records(rows, columns=COUNT_COLUMNS)
    return frame.astype({"experiment": "int64", "point": "int64", "outcome": str, "count": "int64"})
