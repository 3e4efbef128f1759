"""``qjm``: the job sets of a store, from a terminal (also ``python -m qjm_widget``).

Commands: ``list``, ``show ID``, ``watch ID``, ``export ID`` and ``delete ID``; an ID is a
set's full id or a unique prefix of it of at least 4 characters (``list`` shows the first 8).
The store is ``--store PATH``, else ``$QJM_WIDGET_STORE``, else the library's default file.

Exit codes:

- 0: done (``watch``: every chunk succeeded).
- 1: ``watch``: the set ended with chunks that did not succeed: in error, failed, lost or
  cancelled, or done with failed experiments.
- 2: bad arguments (argparse's own code), an unknown id, or an id prefix that is shorter than
  4 characters or matches several sets.
- 3: the file is not a qjm_widget store (foreign, corrupt, or from a newer qjm_widget), or
  cannot be opened as one; it is left untouched.
- 4: ``delete``: another live process runs the set.
- 130: interrupted (Control-C); a watched set goes on running.
"""

from __future__ import annotations

import argparse
import csv
import datetime
import io
import json
import pathlib
import sqlite3
import sys
from collections.abc import Callable, Sequence
from typing import Any

from . import catalog
from .exceptions import JobManagerInvalidStateError, JobManagerUnknownJobSet
from .follow import FollowedJobSet, describe_owner
from .jobset import ManagedJobSet
from .manager import JobManager
from .store import STORE_ENV_VAR, Store, default_store_path
from .store_format import StoreError

EXIT_OK = 0
EXIT_FAILED_CHUNKS = 1
EXIT_USAGE = 2
EXIT_NOT_A_STORE = 3
EXIT_RUN_ELSEWHERE = 4
EXIT_INTERRUPTED = 130

SHORT_ID = 8
MIN_PREFIX = 4
DEFAULT_LIMIT = 50
_NAME_WIDTH = 40
_STORE_HELP = f"the store file (default: ${STORE_ENV_VAR}, else the library's default)"


class CommandError(Exception):
    """A message for stderr and the exit code that goes with it."""

    def __init__(self, message: str, code: int) -> None:
        super().__init__(message)
        self.code = code


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        code: int = args.run(args)
        return code
    except CommandError as exc:
        print(f"qjm: {exc}", file=sys.stderr)
        return exc.code
    except StoreError as exc:  # a row the store cannot read, found after opening
        print(f"qjm: {exc}", file=sys.stderr)
        return EXIT_NOT_A_STORE
    except KeyboardInterrupt:
        print("qjm: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="qjm",
        description="List, show, watch, export and delete the job sets of a qjm_widget store.",
        epilog="Exit codes: 0 ok; 1 watch: chunks did not succeed; 2 bad arguments, unknown or "
        "ambiguous id; 3 not a qjm_widget store; 4 delete: another live process runs the set.",
    )
    # On the main parser and on each command, so that it may come before or after the command.
    store = argparse.ArgumentParser(add_help=False)
    store.add_argument(
        "--store",
        metavar="PATH",
        default=argparse.SUPPRESS,
        help=_STORE_HELP,
    )
    parser.add_argument("--store", metavar="PATH", default=None, help=_STORE_HELP)
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(name: str, run: Callable[[argparse.Namespace], int], text: str) -> Any:
        sub = commands.add_parser(name, parents=[store], help=text, description=text)
        sub.set_defaults(run=run)
        return sub

    listing = command("list", _list, "a table of the stored sets, newest first")
    listing.add_argument("--name", help="sets whose name contains this (any case)")
    listing.add_argument("--tag", help="sets carrying this tag")
    listing.add_argument(
        "--limit",
        type=_count,
        default=DEFAULT_LIMIT,
        help=f"at most this many rows (default {DEFAULT_LIMIT}; 0: all)",
    )
    show = command("show", _show, "the report of one set")
    show.add_argument("--brief", action="store_true", help="the summary, without chunk details")
    command("watch", _watch, "live progress of a set until it is final (a bar on stderr)")
    export = command("export", _export, "the merged counts of a set, per experiment and point")
    export.add_argument("--format", choices=("json", "csv"), default="json")
    export.add_argument("-o", "--output", metavar="FILE", help="write here instead of stdout")
    command("delete", _delete, "forget a finished set (refused while another process runs it)")
    for name, sub in commands.choices.items():
        if name != "list":
            sub.add_argument("id", metavar="ID", help="a set's id, or a unique prefix of it")
    return parser


def _count(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = -1
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected an integer >= 0, got {text!r}")
    return value


# -- the store and ids ----------------------------------------------------------------------


def _store_path(args: argparse.Namespace) -> pathlib.Path:
    return pathlib.Path(args.store).expanduser() if args.store else default_store_path()


def _open(args: argparse.Namespace) -> Store | None:
    """The store, or None where its file does not exist (reading must not create one)."""
    path = _store_path(args)
    if not path.exists():
        return None
    try:
        return Store(path)
    except StoreError as exc:
        raise CommandError(
            f"{exc}\nqjm: name another store file with --store PATH or ${STORE_ENV_VAR}",
            EXIT_NOT_A_STORE,
        ) from exc
    except (sqlite3.Error, OSError) as exc:
        raise CommandError(
            f"{path} cannot be opened as a qjm_widget store: {exc}", EXIT_NOT_A_STORE
        ) from exc


def _resolve(args: argparse.Namespace) -> tuple[Store, str]:
    """The store and the full id that ``args.id`` names."""
    prefix = args.id.strip().lower()
    if len(prefix) < MIN_PREFIX:
        raise CommandError(
            f"an id needs at least {MIN_PREFIX} characters, got {args.id!r}", EXIT_USAGE
        )
    store = _open(args)
    if store is None:
        raise CommandError(
            f"no job set {args.id!r}: there is no store at {_store_path(args)}", EXIT_USAGE
        )
    matches = store.query(
        "SELECT id, name FROM job_sets WHERE lower(substr(id, 1, ?)) = ? ORDER BY created_at DESC",
        (len(prefix), prefix),
    )
    exact = [row for row in matches if row[0].lower() == prefix]
    if exact:
        return store, exact[0][0]
    if not matches:
        raise CommandError(f"no job set {args.id!r} in {store.path}", EXIT_USAGE)
    if len(matches) > 1:
        listed = "\n".join(f"  {row[0]}  {row[1]}" for row in matches)
        raise CommandError(
            f"id prefix {args.id!r} matches {len(matches)} job sets; give more characters:\n"
            f"{listed}",
            EXIT_USAGE,
        )
    return store, matches[0][0]


def _job_set(args: argparse.Namespace) -> ManagedJobSet:
    """The set ``args.id`` names, live and read-only where another process runs it."""
    store, job_set_id = _resolve(args)
    try:
        return JobManager(store=store).follow(job_set_id)
    except JobManagerUnknownJobSet as exc:  # deleted since it was resolved
        raise CommandError(str(exc), EXIT_USAGE) from exc
    except JobManagerInvalidStateError as exc:  # another process took it on since it was read
        raise CommandError(str(exc), EXIT_RUN_ELSEWHERE) from exc


def _close(job_set: ManagedJobSet) -> None:
    if isinstance(job_set, FollowedJobSet):
        job_set.close()


def _run_by(job_set: ManagedJobSet) -> str | None:
    if isinstance(job_set, FollowedJobSet):
        return f"run by {describe_owner(job_set.owner)}"
    return None


# -- commands -------------------------------------------------------------------------------


def _list(args: argparse.Namespace) -> int:
    store = _open(args)
    if store is None:
        print(f"No job sets ({_store_path(args)} does not exist).")
        return EXIT_OK
    rows, total = catalog.summaries(store, name=args.name, tag=args.tag, limit=args.limit or None)
    if not rows:
        print("No job sets." if total == 0 else f"No job sets on this page (of {total}).")
        return EXIT_OK
    header = ("ID", "NAME", "BACKEND", "CREATED", "STATE", "CHUNKS", "EXPERIMENTS", "USAGE")
    table = [header, *(_row(summary) for summary in rows)]
    widths = [max(len(row[i]) for row in table) for i in range(len(header))]
    numeric = {5, 6, 7}
    for row in table:
        cells = [
            cell.rjust(width) if i in numeric else cell.ljust(width)
            for i, (cell, width) in enumerate(zip(row, widths, strict=True))
        ]
        print("  ".join(cells).rstrip())
    if total > len(rows):
        print(f"({len(rows)} of {total} sets; --limit 0 lists all)")
    return EXIT_OK


def _row(summary: catalog.JobSetSummary) -> tuple[str, ...]:
    name = summary.name
    if len(name) > _NAME_WIDTH:
        name = name[: _NAME_WIDTH - 1] + "…"
    created = datetime.datetime.fromtimestamp(summary.created_at).strftime("%Y-%m-%d %H:%M:%S")
    usage = "-" if summary.usage_seconds is None else f"{summary.usage_seconds:.1f} s"
    return (
        summary.job_set_id[:SHORT_ID],
        name,
        summary.backend_name,
        created,
        summary.state,
        f"{summary.num_final}/{summary.num_chunks}",
        str(summary.num_experiments),
        usage,
    )


def _show(args: argparse.Namespace) -> int:
    job_set = _job_set(args)
    try:
        run_by = _run_by(job_set)
        if run_by:
            print(f"(still {run_by}: shown read-only, as the store has it now)")
        print(job_set.report(detailed=not args.brief))
    finally:
        _close(job_set)
    return EXIT_OK


def _watch(args: argparse.Namespace) -> int:
    from .progress import progress  # imports tqdm

    job_set = _job_set(args)
    try:
        run_by = _run_by(job_set)
        print(
            f"qjm: watching job set {job_set.job_set_id()} ({job_set.name()})"
            + (f", {run_by}, read-only" if run_by else "")
            + "; Control-C stops watching, not the set",
            file=sys.stderr,
            flush=True,
        )
        if not job_set.done():
            with progress(job_set, file=sys.stderr):
                job_set.wait()
    finally:
        _close(job_set)
    chunks = job_set.managed_jobs()
    failed = [c for c in chunks if not c.succeeded]
    print(f"{len(chunks) - len(failed)} of {len(chunks)} chunks succeeded")
    if failed:
        print(job_set.error_messages() or "", file=sys.stderr)
        return EXIT_FAILED_CHUNKS
    return EXIT_OK


def _export(args: argparse.Namespace) -> int:
    job_set = _job_set(args)
    try:
        run_by = _run_by(job_set)
        if run_by and not job_set.done():
            print(f"qjm: the set is still {run_by}: these are its counts so far", file=sys.stderr)
        document = export_counts(job_set)
    finally:
        _close(job_set)
    text = json.dumps(document, indent=2) + "\n" if args.format == "json" else _csv(document)
    if args.output:
        pathlib.Path(args.output).write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)
    return EXIT_OK


def export_counts(job_set: ManagedJobSet) -> dict[str, Any]:
    """The set's merged counts as ``qjm export --format json`` writes them::

        {"job_set_id": ..., "name": ..., "backend": ..., "final": bool,
         "experiments": [{"index": 0, "name": circuit name, "shots": counted shots,
                          "counts": {outcome: count},
                          "points": [{"point": flat index, "loc": [i, ...],
                                      "counts": {...}}, ...]}]}

    ``points`` only for experiments with parameter values (a sweep), one entry per point in
    flattened C order, ``loc`` its index into the values' shape.
    """
    import numpy as np

    merged = job_set.counts()
    experiments = []
    for index, experiment in enumerate(job_set.experiments()):
        counts = merged.per_experiment[index]
        entry: dict[str, Any] = {
            "index": index,
            "name": experiment.name,
            "shots": sum(counts.values()),
            "counts": dict(sorted(counts.items())),
        }
        if experiment.values is not None:
            shape = experiment.shape
            entry["points"] = [
                {
                    "point": point,
                    "loc": list(loc),
                    "counts": dict(sorted(job_set.merged_counts(index, loc).items())),
                }
                for point in range(experiment.num_points)
                for loc in [tuple(int(i) for i in np.unravel_index(point, shape))]
            ]
        experiments.append(entry)
    return {
        "job_set_id": job_set.job_set_id(),
        "name": job_set.name(),
        "backend": job_set.backend_name,
        "final": job_set.done(),
        "experiments": experiments,
    }


def _csv(document: dict[str, Any]) -> str:
    """``experiment,point,outcome,count``: a sweep's rows per point, another's with no point."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(("experiment", "point", "outcome", "count"))
    for entry in document["experiments"]:
        # A sweep's counts per point only: with its totals too, a sum over rows would count twice.
        points = entry.get("points") or [{"point": "", "counts": entry["counts"]}]
        for point in points:
            for outcome, count in point["counts"].items():
                writer.writerow((entry["index"], point["point"], outcome, count))
    return out.getvalue()


def _delete(args: argparse.Namespace) -> int:
    store, job_set_id = _resolve(args)
    found = catalog.summary(store, job_set_id)
    if found is not None and found.running_elsewhere:
        raise CommandError(_refusal(store, job_set_id), EXIT_RUN_ELSEWHERE)
    try:
        JobManager(store=store).delete_job_set(job_set_id)
    except JobManagerUnknownJobSet as exc:
        raise CommandError(str(exc), EXIT_USAGE) from exc
    except JobManagerInvalidStateError as exc:  # it started running elsewhere meanwhile
        raise CommandError(str(exc), EXIT_RUN_ELSEWHERE) from exc
    name = "" if found is None else f" ({found.name})"
    print(f"deleted job set {job_set_id}{name}")
    return EXIT_OK


def _refusal(store: Store, job_set_id: str) -> str:
    owner = store.query("SELECT owner_host, owner_pid FROM job_sets WHERE id=?", (job_set_id,))
    runner = describe_owner((owner[0][0], owner[0][1])) if owner else "another live process"
    return (
        f"job set {job_set_id} is being run by {runner}; it was not deleted: delete it once "
        "that process has ended (qjm watch ID waits for it)"
    )
