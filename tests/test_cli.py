"""The ``qjm`` command line, run as a subprocess (``python -m qjm_widget`` and the console
script) on real store files; sets run by another process come from store_workers/run_gated.py."""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import pathlib
import subprocess
import sys
from dataclasses import dataclass

import pytest
from conftest import expected_key
from qiskit_aer import AerSimulator
from store_workers.gated import PER_JOB, SHOTS, gated_run
from store_workers.payloads import UNUSABLE_FILES
from store_workers.support import stored_finished, wait_for
from support import basis_circuits, sweep_binds, sweep_circuit

from qjm_widget import JobManager, Store
from qjm_widget.cli import (
    EXIT_FAILED_CHUNKS,
    EXIT_NOT_A_STORE,
    EXIT_OK,
    EXIT_RUN_ELSEWHERE,
    EXIT_USAGE,
)

TIMEOUT = 120.0
SWEEP_STATES = [1, 2, 5, 6]
CONSOLE_SCRIPT = pathlib.Path(sys.executable).parent / "qjm"


def qjm(store: pathlib.Path, *args: str, script: bool = False) -> subprocess.CompletedProcess[str]:
    command = [str(CONSOLE_SCRIPT)] if script else [sys.executable, "-m", "qjm_widget"]
    return subprocess.run(
        [*command, "--store", str(store), *args],
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
    )


@dataclass
class Stored:
    path: pathlib.Path
    basis: str
    """Four basis circuits in two chunks, tagged ``t1``."""
    sweep: str
    """One sweep circuit of four points, in two chunks."""


@pytest.fixture
def stored(manager: JobManager) -> Stored:
    assert manager.store is not None
    basis = manager.run(
        basis_circuits(4),
        AerSimulator(),
        name="alpha",
        shots=SHOTS,
        max_experiments_per_job=PER_JOB,
        job_tags=["t1"],
    )
    circuit = sweep_circuit()
    sweep = manager.run(
        [circuit],
        AerSimulator(),
        name="beta sweep",
        shots=SHOTS,
        parameter_binds=[sweep_binds(SWEEP_STATES, circuit)],
        max_executions_per_job=2 * SHOTS,
    )
    basis.wait(timeout=TIMEOUT)
    sweep.wait(timeout=TIMEOUT)
    return Stored(manager.store.path, basis.job_set_id(), sweep.job_set_id())


def table(output: str) -> list[list[str]]:
    return [line.split() for line in output.splitlines()]


def test_list_shows_a_table_filtered_and_limited(stored: Stored) -> None:
    listed = qjm(stored.path, "list")
    assert listed.returncode == EXIT_OK, listed.stderr
    header, *rows = table(listed.stdout)
    assert header == ["ID", "NAME", "BACKEND", "CREATED", "STATE", "CHUNKS", "EXPERIMENTS", "USAGE"]
    assert [row[0] for row in rows] == [stored.sweep[:8], stored.basis[:8]]  # newest first
    sweep_row, basis_row = rows
    assert basis_row[1] == "alpha"
    assert basis_row[2] == "aer_simulator"
    assert basis_row[5:] == ["done", "2/2", "4", "-"]
    assert sweep_row[1:3] == ["beta", "sweep"]
    assert sweep_row[6:] == ["done", "2/2", "1", "-"]

    by_tag = table(qjm(stored.path, "list", "--tag", "t1").stdout)
    assert [row[0] for row in by_tag[1:]] == [stored.basis[:8]]
    by_name = table(qjm(stored.path, "list", "--name", "SWEEP").stdout)
    assert [row[0] for row in by_name[1:]] == [stored.sweep[:8]]
    limited = qjm(stored.path, "list", "--limit", "1")
    assert [row[0] for row in table(limited.stdout)[1:2]] == [stored.sweep[:8]]
    assert "1 of 2 sets" in limited.stdout
    assert qjm(stored.path, "list", "--name", "nothing").stdout.strip() == "No job sets."


def test_the_console_script_runs_the_same_command_line(stored: Stored) -> None:
    # make's `pip install -e .[dev]` installs it: a venv without it is a broken set-up.
    assert CONSOLE_SCRIPT.exists(), f"{CONSOLE_SCRIPT} is missing: pip install -e . installs it"
    listed = qjm(stored.path, "list", "--tag", "t1", script=True)
    assert listed.returncode == EXIT_OK, listed.stderr
    assert table(listed.stdout)[1][0] == stored.basis[:8]


def test_show_prints_the_report_of_a_set_named_by_a_prefix(stored: Stored) -> None:
    shown = qjm(stored.path, "show", stored.basis[:5])
    assert shown.returncode == EXIT_OK, shown.stderr
    assert "Job set name: alpha" in shown.stdout
    assert f"ID: {stored.basis}" in shown.stdout
    assert "Successful jobs: 2" in shown.stdout
    assert "Detail report:" in shown.stdout
    assert "Detail report:" not in qjm(stored.path, "show", stored.basis, "--brief").stdout


def test_ids_that_name_no_set_or_several_exit_2(stored: Stored) -> None:
    store = Store(stored.path)
    original = store.load(stored.basis)
    assert original is not None
    twins = ["abcd0000" + "0" * 24, "abcd1111" + "1" * 24]
    for twin in twins:
        store.add_job_set(dataclasses.replace(original, job_set_id=twin))
    ambiguous = qjm(stored.path, "show", "ABCD")
    assert ambiguous.returncode == EXIT_USAGE
    assert "matches 2 job sets" in ambiguous.stderr
    assert all(twin in ambiguous.stderr for twin in twins)
    assert qjm(stored.path, "show", "abcd1").returncode == EXIT_OK
    for command in ("show", "watch", "export", "delete"):
        unknown = qjm(stored.path, command, "ffffffff")
        assert unknown.returncode == EXIT_USAGE, command
        assert "no job set 'ffffffff'" in unknown.stderr, command
    too_short = qjm(stored.path, "show", stored.basis[:3])
    assert too_short.returncode == EXIT_USAGE
    assert "at least 4 characters" in too_short.stderr


def test_bad_arguments_exit_2(stored: Stored) -> None:
    for args in (("export", stored.basis, "--format", "xml"), ("list", "--limit", "-1"), ()):
        result = qjm(stored.path, *args)
        assert result.returncode == EXIT_USAGE, args
        assert "usage: qjm" in result.stderr, args


@pytest.mark.parametrize("kind", ["random_bytes", "foreign_table", "newer_schema_wal"])
def test_a_file_that_is_not_a_store_exits_3_and_is_left_untouched(
    tmp_path: pathlib.Path, kind: str
) -> None:
    path = tmp_path / "other.sqlite3"
    UNUSABLE_FILES[kind](path)
    before = path.read_bytes()
    for args in (("list",), ("show", "abcdef12")):
        result = qjm(path, *args)
        assert result.returncode == EXIT_NOT_A_STORE, (args, result.stderr)
        assert "not a qjm_widget store" in result.stderr or "newer than" in result.stderr
    assert path.read_bytes() == before


def test_a_store_file_that_does_not_exist_is_not_created(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "none.sqlite3"
    listed = qjm(path, "list")
    assert listed.returncode == EXIT_OK
    assert "No job sets" in listed.stdout
    assert qjm(path, "show", "abcdef12").returncode == EXIT_USAGE
    assert not path.exists()


def test_export_json_and_csv_hold_the_exact_counts(stored: Stored, tmp_path: pathlib.Path) -> None:
    exported = qjm(stored.path, "export", stored.basis, "--format", "json")
    assert exported.returncode == EXIT_OK, exported.stderr
    document = json.loads(exported.stdout)
    assert document["job_set_id"] == stored.basis
    assert document["final"] is True
    assert [e["counts"] for e in document["experiments"]] == [
        {expected_key(i): SHOTS} for i in range(4)
    ]
    assert all("points" not in e for e in document["experiments"])

    target = tmp_path / "sweep.csv"
    written = qjm(stored.path, "export", stored.sweep[:6], "--format", "csv", "-o", str(target))
    assert written.returncode == EXIT_OK, written.stderr
    assert written.stdout == ""
    rows = list(csv.reader(io.StringIO(target.read_text())))
    assert rows[0] == ["experiment", "point", "outcome", "count"]
    assert rows[1:] == [
        ["0", str(point), expected_key(state), str(SHOTS)]
        for point, state in enumerate(SWEEP_STATES)
    ]
    basis_csv = list(
        csv.reader(io.StringIO(qjm(stored.path, "export", stored.basis, "--format", "csv").stdout))
    )
    assert basis_csv[1:] == [[str(i), "", expected_key(i), str(SHOTS)] for i in range(4)]

    sweep = json.loads(qjm(stored.path, "export", stored.sweep).stdout)["experiments"][0]
    assert sweep["shots"] == len(SWEEP_STATES) * SHOTS
    assert [(p["point"], p["loc"], p["counts"]) for p in sweep["points"]] == [
        (point, [point], {expected_key(state): SHOTS}) for point, state in enumerate(SWEEP_STATES)
    ]


def test_delete_forgets_a_finished_set(stored: Stored) -> None:
    deleted = qjm(stored.path, "delete", stored.basis[:6])
    assert deleted.returncode == EXIT_OK, deleted.stderr
    assert stored.basis in deleted.stdout
    assert [row[0] for row in table(qjm(stored.path, "list").stdout)[1:]] == [stored.sweep[:8]]
    assert qjm(stored.path, "show", stored.basis).returncode == EXIT_USAGE


def start_watch(store: pathlib.Path, job_set_id: str, log: pathlib.Path) -> subprocess.Popen[str]:
    with open(log, "wb") as stderr:
        return subprocess.Popen(
            [sys.executable, "-m", "qjm_widget", "--store", str(store), "watch", job_set_id[:8]],
            stdout=subprocess.PIPE,
            stderr=stderr,
            text=True,
        )


def watched(process: subprocess.Popen[str]) -> tuple[int, str]:
    stdout, _ = process.communicate(timeout=TIMEOUT)
    return process.returncode, stdout


@pytest.mark.parametrize(
    ("error_circuit", "code", "succeeded"),
    [(None, EXIT_OK, "3 of 3"), ("basis_3", EXIT_FAILED_CHUNKS, "2 of 3")],
)
def test_watch_follows_a_set_run_by_another_process_until_it_is_final(
    tmp_path: pathlib.Path, error_circuit: str | None, code: int, succeeded: str
) -> None:
    store = tmp_path / "shared.sqlite3"
    options = {} if error_circuit is None else {"error_circuit": error_circuit}
    log = tmp_path / "watch.log"
    with gated_run(tmp_path, store, count=6, **options) as run:
        process = start_watch(store, run.job_set_id, log)
        try:
            # It follows the set while the other process still holds every job at the gate.
            wait_for(lambda: "read-only" in log.read_text(), "the watch to start", TIMEOUT)
            assert f"run by process {run.pid}" in log.read_text()
            assert process.poll() is None
            run.go(3)
            returncode, stdout = watched(process)
        finally:
            if process.poll() is None:
                process.kill()
                process.wait(TIMEOUT)
    assert returncode == code, log.read_text()
    assert f"{succeeded} chunks succeeded" in stdout
    text = log.read_text()
    assert "3/3" in text  # the bar reached the end
    if error_circuit is not None:
        assert "chunk 1 (experiments 2-3" in text
        assert "error: injected fault" in text


def test_a_set_another_process_runs_is_shown_read_only_and_not_deleted(
    tmp_path: pathlib.Path,
) -> None:
    store = tmp_path / "shared.sqlite3"
    with gated_run(tmp_path, store, count=4) as run:
        shown = qjm(store, "show", run.job_set_id)
        assert shown.returncode == EXIT_OK, shown.stderr
        assert f"run by process {run.pid}" in shown.stdout
        assert "read-only" in shown.stdout
        assert "Pending jobs: 2" in shown.stdout  # one held at the gate, one waiting
        refused = qjm(store, "delete", run.job_set_id)
        assert refused.returncode == EXIT_RUN_ELSEWHERE
        assert f"process {run.pid}" in refused.stderr
        assert "not deleted" in refused.stderr
        assert run.states() == ["submitting", "pending"]
        partial = qjm(store, "export", run.job_set_id)
        assert partial.returncode == EXIT_OK, partial.stderr
        assert json.loads(partial.stdout)["final"] is False
        assert "counts so far" in partial.stderr
        run.go(2)
        run.wait_for_states(["done", "done"])
        wait_for(lambda: stored_finished(store, run.job_set_id), "the set finished", TIMEOUT)
        deleted = qjm(store, "delete", run.job_set_id)
        assert deleted.returncode == EXIT_OK, deleted.stderr
    assert qjm(store, "show", run.job_set_id).returncode == EXIT_USAGE


def test_list_says_interrupted_once_the_process_running_a_set_has_died(
    tmp_path: pathlib.Path,
) -> None:
    store = tmp_path / "shared.sqlite3"

    def listed_state() -> list[str]:
        listed = qjm(store, "list")
        assert listed.returncode == EXIT_OK, listed.stderr
        (found,) = [row for row in table(listed.stdout) if row[0] == run.job_set_id[:8]]
        return [cell for cell in found if cell in ("running", "interrupted")]

    with gated_run(tmp_path, store, count=4) as run:
        assert listed_state() == ["running"]
        run.worker.kill()
        assert listed_state() == ["interrupted"]
