"""Files and rows no store should accept, for tests/test_store.py."""

from __future__ import annotations

import os
import pathlib
import random
import sqlite3
from collections.abc import Callable
from typing import Any


def _sqlite(script: str, wal: bool = False) -> Callable[[pathlib.Path], None]:
    def make(path: pathlib.Path) -> None:
        with sqlite3.connect(path) as db:
            db.execute(f"PRAGMA journal_mode={'WAL' if wal else 'DELETE'}")
            db.executescript(script)
        db.close()

    return make


def _random_bytes(path: pathlib.Path) -> None:
    path.write_bytes(random.Random(1).randbytes(16384))


_META = "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);"
_NEWER = _META + "INSERT INTO meta VALUES ('application', 'qjm_widget'), ('schema_version', '99')"

UNUSABLE_FILES: dict[str, Callable[[pathlib.Path], None]] = {
    "random_bytes": _random_bytes,
    "foreign_table": _sqlite(
        "CREATE TABLE customers (id INTEGER); INSERT INTO customers VALUES (1)"
    ),
    "foreign_meta_table": _sqlite(_META + "INSERT INTO meta VALUES ('application', 'someone')"),
    "newer_schema": _sqlite(_NEWER),  # rollback journal, as sqlite3 makes files by default
    "newer_schema_wal": _sqlite(_NEWER, wal=True),
}
"""Writers of files that JobManager(store=path) must refuse, leaving them byte for byte."""


class Trap:
    """Unpickling this creates the folder ``marker``: proof that pickle ran."""

    def __init__(self, marker: pathlib.Path) -> None:
        self.marker = marker

    def __reduce__(self) -> Any:
        return (os.mkdir, (str(self.marker),))


Rows = list[dict[str, Any]]

BAD_RESULTS: dict[str, Callable[[Rows], Any]] = {
    "not_a_list": lambda rs: {"counts": rs[0]["data"]["counts"]},
    "rows_not_objects": lambda rs: [1, 2],
    "counts_not_ints": lambda rs: [{**r, "data": {"counts": {"0x0": "many"}}} for r in rs],
    "data_not_an_object": lambda rs: [{**r, "data": ["0x0"]} for r in rs],
    "too_few_experiments": lambda rs: rs[:1],
    "too_many_experiments": lambda rs: [*rs, rs[0]],
    "header_not_usable": lambda rs: [{**r, "header": {"memory_slots": "x"}} for r in rs],
}
"""Each turns the stored results of a two-experiment chunk into a structurally wrong one."""
