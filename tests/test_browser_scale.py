"""A set of 20,000 chunks in the widget, in a real JupyterLab in headless Chromium.

The set is real: 20,000 one-circuit chunks on AerSimulator, wrapped so that every submitted job
stays queued (running 20,000 Aer jobs would take minutes), at most 4 at a time: chunks 0-3
queued, the rest pending, until the test cancels them. The grid shows 1,000 blocks of 20; by
keyboard alone, "Go to chunk" finds chunk 19,999, Enter on its details' Cancel button cancels
it, and the one change reaches the page as one 5-byte entry of the delta. Every wait is for the
DOM condition asserted next. Screenshots go to artifacts/browser/.
"""

from __future__ import annotations

import browser_support as bs
import pytest
from browser_support import Page, browser, lab, page  # noqa: F401 - the module's fixtures
from playwright.sync_api import expect
from test_browser_keyboard import assert_focus_visible, press_until, screenshot, wait_for

pytestmark = [pytest.mark.browser, pytest.mark.timeout(300)]

CHUNKS = 20_000
PER_BLOCK = 20
LAST = CHUNKS - 1
CONCURRENT = 4

NOTEBOOK = f"""\
from qiskit import QuantumCircuit
from qiskit_aer import AerSimulator

from qjm_widget import JobManager
from qjm_widget.testing import FaultyBackend

circuits = []
for i in range({CHUNKS}):
    circuit = QuantumCircuit(2, 2, name=f"basis_{{i}}")
    for qubit in range(2):
        if (i >> qubit) & 1:
            circuit.x(qubit)
    circuit.measure(range(2), range(2))
    circuits.append(circuit)
# Every job waits queued for 10 minutes before it runs: the set stays where the test puts it.
backend = FaultyBackend(AerSimulator(), hold_queued=600)
job_set = JobManager(store=None).run(
    circuits, backend, name="scale", max_experiments_per_job=1, shots=10,
    max_concurrent_jobs={CONCURRENT},
)
job_set"""

# What the page shows of the grid: its blocks, chunk cells, and every element of the widget.
GRID_SHAPE = """() => {
  const root = document.querySelector(".qjm-widget");
  return {
    blocks: root.querySelectorAll(".qjm-blocks > .qjm-block").length,
    cells: root.querySelectorAll(".qjm-cell").length,
    elements: root.querySelectorAll("*").length,
    caption: root.querySelector(".qjm-grid-caption").textContent,
  };
}"""

# Block `index` is named `label`.
BLOCK_IS = """([index, label]) => {
  const block = document.querySelector(`.qjm-widget .qjm-block[data-block="${index}"]`);
  return Boolean(block && block.getAttribute("aria-label") === label);
}"""

# The focused chunk cell's index, -1 when the focus is elsewhere.
FOCUSED_CELL = """() => {
  const el = document.activeElement;
  return el && el.classList.contains("qjm-cell") ? Number(el.dataset.index) : -1;
}"""

# Chunk `index`'s cell shows `state` and its details the kernel's `state`, with Cancel enabled
# or not as `canCancel` says.
DETAILS_ARE = """([index, state, canCancel]) => {
  const root = document.querySelector(".qjm-widget");
  const cell = root.querySelector(`.qjm-cell[data-index="${index}"]`);
  const title = root.querySelector(".qjm-details-title > span");
  const shown = root.querySelector(".qjm-detail-state");
  const cancel = root.querySelector(".qjm-cancel-chunk");
  return Boolean(cell && cell.classList.contains(`qjm-s-${state}`)
    && title && title.textContent === `Chunk ${index}`
    && shown && shown.textContent === state
    && cancel && cancel.disabled === !canCancel);
}"""

ALL_BLOCKS_CANCELLED = """(n) => {
  const blocks = [...document.querySelectorAll(".qjm-widget .qjm-blocks > .qjm-block")];
  return blocks.length === n
    && blocks.every((b) => b.className === "qjm-block qjm-s-cancelled"
      || b.className === "qjm-block qjm-s-cancelled qjm-selected");
}"""

KERNEL_DELTA = """\
import json, struct
widget = job_set.widget()
delta = widget.delta
entries = [list(struct.unpack_from("<IB", delta, 4 + 5 * k)) for k in range((len(delta) - 4) // 5)]
print(json.dumps({"delta_bytes": len(delta), "entries": entries, "states_bytes": len(widget.states),
                  "state": job_set.managed_jobs()[19999].state.value}))"""


def test_a_20000_chunk_set_by_blocks_and_go_to_chunk(lab: bs.JupyterLab, page: Page) -> None:
    bs.write_notebook(lab.root / "scale.ipynb", NOTEBOOK)
    p = page.page
    bs.open_notebook(p, lab, "scale.ipynb")
    bs.run_all_cells(p)

    widget = p.locator(".qjm-widget")
    widget.wait_for(timeout=90_000)
    first_block = (
        f"chunks 0-19, {PER_BLOCK - CONCURRENT} pending, {CONCURRENT} queued, experiments 0-19"
    )
    wait_for(p, BLOCK_IS, [0, first_block], f"block 0 named {first_block!r}", 60_000)
    bs.wait_for_kernel_idle(p)  # the kernel answers the view once no cell runs
    shape = p.evaluate(GRID_SHAPE)
    assert shape["blocks"] == CHUNKS // PER_BLOCK, shape
    assert shape["cells"] == 0, shape  # no block opened yet
    assert shape["elements"] < 1500, f"the widget is {shape['elements']} elements: {shape}"
    assert shape["caption"].startswith("20000 chunks in 1000 blocks of 20;"), shape
    expect(widget.locator('.qjm-block[data-block="1"]')).to_have_attribute(
        "aria-label", "chunks 20-39, 20 pending, experiments 20-39"
    )

    # Keyboard only from the set's Cancel all button: Tab reaches Go to chunk (Retry failed is
    # disabled), the number, Enter.
    widget.locator(".qjm-cancel-all").focus()
    p.keyboard.press("Tab")
    assert p.evaluate("() => document.activeElement.classList.contains('qjm-goto-input')"), (
        p.evaluate("() => document.activeElement.outerHTML.slice(0, 200)")
    )
    p.keyboard.type(str(LAST))
    p.keyboard.press("Enter")
    wait_for(p, DETAILS_ARE, [LAST, "pending", True], f"chunk {LAST}'s details")
    assert p.evaluate(FOCUSED_CELL) == LAST, "Go to chunk did not focus the chunk's cell"
    cell = widget.locator(f'.qjm-cell[data-index="{LAST}"]')
    expect(cell).to_have_attribute("aria-label", f"chunk {LAST}, pending, experiment {LAST}")
    expect(cell).to_have_attribute("aria-selected", "true")
    expect(widget.locator(".qjm-block-caption")).to_have_text("Chunks 19980\u201319999")
    assert_focus_visible(p, "JupyterLab Light")
    screenshot(widget, "scale-go-to-chunk.png")

    # Tab to the chunk's Cancel button; Enter cancels it in the kernel.
    press_until(
        p,
        "Tab",
        "() => document.activeElement?.classList.contains('qjm-cancel-chunk')",
        None,
        30,
        "the Cancel chunk button",
    )
    expect(widget.locator(".qjm-cancel-chunk")).to_have_attribute(
        "aria-label", f"Cancel chunk {LAST}"
    )
    p.keyboard.press("Enter")
    wait_for(p, DETAILS_ARE, [LAST, "cancelled", False], f"chunk {LAST} cancelled")
    last_block = "chunks 19980-19999, 19 pending, 1 cancelled, experiments 19980-19999"
    wait_for(p, BLOCK_IS, [LAST // PER_BLOCK, last_block], f"block 999 named {last_block!r}")
    # The disabled Cancel button gave the focus back to the chunk's cell, in its block.
    assert p.evaluate(FOCUSED_CELL) == LAST, "the focus was dropped with the Cancel button"

    # Escape backs up to the block, and then clears the selection.
    p.keyboard.press("Escape")
    expect(widget.locator(f'.qjm-block[data-block="{LAST // PER_BLOCK}"]')).to_be_focused()
    p.keyboard.press("Escape")
    expect(cell).to_have_attribute("aria-selected", "false")

    # That one change went to the page as one entry of 5 bytes after the sequence number, with
    # 20,000 chunks in the set (the snapshot of every chunk is not resent).
    truth = bs.run_cell_json(p, KERNEL_DELTA)
    assert truth["state"] == "cancelled", truth
    assert truth["entries"] == [[LAST, 8]], truth  # 8: cancelled (js/model.ts)
    assert truth["delta_bytes"] == 9, truth
    assert truth["states_bytes"] == 4 + CHUNKS, truth

    # Cancelling the rest turns every block to cancelled.
    bs.run_cell(p, "job_set.cancel()\nprint('cancelling')")
    wait_for(p, ALL_BLOCKS_CANCELLED, CHUNKS // PER_BLOCK, "every block cancelled", 60_000)
    truth = bs.run_cell_json(
        p,
        "import json\n"
        "print(json.dumps({'states': sorted({c.state.value for c in job_set.managed_jobs()}),\n"
        "                  'done': job_set.done()}))",
    )
    assert truth == {"states": ["cancelled"], "done": True}, truth
    screenshot(widget, "scale-cancelled.png")
    assert not page.errors, page.errors
    assert not page.dialogs, page.dialogs
