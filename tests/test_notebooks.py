"""Every notebook runs headless in a real kernel; the saved widget state shows the final result."""

from __future__ import annotations

import base64
import pathlib
from typing import Any

import nbformat
import pytest
from nbclient import NotebookClient

NOTEBOOKS = sorted((pathlib.Path(__file__).parent.parent / "notebooks").glob("*.ipynb"))

# Appended by the test only: an interactive user keeps the kernel free for the widget's buttons,
# a headless run waits for the end (without blocking the loop that writes the widget's traits).
# The job set's end is not the widget's: its last update goes out on the kernel's loop a moment
# later, and only what is sent before this cell ends is saved. So the cell goes on until every
# widget shows what the test reads back (each chunk's final state, the failed ones, the counts)
# as the job set holds it. The widget writes its traits and sends them in one callback of that
# loop, which this cell shares: whatever the cell sees of them here has been sent.
WAIT_FOR_THE_END = """
import asyncio as _asyncio
import gc as _gc
import time as _time

from qjm_widget.widget import FAILED_CODES as _FAILED, JobSetWidget as _Widget, chunk_code as _code

_sets = {v.job_set_id(): v for v in list(globals().values()) if type(v).__name__ == "ManagedJobSet"}
for _job_set in _sets.values():
    await _asyncio.to_thread(_job_set.wait, 300)


def _shown(widget):
    return (widget.finished_at > 0, widget.states[4:], widget.errors_total,
            widget.histogram.get("total"))


def _end(job_set):
    codes = bytes(_code(c) for c in job_set.managed_jobs())
    return True, codes, sum(c in _FAILED for c in codes), sum(job_set.merged_counts().values())


_widgets = [o for o in _gc.get_objects() if isinstance(o, _Widget) and o.comm is not None]
_deadline = _time.monotonic() + 30
while any(_shown(w) != _end(_sets[w.job_set_id]) for w in _widgets if w.job_set_id in _sets):
    if _time.monotonic() > _deadline:
        raise AssertionError([(_shown(w), _end(_sets[w.job_set_id])) for w in _widgets])
    await _asyncio.sleep(0.05)
"""


def widget_states(nb: Any) -> list[dict[str, Any]]:
    saved = nb.metadata.get("widgets", {}).get("application/vnd.jupyter.widget-state+json", {})
    models = saved.get("state", {}).values()
    return [m for m in models if "job_set_id" in m.get("state", {})]


def saved_bytes(model: dict[str, Any], name: str) -> bytes:
    """A Bytes trait of a saved model: widget state keeps them as base64 buffers beside it."""
    for buffer in model.get("buffers", []):
        if buffer["path"] == [name]:
            return base64.b64decode(buffer["data"])
    raise AssertionError(f"no saved buffer {name!r}: {model.get('buffers')}")


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_notebook_runs_and_saves_the_final_widget_state(path: pathlib.Path) -> None:
    nb = nbformat.read(path, as_version=4)
    nb.cells.append(nbformat.v4.new_code_cell(WAIT_FOR_THE_END))
    NotebookClient(
        nb,
        timeout=300,
        kernel_name="python3",
        store_widget_state=True,
        resources={"metadata": {"path": str(path.parent)}},
    ).execute()
    errors = [
        o for c in nb.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "error"
    ]
    assert not errors, errors
    models = widget_states(nb)
    assert models, "no job set widget was saved in the notebook"
    states = [m["state"] for m in models]
    for model, state in zip(models, states, strict=True):
        codes = saved_bytes(model, "states")[4:]
        assert len(codes) == state["num_chunks"]
        assert min(codes) >= 5, f"unfinished chunks in the saved state: {list(codes)}"
        assert state["finished_at"] > 0
        assert state["histogram"]["total"] > 0
    if path.name == "dashboard.ipynb":
        saved = nb.metadata["widgets"]["application/vnd.jupyter.widget-state+json"]["state"]
        tables = [m["state"] for m in saved.values() if "sort_keys" in m.get("state", {})]
        assert len(tables) == 1, "no dashboard was saved in the notebook"
        assert {"small", "tagged"} <= {row["name"] for row in tables[0]["rows"]}
    if path.name == "demo.ipynb":
        (state,) = states
        assert state["num_chunks"] == 40
        assert state["errors_total"] == 1, state["errors"]
        assert "injected fault" in state["errors"][0]["error"]
        assert state["histogram"]["total"] == 39 * 10 * 1000
