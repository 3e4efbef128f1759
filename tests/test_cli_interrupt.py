"""Control-C in ``qjm watch``: the watcher exits 130 and the set it watched goes on running.

The set is run by a second process (store_workers/run_gated.py) that holds every job at its gate
until the test lets it go, so the set is certainly unfinished when the watcher is interrupted.
"""

from __future__ import annotations

import pathlib
import signal

from conftest import expected_key
from store_workers.gated import SHOTS, gated_run
from store_workers.support import rows, stored_finished, wait_for
from test_cli import start_watch

from qjm_widget import JobManager
from qjm_widget.cli import EXIT_INTERRUPTED
from qjm_widget.follow import FollowedJobSet

TIMEOUT = 120.0
BAR = "| 0/2 ["
"""The bar of the set's two chunks, none final."""


def test_control_c_stops_watching_exits_130_and_leaves_the_set_running(
    tmp_path: pathlib.Path,
) -> None:
    store = tmp_path / "shared.sqlite3"
    log = tmp_path / "watch.log"
    with gated_run(tmp_path, store, count=4) as run:
        process = start_watch(store, run.job_set_id, log)
        try:
            # The bar's first draw comes while it is still being set up; a redraw comes from its
            # own thread, started last, so by then the watcher is waiting on the set, the case
            # the exit code and the "not cancelled" message are for.
            wait_for(lambda: log.read_text().count(BAR) >= 2, "the bar's redraw", TIMEOUT)
            assert process.poll() is None, log.read_text()
            process.send_signal(signal.SIGINT)
            stdout, _ = process.communicate(timeout=TIMEOUT)
        finally:
            if process.poll() is None:
                process.kill()
                process.wait(TIMEOUT)
        text = log.read_text()
        assert process.returncode == EXIT_INTERRUPTED, text
        assert "Control-C stops watching, not the set" in text
        assert f"job set {run.job_set_id}; it was not cancelled and goes on running" in text
        assert text.rstrip().endswith("qjm: interrupted"), text
        assert "Traceback" not in text
        assert "chunks succeeded" not in stdout  # it did not claim the set ended

        # Untouched: the other process still runs it, nothing cancelled, nothing finished.
        assert run.worker.proc.poll() is None, run.worker.stderr()
        assert run.states() == ["submitting", "pending"]
        ((finished_at, owner_pid),) = rows(
            store, "SELECT finished_at, owner_pid FROM job_sets WHERE id=?", run.job_set_id
        )
        assert (finished_at, owner_pid) == (None, run.pid)

        # And it runs on to its exact counts once the other process lets its jobs go.
        run.go(2)
        wait_for(lambda: stored_finished(store, run.job_set_id), "the set to finish", TIMEOUT)
        job_set = JobManager(store=store).follow(run.job_set_id)
        assert not isinstance(job_set, FollowedJobSet)  # finished: the set itself
        assert job_set.counts().per_experiment == [{expected_key(i): SHOTS} for i in range(4)]
        assert run.worker.finish() == 0, run.worker.stderr()
