"""Parameter sweeps in a real JupyterLab, in headless Chromium: the histogram's point picker and
the point ranges of the chunk details.

The notebook runs two sweeps whose outcomes are exact: point p of either prepares the basis
state p, so every shot of it reads ``format(p, "03b")``. Experiment 0 has its 8 points in a row
(shape (8,)), experiment 1 the same 8 points as a 2 x 4 grid. With 50 shots and at most 100
executions per job, each chunk holds 2 points: chunks 0-3 cut experiment 0, chunks 4-7
experiment 1. Screenshots go to artifacts/browser/.
"""

from __future__ import annotations

import re
from typing import Any

import browser_support as bs
import pytest
from browser_support import Page, browser, lab, page  # noqa: F401 - the module's fixtures
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError
from playwright.sync_api import expect

pytestmark = [pytest.mark.browser, pytest.mark.timeout(180)]

SHOTS = 50
NUM_POINTS = 8
NUM_CHUNKS = 8
DASH = "\N{EN DASH}"  # the view writes ranges as first, en dash, last

SWEEP_NOTEBOOK = f"""\
import math

import numpy as np
from qiskit import QuantumCircuit
from qiskit.circuit import Parameter
from qiskit.primitives import StatevectorSampler

from qjm_widget import JobManager

t = [Parameter(f"t{{q}}") for q in range(3)]
qc = QuantumCircuit(3, 3, name="sweep")
for q in range(3):
    qc.rx(t[q], q)
qc.measure(range(3), range(3))
# Point p flips the qubits of p's set bits: it prepares the basis state p.
values = np.array([[math.pi * ((p >> q) & 1) for q in range(3)] for p in range({NUM_POINTS})])
job_set = JobManager(store=None).run(
    [(qc, values), (qc, values.reshape(2, 4, 3))],
    StatevectorSampler(),
    name="sweeps",
    shots={SHOTS},
    max_executions_per_job=100,
)
job_set.wait(60)
job_set"""

# The chart as the view draws it: [label, count text] per bar.
BARS = """() => [...document.querySelectorAll(".qjm-widget .qjm-histogram .qjm-bar")].map((bar) => [
  bar.querySelector(".qjm-bar-label")?.textContent ?? "",
  bar.querySelector(".qjm-bar-count")?.textContent ?? "",
])"""

# True once the chart shows exactly these bars (labels and counts, in order).
BARS_ARE = f"""(expected) => JSON.stringify(({BARS})()) === JSON.stringify(expected)"""

# True once the view shows n cells, every one of them done.
ALL_DONE = """(n) => {
  const cells = [...document.querySelectorAll(".qjm-widget .qjm-cell")];
  return cells.length === n && cells.every((cell) => cell.classList.contains("qjm-s-done"));
}"""


def wait_for_bars(p: Any, expected: list[list[str]], timeout_ms: float = 20_000) -> None:
    """Wait until the chart shows ``expected``; fail with what it shows instead."""
    try:
        p.wait_for_function(BARS_ARE, arg=expected, timeout=timeout_ms, polling=100)
    except PlaywrightTimeoutError:
        raise AssertionError(f"chart:    {p.evaluate(BARS)}\nexpected: {expected}") from None


def one_bar(point: int) -> list[list[str]]:
    return [[format(point, "03b"), f"{SHOTS} (100.0%)"]]


def all_bars() -> list[list[str]]:
    share = f"{SHOTS} ({100 / NUM_POINTS:.1f}%)"
    return [[format(point, "03b"), share] for point in range(NUM_POINTS)]


def test_point_picker_shows_one_point_of_a_sweep_and_details_show_point_ranges(
    lab: bs.JupyterLab, page: Page
) -> None:
    bs.write_notebook(lab.root / "sweeps.ipynb", SWEEP_NOTEBOOK)
    p = page.page
    bs.open_notebook(p, lab, "sweeps.ipynb")
    bs.run_all_cells(p)

    widget = p.locator(".qjm-widget")
    widget.wait_for(timeout=60_000)
    p.wait_for_function(ALL_DONE, arg=NUM_CHUNKS, timeout=60_000, polling=100)
    bs.wait_for_kernel_idle(p)  # the kernel handles the view's messages once no cell runs

    mode = widget.locator(".qjm-experiment-mode")
    experiment = widget.locator(".qjm-experiment-index")
    picker = widget.locator(".qjm-points")
    all_points = widget.locator(".qjm-all-points")
    index = widget.locator(".qjm-point-index")
    slider = widget.locator(".qjm-point-slider")
    values = widget.locator(".qjm-point-values")
    multi = widget.locator(".qjm-point-multi-index")
    caption = widget.locator(".qjm-histogram-caption")
    expect(picker).to_be_hidden()  # all experiments: no points to pick

    # Experiment 0: the picker appears, all points shown, up to point 7.
    mode.select_option("one")
    expect(caption).to_have_text(f"Experiment 0 · all {NUM_POINTS} points · 400 shots")
    expect(picker).to_be_visible()
    expect(all_points).to_be_checked()
    expect(slider).to_have_attribute("max", str(NUM_POINTS - 1))
    expect(index).to_have_attribute("max", str(NUM_POINTS - 1))
    expect(widget.locator(".qjm-point-count")).to_have_text(f"of {NUM_POINTS}")
    wait_for_bars(p, all_bars())

    # Point 5 with the slider's keys (each press sends a point): one bar, 101, every shot.
    slider.focus()
    slider.press("End")
    slider.press("ArrowLeft")
    slider.press("ArrowLeft")
    wait_for_bars(p, one_bar(5))
    expect(values).to_have_text(re.compile(r"^t0 = 3\.14\d*, t1 = 0, t2 = 3\.14\d*$"))
    expect(caption).to_have_text(f"Experiment 0 · point 5 · {SHOTS} shots")
    expect(index).to_have_value("5")
    expect(slider).to_have_value("5")
    expect(all_points).not_to_be_checked()
    expect(multi).to_be_hidden()  # a 1-D sweep: the flat index is the index

    # Point 2 typed into the number input.
    index.fill("2")
    index.press("Enter")
    wait_for_bars(p, one_bar(2))
    expect(values).to_have_text(re.compile(r"^t0 = 0, t1 = 3\.14\d*, t2 = 0$"))
    expect(slider).to_have_value("2")

    # All points again.
    all_points.check()
    wait_for_bars(p, all_bars())
    expect(caption).to_have_text(f"Experiment 0 · all {NUM_POINTS} points · 400 shots")
    expect(values).to_be_hidden()

    # Chunk 2 holds points 4-5 of experiment 0.
    widget.locator('.qjm-cell[data-index="2"]').click()
    expect(widget.locator(".qjm-details-title > span")).to_have_text("Chunk 2")
    expect(widget.locator(".qjm-detail-points")).to_have_text(f"4{DASH}5 of experiment 0")
    expect(widget.locator(".qjm-detail-experiments")).to_have_text("0")
    expect(widget.locator(".qjm-detail-shots")).to_have_text(str(SHOTS))
    labels = widget.locator(".qjm-details-list dt").all_text_contents()
    assert labels[:3] == ["Experiments", "Points", "State"], labels

    # Experiment 1, the same points as a 2 x 4 grid: flat point 5 is (1, 1).
    experiment.fill("1")
    experiment.press("Enter")
    expect(caption).to_have_text(f"Experiment 1 · all {NUM_POINTS} points · 400 shots")
    expect(slider).to_have_attribute("max", str(NUM_POINTS - 1))
    index.fill("5")
    index.press("Enter")
    expect(caption).to_have_text(f"Experiment 1 · point 5 · {SHOTS} shots")
    wait_for_bars(p, one_bar(5))
    expect(multi).to_have_text("index (1, 1) of shape (2, 4)")
    expect(values).to_have_text(re.compile(r"^t0 = 3\.14\d*, t1 = 0, t2 = 3\.14\d*$"))
    bs.ARTIFACTS.mkdir(parents=True, exist_ok=True)
    widget.screenshot(path=str(bs.ARTIFACTS / "sweeps.png"))

    widget.locator('.qjm-cell[data-index="7"]').click()
    expect(widget.locator(".qjm-details-title > span")).to_have_text("Chunk 7")
    expect(widget.locator(".qjm-detail-points")).to_have_text(f"6{DASH}7 of experiment 1")

    # Back to all experiments: no points to pick.
    mode.select_option("all")
    expect(caption).to_have_text(f"All experiments · {2 * NUM_POINTS * SHOTS} shots")
    expect(picker).to_be_hidden()

    # The kernel's truth for the points the view showed.
    truth = bs.run_cell_json(
        p,
        "import json\n"
        "print(json.dumps([job_set.merged_counts(0, 5), job_set.merged_counts(1, (1, 1)),\n"
        "                  [c.points for c in job_set.managed_jobs()]]))",
    )
    assert truth[0] == {"101": SHOTS}, truth
    assert truth[1] == {"101": SHOTS}, truth
    assert truth[2] == [[e, 2 * k, 2 * k + 1] for e in range(2) for k in range(4)], truth
    assert not page.errors, page.errors
    ours = [
        (kind, text.splitlines()[0])
        for kind, text in page.console
        if kind in ("warning", "error") and ("anywidget" in text or "qjm" in text)
    ]
    assert not ours, f"the widget's module logged: {ours}"
