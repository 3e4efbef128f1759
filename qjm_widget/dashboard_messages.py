"""What the dashboard's view may ask, checked before the kernel acts on any of it.

A view's message is untrusted input: each is parsed into one of the messages below or refused
with a ValueError saying why (the dashboard shows that and does nothing else).
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from typing import Any, TypeAlias

from .catalog import SORT_KEYS
from .dashboard_rows import Query

ROW_ACTIONS = ("open", "retry_failed", "cancel", "delete")
MAX_VIEWS = 1000
"""Views a dashboard keeps count of at once (see dashboard_views.py)."""
MAX_FILTER_CHARS = 200


@dataclass(frozen=True)
class SetQuery:
    query: Query


@dataclass(frozen=True)
class RowAction:
    kind: str
    """One of ROW_ACTIONS."""
    job_set_id: str


@dataclass(frozen=True)
class ViewShown:
    view: str
    shown: bool


@dataclass(frozen=True)
class Resync:
    """The view lost track of its rows: send them all again."""


@dataclass(frozen=True)
class CloseOpened:
    """Close the set opened under the table."""


Message: TypeAlias = SetQuery | RowAction | ViewShown | Resync | CloseOpened


def parse_message(
    content: Any,
    *,
    query: Query,
    page_size: int,
    total: int,
    on_page: Collection[str],
    views: Collection[str],
) -> Message:
    """``content`` as one of the messages above, given what the table shows now: the
    ``query`` and ``total`` of its listing, the ids ``on_page`` and the ``views`` shown."""
    if not isinstance(content, dict):
        raise ValueError(f"expected an object, got {type(content).__name__}")
    kind = content.get("type")
    if kind == "query":
        return SetQuery(_query(content, query, page_size, total))
    if kind == "resync":
        return Resync()
    if kind == "close":
        return CloseOpened()
    if kind == "views":
        view, shown = content.get("view"), content.get("shown")
        if not isinstance(view, str) or not 0 < len(view) <= 64:
            raise ValueError("views: view must be a string of 1 to 64 characters")
        if not isinstance(shown, bool):
            raise ValueError(f"views: shown must be true or false, got {shown!r}")
        if shown and view not in views and len(views) >= MAX_VIEWS:
            raise ValueError(f"views: more than {MAX_VIEWS} views shown")
        return ViewShown(view, shown)
    if kind in ROW_ACTIONS:
        job_set_id = content.get("id")
        if not isinstance(job_set_id, str) or job_set_id not in on_page:
            raise ValueError(f"{kind}: no job set {job_set_id!r} on the page shown")
        return RowAction(kind, job_set_id)
    raise ValueError(f"unknown message type {kind!r}")


def _query(content: dict[str, Any], q: Query, page_size: int, total: int) -> Query:
    name, tag = content.get("name", q.name), content.get("tag", q.tag)
    sort, descending = content.get("sort", q.sort), content.get("descending", q.descending)
    page = content.get("page", q.page)
    for label, value in (("name", name), ("tag", tag)):
        if not isinstance(value, str) or len(value) > MAX_FILTER_CHARS:
            raise ValueError(
                f"query: {label} must be a string of at most {MAX_FILTER_CHARS} characters"
            )
    if sort not in SORT_KEYS:
        raise ValueError(f"query: sort must be one of {', '.join(SORT_KEYS)}, got {sort!r}")
    if not isinstance(descending, bool):
        raise ValueError(f"query: descending must be true or false, got {descending!r}")
    if isinstance(page, bool) or not isinstance(page, int) or page < 0:
        raise ValueError(f"query: page must be an int >= 0, got {page!r}")
    filters_changed = (name, tag) != (q.name, q.tag)
    if not filters_changed and page * page_size >= max(total, 1):
        raise ValueError(f"query: page {page} is beyond the last page")
    return Query(name, tag, sort, descending, 0 if filters_changed else page)
