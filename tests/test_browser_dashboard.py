"""The dashboard in a real JupyterLab, in headless Chromium: 1,000 stored sets, filter, open a
set, retry a failed chunk's set, delete with confirmation. Screenshots go to artifacts/browser/.
"""

from __future__ import annotations

import pathlib
import time
from typing import Any

import browser_support as bs
import pytest
from browser_support import Page, browser, lab, page  # noqa: F401 - the module's fixtures
from playwright.sync_api import expect
from store_workers.gated import gated_run
from test_dashboard import fill_store

pytestmark = [pytest.mark.browser, pytest.mark.timeout(240)]

DASHBOARD_BUNDLE = bs.REPO / "qjm_widget" / "static" / "dashboard.js"
STORED = 1000

SETUP = """
from qiskit_aer import AerSimulator
from qjm_widget import JobManager, RetryPolicy
from qjm_widget.testing import FaultyBackend
from qiskit import QuantumCircuit

def basis(i):
    c = QuantumCircuit(2, 2, name=f"basis_{i}")
    if i & 1: c.x(0)
    if i & 2: c.x(1)
    c.measure([0, 1], [0, 1])
    return c

manager = JobManager(store="dash.sqlite3")
failing = FaultyBackend(AerSimulator(), error_jobs=1, error_when=lambda cs: cs[0].name == "basis_0")
failed = manager.run([basis(i) for i in range(4)], failing, name="failing", shots=10,
                     max_experiments_per_job=2, retry_policy=RetryPolicy(attempts=1))
failed.wait(60)
print(failed.job_set_id())
"""

# The exact rows the dashboard shows: [name, state] in order.
ROWS = """() => [...document.querySelectorAll(".qjm-dashboard tr.qjm-d-row")].map((tr) =>
  [tr.querySelector(".qjm-d-name").firstChild.textContent,
   tr.querySelector(".qjm-d-state").firstChild.textContent])"""
ROWS_ARE = f"""(expected) => JSON.stringify(({ROWS})()) === JSON.stringify(expected)"""


def shot(locator: Any, name: str) -> pathlib.Path:
    bs.ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = bs.ARTIFACTS / name
    locator.screenshot(path=str(path))
    return path


def wait_for_rows(p: Any, expected: list[list[str]], timeout_ms: float = 20_000) -> None:
    try:
        p.wait_for_function(ROWS_ARE, arg=expected, timeout=timeout_ms, polling=50)
    except Exception:
        raise AssertionError(f"view: {p.evaluate(ROWS)}\nexpected: {expected}") from None


def test_dashboard_lists_filters_opens_retries_and_deletes(lab: bs.JupyterLab, page: Page) -> None:
    built = DASHBOARD_BUNDLE.stat().st_mtime if DASHBOARD_BUNDLE.exists() else 0
    stale = [s.name for s in bs.REPO.glob("js/dashboard*") if s.stat().st_mtime > built]
    assert not stale, f"{DASHBOARD_BUNDLE} is missing or older than {stale}: npm run build"
    fill_store(lab.root / "dash.sqlite3", STORED)
    bs.write_notebook(lab.root / "dashboard.ipynb", "")
    p = page.page
    bs.open_notebook(p, lab, "dashboard.ipynb")
    failed_id = bs.run_cell(p, SETUP, timeout_ms=90_000).strip().splitlines()[-1]

    started = time.perf_counter()
    bs.run_cell(p, "dashboard = manager.dashboard()\ndashboard", timeout_ms=60_000)
    newest = [["failing", "1 failed"]] + [
        [f"set {i:05d}", "done"] for i in range(STORED - 1, STORED - 50, -1)
    ]
    wait_for_rows(p, newest)
    print(f"\nfirst page of {STORED + 1} sets shown in {time.perf_counter() - started:.2f} s")
    board = p.locator(".qjm-dashboard")
    expect(board.locator(".qjm-d-total")).to_have_text(f"{STORED + 1} sets")
    expect(board.locator(".qjm-d-page")).to_have_text("page 1 of 21")
    shot(board, "dashboard-first-page.png")

    board.locator(".qjm-d-filter-name").fill("set 0099")
    wait_for_rows(p, [[f"set {i:05d}", "done"] for i in range(999, 989, -1)])
    expect(board.locator(".qjm-d-total")).to_have_text("10 sets")
    shot(board, "dashboard-filtered.png")

    target = board.locator("tr.qjm-d-row").first
    target.locator(".qjm-d-open").click()
    opened = p.locator(".qjm-widget")
    expect(opened).to_have_count(1, timeout=20_000)
    expect(opened.locator(".qjm-cell")).to_have_count(2, timeout=10_000)
    expect(target).to_have_class(bs_class("qjm-d-opened"))
    shot(p.locator(".jp-OutputArea-output").last, "dashboard-opened.png")

    board.locator(".qjm-d-filter-name").fill("failing")
    wait_for_rows(p, [["failing", "1 failed"]])
    board.locator("tr.qjm-d-row .qjm-d-retry-failed").click()
    wait_for_rows(p, [["failing", "done"]], timeout_ms=40_000)
    shot(board, "dashboard-retried.png")

    row = board.locator("tr.qjm-d-row").first
    row.locator(".qjm-d-delete").click()
    expect(row.locator(".qjm-d-confirm")).to_be_visible()
    shot(board, "dashboard-confirm-delete.png")
    assert p.evaluate(ROWS) == [["failing", "done"]]  # nothing sent before the confirmation
    row.locator(".qjm-d-confirm-yes").click()
    wait_for_rows(p, [])
    expect(board.locator(".qjm-d-empty")).to_be_visible()
    truth = bs.run_cell_json(
        p, f"import json\nprint(json.dumps(manager.store.load({failed_id!r}) is None))"
    )
    assert truth is True
    assert not page.errors, page.errors
    assert not page.dialogs, page.dialogs


def test_a_set_another_process_runs_is_followed_live_in_the_dashboard(
    lab: bs.JupyterLab, page: Page, tmp_path: pathlib.Path
) -> None:
    store = lab.root / "elsewhere.sqlite3"
    with gated_run(tmp_path, store, count=6, name="elsewhere") as run:  # 3 chunks, one at a time
        bs.write_notebook(lab.root / "follow.ipynb", "")
        p = page.page
        bs.open_notebook(p, lab, "follow.ipynb")
        code = "from qjm_widget import JobManager\nmanager = JobManager(store='elsewhere.sqlite3')"
        bs.run_cell(p, code + "\nmanager.dashboard()", timeout_ms=60_000)
        board = p.locator(".qjm-dashboard")
        wait_for_rows(p, [["elsewhere", "running"]])
        row = board.locator("tr.qjm-d-row").first
        expect(row.locator(".qjm-d-where")).to_have_text("another process")
        expect(row.locator(".qjm-d-count")).to_have_text("0 / 3")
        run.go()
        expect(row.locator(".qjm-d-count")).to_have_text("1 / 3", timeout=30_000)
        row.locator(".qjm-d-open").click()
        opened = p.locator(".qjm-widget")
        expect(opened.locator(".qjm-cell")).to_have_count(3, timeout=20_000)
        expect(opened.locator(".qjm-cell.qjm-s-done")).to_have_count(1, timeout=20_000)
        shot(p.locator(".jp-OutputArea-output").last, "dashboard-following.png")
        run.go(2)  # the other process runs the last two chunks; both views follow it
        expect(opened.locator(".qjm-cell.qjm-s-done")).to_have_count(3, timeout=40_000)
        wait_for_rows(p, [["elsewhere", "done"]], timeout_ms=40_000)
        expect(row.locator(".qjm-d-count")).to_have_text("3 / 3")
        shot(p.locator(".jp-OutputArea-output").last, "dashboard-followed-to-the-end.png")
    assert not page.errors, page.errors


def bs_class(name: str) -> Any:
    import re

    return re.compile(rf"(^|\s){re.escape(name)}(\s|$)")
