"""The widget in a real JupyterLab, in headless Chromium: live updates, buttons, and escaping.

One JupyterLab server and one browser serve the whole module (see browser_support.py); each
test opens its own notebook in a fresh page. Screenshots go to artifacts/browser/.
"""

from __future__ import annotations

import pathlib
import re
import shutil
import threading
from typing import Any

import browser_support as bs
import pytest
from browser_support import Page, browser, lab, page  # noqa: F401 - the module's fixtures
from ibm_standin import RuntimeStandIn
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError
from playwright.sync_api import expect

pytestmark = [pytest.mark.browser, pytest.mark.timeout(180)]

DEMO = bs.REPO / "notebooks" / "demo.ipynb"
DEMO_CHUNKS = 40
ERROR_CHUNK = 5  # holds basis_55, the demo's flaky job
PAYLOAD = "<img src=x onerror=alert(1)>"

# Records every change of (done cells, final cells) the view paints, as it paints it.
WATCH_CELLS = """(finalStates) => {
  const root = document.querySelector(".qjm-widget");
  const samples = [];
  const sample = () => {
    let done = 0;
    let final = 0;
    const cells = root.querySelectorAll(".qjm-cell");
    for (const cell of cells) {
      const state = (cell.className.match(/\\bqjm-s-([a-z]+)/) || [])[1];
      done += state === "done" ? 1 : 0;
      final += finalStates.includes(state) ? 1 : 0;
    }
    const last = samples[samples.length - 1];
    if (!last || last.done !== done || last.final !== final || last.total !== cells.length) {
      samples.push({ t: performance.now(), done, final, total: cells.length });
    }
  };
  sample();
  new MutationObserver(sample).observe(root, {
    subtree: true, childList: true, attributes: true, attributeFilter: ["class"],
  });
  window.__qjmSamples = samples;
}"""

# True once the view shows n cells, each in one of the states ``finals``.
ALL_CELLS_IN = """([n, finals]) => {
  const cells = [...document.querySelectorAll(".qjm-widget .qjm-cell")];
  return cells.length === n && cells.every((cell) =>
    finals.some((s) => cell.classList.contains(`qjm-s-${s}`)));
}"""


CELL_STATES = """() => [...document.querySelectorAll(".qjm-widget .qjm-cell")]
  .sort((a, b) => Number(a.dataset.index) - Number(b.dataset.index))
  .map((cell) => (cell.className.match(/\\bqjm-s-([a-z]+)/) || [, "?"])[1])"""

# True once the view paints exactly ``expected``: one state per cell, in index order.
CELLS_ARE = f"""(expected) => JSON.stringify(({CELL_STATES})()) === JSON.stringify(expected)"""


def screenshot(locator: Any, name: str) -> pathlib.Path:
    bs.ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = bs.ARTIFACTS / name
    locator.scroll_into_view_if_needed()
    locator.screenshot(path=str(path))
    return path


def has_class(name: str) -> re.Pattern[str]:
    return re.compile(rf"(^|\s){re.escape(name)}(\s|$)")


def wait_for_cells(p: Any, expected: list[str], timeout_ms: float) -> None:
    """Wait until the view paints ``expected``; fail with what it paints instead."""
    try:
        p.wait_for_function(CELLS_ARE, arg=expected, timeout=timeout_ms, polling=100)
    except PlaywrightTimeoutError:
        view = p.evaluate(CELL_STATES)
        raise AssertionError(f"view:     {view}\nexpected: {expected}") from None


def test_demo_updates_live_and_retry_and_cancel_reach_python(
    lab: bs.JupyterLab, page: Page
) -> None:
    shutil.copy(DEMO, lab.root / "demo.ipynb")
    p = page.page
    bs.open_notebook(p, lab, "demo.ipynb")
    bs.run_all_cells(p)

    widget = p.locator(".qjm-widget")
    widget.wait_for(timeout=40_000)
    p.evaluate(WATCH_CELLS, list(bs.FINAL_STATES))
    cells = widget.locator(".qjm-cell")
    expect(cells).to_have_count(DEMO_CHUNKS, timeout=10_000)
    title = widget.locator(".qjm-details-title > span")

    # The flaky chunk ends in ERROR (~2 s in): select it and retry it.
    failed = widget.locator(f'.qjm-cell[data-index="{ERROR_CHUNK}"]')
    expect(failed).to_have_class(has_class("qjm-s-error"), timeout=20_000)
    failed.click()
    expect(title).to_have_text(f"Chunk {ERROR_CHUNK}")
    expect(widget.locator(".qjm-detail-state")).to_have_text("error")
    widget.locator(".qjm-retry-chunk").click()  # waits until Python says it can retry

    # The last chunk not yet submitted: select it and cancel it. Wait for its own details
    # first, or the Cancel button would still be the retried chunk's.
    states = p.evaluate(CELL_STATES)
    pending = [i for i, s in enumerate(states) if s == "pending" and i != ERROR_CHUNK]
    assert pending, f"every chunk was submitted before the test could cancel one: {states}"
    target = pending[-1]
    widget.locator(f'.qjm-cell[data-index="{target}"]').click()
    expect(title).to_have_text(f"Chunk {target}")
    widget.locator(".qjm-cancel-chunk").click()

    # Everything ends: the retried chunk done, the cancelled one cancelled, no errors left.
    # Every cell final is not that end: the retried chunk shows "error" (final) until its
    # first update after the click arrives, so wait for the very states the test expects.
    expected = ["done"] * DEMO_CHUNKS
    expected[target] = "cancelled"
    wait_for_cells(p, expected, 40_000)
    view = p.evaluate(CELL_STATES)
    expect(widget.locator(".qjm-progress-label")).to_contain_text(
        f"{DEMO_CHUNKS} of {DEMO_CHUNKS} chunks final"
    )
    expect(widget.locator(".qjm-errors")).to_be_hidden()
    expect(widget.locator(".qjm-retry-failed")).to_be_disabled()

    # The kernel's truth, read from a cell run in the same notebook.
    truth = bs.run_cell_json(
        p,
        "import json\n"
        "print(json.dumps({'states': [c.state.value for c in job_set.managed_jobs()],\n"
        f"                  'retried_attempts': job_set.managed_jobs()[{ERROR_CHUNK}].attempts,\n"
        "                  'done': job_set.done()}))",
    )
    assert truth["states"] == view, f"Python: {truth['states']}\nview:   {view}"
    assert truth["retried_attempts"] == 2, truth
    assert truth["done"] is True, truth

    # Live: the view painted the done count growing several times before the end.
    samples = p.evaluate("() => window.__qjmSamples")
    running = [s["done"] for s in samples if s["total"] == DEMO_CHUNKS and s["final"] < s["total"]]
    assert running == sorted(running), f"done cells went down: {samples}"
    assert len(set(running)) >= 3, f"the view did not update live: {samples}"
    assert not page.errors, page.errors
    assert not page.dialogs, page.dialogs
    screenshot(widget, "demo.png")


XSS_NOTEBOOK = f"""\
from qiskit import QuantumCircuit
from qiskit_aer import AerSimulator

from qjm_widget import JobManager, RetryPolicy
from qjm_widget.testing import FaultyBackend

PAYLOAD = {PAYLOAD!r}


class RefusingBackend(FaultyBackend):
    def run(self, run_input, **options):
        raise RuntimeError(PAYLOAD)


circuit = QuantumCircuit(1, 1)
circuit.measure(0, 0)
job_set = JobManager().run(
    [circuit],
    RefusingBackend(AerSimulator()),
    name=PAYLOAD,
    job_tags=[PAYLOAD],
    retry_policy=RetryPolicy(attempts=1),
    shots=10,
)
job_set"""


def test_markup_in_names_tags_and_errors_is_shown_as_text(lab: bs.JupyterLab, page: Page) -> None:
    bs.write_notebook(lab.root / "xss.ipynb", XSS_NOTEBOOK)
    p = page.page
    bs.open_notebook(p, lab, "xss.ipynb")
    bs.run_all_cells(p)

    widget = p.locator(".qjm-widget")
    widget.wait_for(timeout=40_000)
    error_text = widget.locator(".qjm-error-text")
    expect(error_text).to_contain_text(PAYLOAD, timeout=20_000)
    expect(widget.locator(".qjm-name")).to_have_text(PAYLOAD)
    expect(widget.locator(".qjm-tag")).to_have_text(PAYLOAD)
    widget.locator(".qjm-error-entry").click()
    expect(widget.locator(".qjm-detail-error")).to_contain_text(PAYLOAD)
    expect(widget.locator('.qjm-cell[data-index="0"]')).to_have_class(has_class("qjm-s-failed"))
    bs.wait_for_kernel_idle(p)
    # An <img src=x> would have been fetched (and its onerror fired) by now.
    p.wait_for_timeout(500)

    assert PAYLOAD in widget.text_content()
    assert widget.locator("img").count() == 0
    assert p.evaluate("() => document.querySelectorAll('img[src=\"x\"]').length") == 0
    fetched = [url for url in page.requests if url.split("?")[0].endswith("/x")]
    assert not fetched, f"the payload's <img> was created: {fetched}"
    assert not page.dialogs, f"the payload ran: {page.dialogs}"
    assert not page.errors, page.errors
    screenshot(widget, "xss.png")

    # The dialog listener is live: a real alert would have been caught.
    p.evaluate("() => alert('probe')")
    assert page.dialogs == ["alert: probe"]


SMALL_NOTEBOOK = """\
from qiskit import QuantumCircuit
from qiskit_aer import AerSimulator

from qjm_widget import JobManager

circuits = []
for i in range(3):
    circuit = QuantumCircuit(2, 2, name=f"basis_{i}")
    circuit.measure(range(2), range(2))
    circuits.append(circuit)
job_set = JobManager().run(
    circuits, AerSimulator(), name="small", max_experiments_per_job=1, shots=100
)
job_set"""


def open_small_notebook(lab: bs.JupyterLab, page: Page, name: str) -> Any:
    """Run a three-chunk set on Aer in a new notebook; return the widget once it is final."""
    bs.write_notebook(lab.root / name, SMALL_NOTEBOOK)
    bs.open_notebook(page.page, lab, name)
    bs.run_all_cells(page.page)
    widget = page.page.locator(".qjm-widget")
    widget.wait_for(timeout=40_000)
    expect(widget.locator(".qjm-cell.qjm-s-done")).to_have_count(3, timeout=20_000)
    return widget


# Each label of the details list against its value: the label's text box, the value's text box.
DETAIL_ROWS = """() => [...document.querySelectorAll(".qjm-widget .qjm-details-list dt")]
.map((dt) => {
  const dd = dt.nextElementSibling;
  const box = (node) => { const r = document.createRange(); r.selectNodeContents(node);
    return r.getBoundingClientRect(); };
  const label = box(dt);
  const value = box(dd);
  const overlap = label.right > value.left + 0.5 && label.left < value.right - 0.5
    && label.bottom > value.top + 0.5 && label.top < value.bottom - 0.5;
  return { label: dt.textContent, value: dd.textContent, overlap,
    clipped: dt.scrollWidth > dt.clientWidth + 1 };
})"""


def test_chunk_details_show_each_label_beside_its_value(lab: bs.JupyterLab, page: Page) -> None:
    widget = open_small_notebook(lab, page, "details.ipynb")
    widget.locator('.qjm-cell[data-index="1"]').click()
    expect(widget.locator(".qjm-details-title > span")).to_have_text("Chunk 1")
    # The title shows at once; the rows follow when the kernel answers the selection.
    expect(widget.locator(".qjm-details-list dt")).to_have_count(5)
    rows = page.page.evaluate(DETAIL_ROWS)
    screenshot(widget.locator(".qjm-details"), "details.png")
    assert [row["label"] for row in rows] == ["Experiments", "State", "Shots", "Job id", "Attempts"]
    # JupyterLab styles every dl/dt/dd in an output area (floats, dt 20% wide): the widget's
    # own layout has to win over '.jp-OutputArea-output dt' for the labels to fit.
    unreadable = [row for row in rows if row["overlap"] or row["clipped"]]
    assert not unreadable, f"labels of the chunk details overlap their values: {unreadable}"


def test_front_end_loads_without_warnings(lab: bs.JupyterLab, page: Page) -> None:
    open_small_notebook(lab, page, "warnings.ipynb")
    ours = [
        (kind, text.splitlines()[0])
        for kind, text in page.console
        if kind in ("warning", "error") and ("anywidget" in text or "qjm" in text)
    ]
    assert not ours, f"the widget's module logged: {ours}"
    assert not page.errors, page.errors


# One set through the IBM runtime stand-in (tests/ibm_standin), which runs in this process: the
# notebook's first cell holds where it listens, written in by the test; the second runs the set.
STANDIN_REASON = "Qubit 3 lost calibration during the stand-in's job"
STANDIN_CHUNKS = 3
STANDIN_SHOTS = 40
STANDIN_NOTEBOOK = """\
import os

from qiskit import QuantumCircuit
from qiskit_ibm_runtime import QiskitRuntimeService

from qjm_widget import JobManager

os.environ.update(STANDIN_ENV)
service = QiskitRuntimeService(
    channel="ibm_quantum_platform",
    token=STANDIN_API_KEY,
    instance=STANDIN_INSTANCE,
    url=STANDIN_URL,
    url_resolver=lambda *_: STANDIN_API_URL,
)
circuits = []
for i in range(NUM_EXPERIMENTS):
    circuit = QuantumCircuit(3, 3, name=f"basis_{i}")
    for qubit in range(3):
        if i >> qubit & 1:
            circuit.x(qubit)
    circuit.measure(range(3), range(3))
    circuits.append(circuit)
job_set = JobManager(store=None).run(
    circuits, service.backend("fake_manila"), name="standin", max_experiments_per_job=2,
    shots=SHOTS,
)
job_set"""


def standin_config(api: RuntimeStandIn) -> str:
    """The notebook's first cell: where the stand-in listens and how to log in to it."""
    return "\n".join(
        [
            f"STANDIN_ENV = {api.env()!r}",
            f"STANDIN_URL = {api.url!r}",
            f"STANDIN_API_URL = {api.api_url!r}",
            f"STANDIN_INSTANCE = {api.instance!r}",
            f"STANDIN_API_KEY = {api.api_key!r}",
            f"NUM_EXPERIMENTS = {2 * STANDIN_CHUNKS}",
            f"SHOTS = {STANDIN_SHOTS}",
        ]
    )


def test_a_failed_ibm_job_shows_its_reason_and_retry_failed_finishes_the_set(
    lab: bs.JupyterLab, page: Page
) -> None:
    p = page.page
    with RuntimeStandIn(backends=("fake_manila",), noise=False) as api:
        api.faults.fail_job(count=1, reason=STANDIN_REASON)
        bs.write_notebook(lab.root / "standin.ipynb", standin_config(api), STANDIN_NOTEBOOK)
        bs.open_notebook(p, lab, "standin.ipynb")
        bs.run_all_cells(p)

        widget = p.locator(".qjm-widget")
        widget.wait_for(timeout=60_000)
        expect(widget.locator(".qjm-cell")).to_have_count(STANDIN_CHUNKS, timeout=10_000)
        finals = [STANDIN_CHUNKS, list(bs.FINAL_STATES)]
        p.wait_for_function(ALL_CELLS_IN, arg=finals, timeout=60_000, polling=100)
        states = p.evaluate(CELL_STATES)
        assert sorted(states) == ["done", "done", "error"], f"view: {states}"
        failed = states.index("error")

        entry = widget.locator(".qjm-error-entry")
        expect(entry).to_have_count(1)
        expect(entry.locator(".qjm-error-chunk")).to_have_text(f"Chunk {failed}")
        expect(entry.locator(".qjm-error-text")).to_contain_text(STANDIN_REASON)
        jobs = list(api.jobs.values())
        assert sorted(j.status for j in jobs) == ["COMPLETED", "COMPLETED", "FAILED"], jobs

        bs.wait_for_kernel_idle(p)  # the kernel handles the button once no cell runs
        widget.locator(".qjm-retry-failed").click()
        all_done = [STANDIN_CHUNKS, ["done"]]
        p.wait_for_function(ALL_CELLS_IN, arg=all_done, timeout=60_000, polling=100)
        expect(widget.locator(".qjm-errors")).to_be_hidden()
        expect(widget.locator(".qjm-retry-failed")).to_be_disabled()

        # The kernel's truth, and the stand-in's: one more job, completed, for that chunk.
        truth = bs.run_cell_json(
            p,
            "import json\n"
            "results = job_set.results(timeout=30)\n"
            f"chunk = job_set.managed_jobs()[{failed}]\n"
            "print(json.dumps({'states': [c.state.value for c in job_set.managed_jobs()],\n"
            "                  'counts': [results.get_counts(i) for i in range(NUM_EXPERIMENTS)],\n"
            "                  'job_id': chunk.job_id, 'previous': chunk.previous_job_ids}))",
        )
        jobs_after = api.jobs
    left = [t.name for t in threading.enumerate() if t.name.startswith("ibm-standin")]
    assert not left, f"stand-in threads outlived it: {left}"
    assert truth["states"] == ["done"] * STANDIN_CHUNKS, truth
    assert truth["counts"] == [
        {format(i, "03b"): STANDIN_SHOTS} for i in range(2 * STANDIN_CHUNKS)
    ], truth
    statuses = sorted(j.status for j in jobs_after.values())
    assert statuses == ["COMPLETED", "COMPLETED", "COMPLETED", "FAILED"], jobs_after
    (old,) = truth["previous"]
    assert (jobs_after[old].status, jobs_after[old].reason) == ("FAILED", STANDIN_REASON)
    retried = jobs_after[truth["job_id"]]
    assert retried.status == "COMPLETED", retried
    assert f"qjm_chunk_{failed}" in retried.tags, retried
    assert not page.errors, page.errors
    assert not page.dialogs, page.dialogs
    screenshot(widget, "standin.png")
