"""Progress bars of job sets: a text bar in a terminal (a real process writing to a pipe, or a
StringIO), closed on timeout and on Control-C (a real SIGINT, which leaves the set running),
redrawn from the set's events no more than 10 times a second, and a notebook bar under
nbclient. Faults come from qjm_widget.testing around real simulators."""

from __future__ import annotations

import io
import os
import pathlib
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Sequence

import nbformat
import pytest
from conftest import basis_circuits, wait_until
from nbclient import NotebookClient
from qiskit import QuantumCircuit
from qiskit_aer import AerSimulator

import qjm_widget
from qjm_widget import ChunkState, JobManager, JobManagerInvalidInputError, JobManagerTimeoutError
from qjm_widget.store import Store
from qjm_widget.testing import FaultyBackend

TESTS = pathlib.Path(__file__).parent
SHOTS = 8
BAR = re.compile(r"(\d+)/(\d+) \[")


def frames(output: str) -> list[str]:
    """Each state a text bar drew, in order: tqdm rewrites its line after a carriage return."""
    return [line for line in re.split(r"[\r\n]", output) if BAR.search(line)]


def starts_at(name: str):  # type: ignore[no-untyped-def]
    def matches(circuits: Sequence[QuantumCircuit]) -> bool:
        return circuits[0].name == name

    return matches


def progress_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("qjm-progress")]


def run_script(source: str, *args: str) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(TESTS), str(TESTS.parent)])}
    return subprocess.Popen(
        [sys.executable, "-c", source, *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )


def test_importing_the_package_imports_neither_tqdm_nor_pandas() -> None:
    script = "import sys, qjm_widget; print(sorted({'tqdm', 'pandas'} & set(sys.modules)))"
    process = run_script(script)
    out, err = process.communicate(timeout=120)
    assert process.returncode == 0, err
    assert out.strip() == "[]"


def test_a_bar_in_a_with_block_ends_with_every_chunk_and_the_failed_ones(
    manager: JobManager,
) -> None:
    backend = FaultyBackend(AerSimulator(), error_jobs=1, error_when=starts_at("basis_2"))
    job_set = manager.run(basis_circuits(4), backend, shots=SHOTS, max_experiments_per_job=1)
    out = io.StringIO()
    with qjm_widget.progress(job_set, file=out, desc="basis") as bar:
        job_set.wait(timeout=120)
    assert bar.closed
    assert not progress_threads()
    last = frames(out.getvalue())[-1]
    assert last.startswith("basis: 100%")
    assert "4/4 [" in last
    # elapsed < remaining (the ETA): "?" where the set ended before tqdm had a rate to go by
    assert re.search(r"\[\d\d:\d\d<(\d\d:\d\d|\?)", last), last
    assert last.rstrip().endswith("failed=1, running=0]"), last
    assert out.getvalue().endswith("\n")  # left on screen, the cursor on the next line


def test_a_bar_outside_with_closes_itself_once_every_chunk_is_final(manager: JobManager) -> None:
    job_set = manager.run(basis_circuits(3), AerSimulator(), shots=SHOTS, max_experiments_per_job=1)
    out = io.StringIO()
    bar = qjm_widget.progress(job_set, file=out)
    assert wait_until(lambda: bar.closed, timeout=60)
    assert job_set.done()
    assert "3/3 [" in frames(out.getvalue())[-1]
    assert wait_until(lambda: not progress_threads(), timeout=10)


def test_a_bar_that_follows_the_set_shows_a_retry_until_closed(manager: JobManager) -> None:
    backend = FaultyBackend(AerSimulator(), error_jobs=1, error_when=starts_at("basis_1"))
    job_set = manager.run(basis_circuits(3), backend, shots=SHOTS, max_experiments_per_job=1)
    out = io.StringIO()
    with qjm_widget.progress(job_set, file=out, until_done=False) as bar:
        job_set.wait(timeout=120)
        assert wait_until(lambda: "failed=1, running=0" in bar.bar.postfix, timeout=30)
        assert job_set.retry_failed() == [1]
        job_set.wait(timeout=120)
        assert wait_until(lambda: "failed=0, running=0" in bar.bar.postfix, timeout=30)
        assert not bar.closed
    assert bar.closed
    assert "3/3 [" in frames(out.getvalue())[-1]


def test_redraws_are_coalesced_to_at_most_ten_a_second(manager: JobManager) -> None:
    events: list[object] = []
    out = io.StringIO()
    started = time.monotonic()
    job_set = manager.run(
        basis_circuits(30), AerSimulator(), shots=SHOTS, max_experiments_per_job=1
    )
    unsubscribe = job_set.subscribe(events.append)
    with qjm_widget.progress(job_set, file=out):
        job_set.wait(timeout=120)
    elapsed = time.monotonic() - started
    unsubscribe()
    drawn = out.getvalue().count("\r")
    # tqdm's first line, a redraw at the first event and then one per 0.1 s at most, the last
    # one on closing.
    assert drawn <= 10 * elapsed + 3, (drawn, elapsed, len(events))
    assert "30/30 [" in frames(out.getvalue())[-1]


def test_an_error_in_the_block_closes_the_bar_and_is_named_on_it(manager: JobManager) -> None:
    backend = FaultyBackend(AerSimulator(), hold_queued=300)
    job_set = manager.run(basis_circuits(2), backend, shots=SHOTS, max_experiments_per_job=1)
    out = io.StringIO()
    bar = qjm_widget.progress(job_set, file=out)
    with pytest.raises(RuntimeError, match="the user's loop failed"), bar:
        raise RuntimeError("the user's loop failed")
    assert bar.closed
    assert not progress_threads()
    last = frames(out.getvalue())[-1]
    assert "0/2 [" in last
    assert last.rstrip().endswith(", stopped by RuntimeError]"), last


def test_a_timeout_closes_the_bar_and_raises(
    manager: JobManager, capsys: pytest.CaptureFixture[str]
) -> None:
    backend = FaultyBackend(AerSimulator(), hold_queued=300)
    job_set = manager.run(basis_circuits(2), backend, shots=SHOTS, max_experiments_per_job=1)
    with pytest.raises(JobManagerTimeoutError, match="2 unfinished chunks"):
        job_set.wait(timeout=0.2, progress=True)
    assert not progress_threads()
    last = frames(capsys.readouterr().err)[-1]
    assert "0/2 [" in last
    assert last.rstrip().endswith(", timed out]"), last


def test_results_with_progress_draws_the_bar_and_returns_the_results(
    manager: JobManager, capsys: pytest.CaptureFixture[str]
) -> None:
    job_set = manager.run(basis_circuits(3), AerSimulator(), shots=SHOTS, max_experiments_per_job=2)
    results = job_set.results(timeout=120, progress=True)
    assert results.success
    assert results.get_counts(2) == {"010": SHOTS}
    last = frames(capsys.readouterr().err)[-1]
    assert "2/2 [" in last
    assert last.rstrip().endswith("failed=0, running=0]")


def test_progress_must_be_a_bool_and_is_checked_before_anything(
    manager: JobManager, capsys: pytest.CaptureFixture[str]
) -> None:
    job_set = manager.run(basis_circuits(1), AerSimulator(), shots=SHOTS)
    for bad in ("yes", 1, None):
        with pytest.raises(JobManagerInvalidInputError, match="progress must be True or False"):
            job_set.wait(timeout=60, progress=bad)  # type: ignore[arg-type]
        with pytest.raises(JobManagerInvalidInputError, match="progress must be True or False"):
            job_set.results(timeout=60, refresh=True, progress=bad)  # type: ignore[arg-type]
    with pytest.raises(JobManagerInvalidInputError, match="needs a ManagedJobSet"):
        qjm_widget.progress(object())  # type: ignore[arg-type]
    with pytest.raises(JobManagerInvalidInputError, match="until_done must be True or False"):
        qjm_widget.progress(job_set, until_done="no")  # type: ignore[arg-type]
    assert capsys.readouterr().err == ""
    assert not progress_threads()


TERMINAL_RUN = """
from qiskit_aer import AerSimulator
from support import basis_circuits
from qjm_widget import JobManager
from qjm_widget.testing import FaultyBackend

backend = FaultyBackend(AerSimulator(), error_jobs=1, error_when=lambda c: c[0].name == "basis_1")
job_set = JobManager(store=None).run(basis_circuits(4), backend, shots=8, max_experiments_per_job=1)
job_set.wait(timeout=120, progress=True)
print(job_set.error_messages() is not None)
"""


def test_a_script_waiting_with_progress_writes_the_bar_to_its_stderr() -> None:
    process = run_script(TERMINAL_RUN)
    out, err = process.communicate(timeout=180)
    assert process.returncode == 0, err
    assert out.strip() == "True"
    drawn = frames(err)
    assert drawn, err
    assert "4/4 [" in drawn[-1]
    assert drawn[-1].rstrip().endswith("failed=1, running=0]"), drawn[-1]


INTERRUPTED_RUN = """
import signal, sys, threading, time

# Control-C raises KeyboardInterrupt as in a terminal, also where the test runs in a background
# job whose shell made children ignore SIGINT (Python then installs no handler of its own).
signal.signal(signal.SIGINT, signal.default_int_handler)
from qiskit_aer import AerSimulator
from support import basis_circuits
from qjm_widget import JobManager
from qjm_widget.testing import FaultyBackend

backend = FaultyBackend(AerSimulator(), hold_queued=600)
job_set = JobManager(store=sys.argv[1]).run(
    basis_circuits(2), backend, shots=8, max_experiments_per_job=1
)
print(job_set.job_set_id(), flush=True)


def in_the_wait():
    frame = sys._current_frames().get(threading.main_thread().ident)
    calls = []
    while frame is not None:
        calls.append((frame.f_code.co_filename.rsplit("/", 1)[-1], frame.f_code.co_name))
        frame = frame.f_back
    queued = all(c.state.value == "queued" for c in job_set.managed_jobs())
    # Blocked in the set's own wait, not in some other wait on the way (tqdm starts a thread).
    inside = calls[:2] == [("threading.py", "wait"), ("jobset.py", "_wait_final")]
    return queued and inside and ("progress.py", "wait_with_progress") in calls


def tell_when_waiting():
    # The signal is sent once the main thread blocks inside wait(progress=True), no earlier.
    deadline = time.monotonic() + 120
    while not in_the_wait() and time.monotonic() < deadline:
        time.sleep(0.01)
    print("waiting" if in_the_wait() else "never waited", flush=True)


threading.Thread(target=tell_when_waiting, daemon=True).start()
job_set.wait(progress=True)
"""


def test_control_c_stops_the_wait_not_the_set(tmp_path: pathlib.Path) -> None:
    store_path = tmp_path / "store.sqlite3"
    process = run_script(INTERRUPTED_RUN, str(store_path))
    try:
        assert process.stdout is not None
        job_set_id = process.stdout.readline().strip()
        assert process.stdout.readline().strip() == "waiting"
        process.send_signal(signal.SIGINT)
        _, err = process.communicate(timeout=120)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    # Python ends an uncaught KeyboardInterrupt by dying of the SIGINT itself.
    assert process.returncode == -signal.SIGINT, err
    assert "KeyboardInterrupt" in err
    assert f"stopped waiting for job set {job_set_id}; it was not cancelled" in err
    last = frames(err)[-1]
    assert "0/2 [" in last
    assert last.rstrip().endswith("failed=0, running=2, interrupted]"), last
    stored = Store(store_path).load(job_set_id)
    assert stored is not None
    assert [c.state for c in stored.chunks] == [ChunkState.QUEUED, ChunkState.QUEUED]


NOTEBOOK_CELLS = [
    """
import qjm_widget
from qiskit_aer import AerSimulator
from support import basis_circuits

job_set = qjm_widget.JobManager(store=None).run(
    basis_circuits(3), AerSimulator(), shots=8, max_experiments_per_job=1
)
job_set.wait(timeout=120, progress=True)
""",
    """
with qjm_widget.progress(job_set, desc="again") as bar:
    pass
print("closed", bar.closed)
""",
]


@pytest.mark.slow
def test_a_notebook_shows_the_bar_as_a_widget() -> None:
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(source) for source in NOTEBOOK_CELLS]
    NotebookClient(
        nb,
        timeout=300,
        kernel_name="python3",
        store_widget_state=True,
        resources={"metadata": {"path": str(TESTS)}},
    ).execute()
    outputs = [o for cell in nb.cells for o in cell.outputs]
    assert not [o for o in outputs if o.output_type == "error"], outputs
    views = [o for o in outputs if "application/vnd.jupyter.widget-view+json" in o.get("data", {})]
    assert len(views) == 2, outputs
    assert any("closed True" in o.get("text", "") for o in outputs), outputs
    saved = nb.metadata["widgets"]["application/vnd.jupyter.widget-state+json"]["state"]
    # tqdm.notebook writes its text in two HTML widgets, spaced with figure spaces.
    texts = [
        str(m["state"].get("value", "")).replace("\u2007", " ")
        for m in saved.values()
        if m["model_name"] == "HTMLModel"
    ]
    bars = [m["state"] for m in saved.values() if m["model_name"] == "FloatProgressModel"]
    assert [(b["value"], b["max"], b["bar_style"]) for b in bars] == [(3, 3, "success")] * 2
    ends = [t for t in texts if "3/3 [" in t]
    assert len(ends) == 2, texts
    assert all(t.endswith("failed=0, running=0]") for t in ends), ends
    assert "again: 100%" in texts, texts
