"""The chunk grid by keyboard alone, in a real JupyterLab in headless Chromium, in the light and
the dark theme: Tab into the grid, arrows to the failed chunk, Enter for its details, Tab to its
Retry button, Enter to retry it, until the chunk is done (the focus back on its cell), Escape;
the focus ring is visible throughout.

Mouse clicks would prove nothing here: every step is a key press, and every wait is for the
exact DOM condition asserted next. Screenshots go to artifacts/browser/.
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

CHUNKS = 40
FAILED = 33  # past the first row of the grid at the widths JupyterLab gives it

NOTEBOOK = f"""\
from qiskit import QuantumCircuit
from qiskit_aer import AerSimulator

from qjm_widget import JobManager, RetryPolicy
from qjm_widget.testing import FaultyBackend

circuits = []
for i in range({CHUNKS}):
    circuit = QuantumCircuit(2, 2, name=f"basis_{{i}}")
    circuit.measure(range(2), range(2))
    circuits.append(circuit)
backend = FaultyBackend(
    AerSimulator(), error_jobs=1, error_when=lambda cs: cs[0].name == "basis_{FAILED}"
)
job_set = JobManager(store=None).run(
    circuits, backend, name="keyboard", max_experiments_per_job=1, shots=20,
    retry_policy=RetryPolicy(attempts=1),
)
job_set"""

# The index of the focused chunk cell, -1 when the focus is elsewhere.
FOCUSED_CELL = """() => {
  const el = document.activeElement;
  return el && el.classList.contains("qjm-cell") ? Number(el.dataset.index) : -1;
}"""

# What the focused element shows of its focus, and the grid's background behind it.
FOCUS_STYLE = """() => {
  const el = document.activeElement;
  const style = getComputedStyle(el);
  return {
    focusVisible: el.matches(":focus-visible"),
    outlineStyle: style.outlineStyle,
    outlineWidth: style.outlineWidth,
    outlineColor: style.outlineColor,
    boxShadow: style.boxShadow,
    background: getComputedStyle(el.closest(".qjm-grid, .qjm-details, .qjm-widget"))
      .backgroundColor,
  };
}"""

# Cells in the first row of the grid as it is laid out.
COLUMNS = """() => {
  const cells = [...document.querySelectorAll(".qjm-widget .qjm-cell")];
  const top = cells[0].offsetTop;
  const next = cells.findIndex((cell) => cell.offsetTop > top);
  return next < 0 ? cells.length : next;
}"""

ALL_CELLS_IN = """([n, finals]) => {
  const cells = [...document.querySelectorAll(".qjm-widget .qjm-cell")];
  return cells.length === n && cells.every((cell) =>
    finals.some((s) => cell.classList.contains(`qjm-s-${s}`)));
}"""

# Chunk `index` is shown as `state` in the grid and in its details, whose Retry button is
# enabled or not as `canRetry` says.
DETAILS_ARE = """([index, state, canRetry]) => {
  const root = document.querySelector(".qjm-widget");
  const cell = root.querySelector(`.qjm-cell[data-index="${index}"]`);
  const title = root.querySelector(".qjm-details-title > span");
  const shown = root.querySelector(".qjm-detail-state");
  const retry = root.querySelector(".qjm-retry-chunk");
  return Boolean(cell && cell.classList.contains(`qjm-s-${state}`)
    && title && title.textContent === `Chunk ${index}`
    && shown && shown.textContent === state
    && retry && retry.disabled === !canRetry);
}"""


def screenshot(locator: Any, name: str) -> None:
    bs.ARTIFACTS.mkdir(parents=True, exist_ok=True)
    locator.scroll_into_view_if_needed()
    locator.screenshot(path=str(bs.ARTIFACTS / name))


def wait_for(p: Any, condition: str, arg: Any, what: str, timeout_ms: float = 30_000) -> None:
    try:
        p.wait_for_function(condition, arg=arg, timeout=timeout_ms, polling=100)
    except PlaywrightTimeoutError:
        raise AssertionError(f"timed out waiting for {what}") from None


def rgb(color: str) -> tuple[float, float, float]:
    parts = [float(x) for x in re.findall(r"[\d.]+", color)[:3]]
    assert len(parts) == 3, color
    return parts[0], parts[1], parts[2]


def contrast(a: str, b: str) -> float:
    """WCAG 2 contrast ratio of two CSS rgb() colours."""

    def luminance(color: str) -> float:
        def channel(c: float) -> float:
            c /= 255
            return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4

        r, g, b_ = (channel(c) for c in rgb(color))
        return 0.2126 * r + 0.7152 * g + 0.0722 * b_

    high, low = sorted((luminance(a), luminance(b)), reverse=True)
    return (high + 0.05) / (low + 0.05)


def set_theme(p: Any, theme: str) -> None:
    p.evaluate(
        "(theme) => window.jupyterapp.commands.execute('apputils:change-theme', {theme})", theme
    )
    wait_for(p, "(theme) => document.body.dataset.jpThemeName === theme", theme, theme)


def press_until(p: Any, key: str, condition: str, arg: Any, limit: int, what: str) -> None:
    """Press ``key`` until ``condition(arg)`` holds, at most ``limit`` times."""
    for _ in range(limit):
        p.keyboard.press(key)
        if p.evaluate(condition, arg):
            return
    focused = p.evaluate("() => document.activeElement?.outerHTML.slice(0, 200)")
    raise AssertionError(f"{limit} x {key} did not reach {what}; focus is on {focused}")


def assert_focus_visible(p: Any, theme: str) -> None:
    style = p.evaluate(FOCUS_STYLE)
    assert style["focusVisible"], style
    ring = style["outlineStyle"] != "none" and style["outlineWidth"] not in ("0px", "")
    assert ring or style["boxShadow"] != "none", f"no visible focus in {theme}: {style}"
    ratio = contrast(style["outlineColor"], style["background"])
    assert ratio >= 3, f"focus ring contrast {ratio:.2f} < 3 in {theme}: {style}"


@pytest.mark.parametrize("theme", ["JupyterLab Light", "JupyterLab Dark"])
def test_retry_a_failed_chunk_by_keyboard_alone(lab: bs.JupyterLab, page: Page, theme: str) -> None:
    slug = theme.split()[-1].lower()
    name = f"keyboard-{slug}.ipynb"
    bs.write_notebook(lab.root / name, NOTEBOOK)
    p = page.page
    bs.open_notebook(p, lab, name)
    set_theme(p, theme)
    bs.run_all_cells(p)

    widget = p.locator(".qjm-widget")
    widget.wait_for(timeout=40_000)
    grid = widget.locator(".qjm-grid")
    expect(grid).to_have_attribute("role", "listbox")
    try:
        wait_for(p, ALL_CELLS_IN, [CHUNKS, list(bs.FINAL_STATES)], "every chunk final", 60_000)
    except AssertionError:
        truth = bs.run_cell(p, "print([c.state.value for c in job_set.managed_jobs()])")
        raise AssertionError(f"not every chunk final; the kernel says {truth}") from None
    errored = widget.locator(".qjm-cell.qjm-s-error").evaluate_all(
        "cells => cells.map((cell) => Number(cell.dataset.index))"
    )
    assert errored == [FAILED], f"chunks in error: {errored}"
    bs.wait_for_kernel_idle(p)  # the kernel answers the view once no cell runs

    # Start on the control just before the grid, then keyboard only: one Tab into the grid.
    widget.locator(".qjm-retry-failed").focus()
    p.keyboard.press("Tab")
    assert p.evaluate(FOCUSED_CELL) == 0, "Tab did not land on the grid's first cell"
    stops = grid.locator('[tabindex="0"]')
    expect(stops).to_have_count(1)
    expect(widget.locator('.qjm-cell[data-index="0"]')).to_have_attribute(
        "aria-label", "chunk 0, done, experiment 0"
    )

    # Down by rows of the grid as it is laid out, then right to the failed chunk.
    columns = p.evaluate(COLUMNS)
    assert 1 <= columns <= CHUNKS, columns
    at = 0
    for _ in range(FAILED // columns):
        p.keyboard.press("ArrowDown")
        at += columns
        assert p.evaluate(FOCUSED_CELL) == at, f"ArrowDown: rows of {columns}"
    for _ in range(FAILED % columns):
        p.keyboard.press("ArrowRight")
        at += 1
        assert p.evaluate(FOCUSED_CELL) == at
    assert at == FAILED
    failed = widget.locator(f'.qjm-cell[data-index="{FAILED}"]')
    expect(failed).to_have_attribute("aria-label", f"chunk {FAILED}, error, experiment {FAILED}")
    expect(failed).to_have_attribute("tabindex", "0")
    assert_focus_visible(p, theme)
    screenshot(widget, f"keyboard-{slug}-focus.png")

    # Enter opens its details (the kernel's answer: state error, Retry enabled).
    p.keyboard.press("Enter")
    wait_for(p, DETAILS_ARE, [FAILED, "error", True], f"chunk {FAILED}'s details")
    assert p.evaluate(FOCUSED_CELL) == FAILED, "Enter moved the focus off the grid"
    expect(failed).to_have_attribute("aria-selected", "true")

    # Tab to its Retry button; Enter retries it, and the chunk ends done.
    retry = widget.locator(".qjm-retry-chunk")
    press_until(
        p,
        "Tab",
        "() => document.activeElement?.classList.contains('qjm-retry-chunk')",
        None,
        4,
        "the Retry button",
    )
    expect(retry).to_have_attribute("aria-label", f"Retry chunk {FAILED}")
    assert_focus_visible(p, theme)
    p.keyboard.press("Enter")
    wait_for(p, DETAILS_ARE, [FAILED, "done", False], f"chunk {FAILED} done", 60_000)
    wait_for(p, ALL_CELLS_IN, [CHUNKS, ["done"]], "every chunk done")
    expect(failed).to_have_attribute("aria-label", f"chunk {FAILED}, done, experiment {FAILED}")
    screenshot(widget, f"keyboard-{slug}-done.png")

    # The Retry button, disabled once the kernel took it, gave the focus back to the chunk's
    # cell (not to the page); Escape there clears the selection.
    assert p.evaluate(FOCUSED_CELL) == FAILED, "the focus was dropped with the Retry button"
    assert_focus_visible(p, theme)
    p.keyboard.press("Escape")
    expect(widget.locator(".qjm-details")).to_have_class(re.compile(r"\bqjm-empty\b"))
    expect(failed).to_have_attribute("aria-selected", "false")
    assert p.evaluate(FOCUSED_CELL) == FAILED

    truth = bs.run_cell_json(
        p,
        "import json\n"
        f"chunk = job_set.managed_jobs()[{FAILED}]\n"
        "print(json.dumps({'state': chunk.state.value, 'attempts': chunk.attempts,\n"
        "                  'done': job_set.done()}))",
    )
    assert truth == {"state": "done", "attempts": 2, "done": True}, truth
    assert not page.errors, page.errors
    assert not page.dialogs, page.dialogs
