"""The dashboard: first page of 10,000 stored sets, and one row update in Chromium.

1. Listing (metadata only): 10,000 finished sets written to a fresh store as real records, then
   the time from ``DashboardWidget(manager)`` to its table's state holding the first page
   (target <= 0.5 s), by creation and by state (the aggregate order); 5 runs each, median.
2. One row update in the browser (target p95 <= 16 ms): the real bundle
   (qjm_widget/static/dashboard.js) in a page with a minimal host model of 50 rows; 300 updates
   of one changed row, each from the change event to the end of forced style and layout.
"""

from __future__ import annotations

import pathlib
import shutil
import statistics
import sys
import tempfile
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent / "tests"))

import comm
from comm_recorder import RecordingComm
from page_bench import p95, run_page, with_host_model
from test_dashboard import fill_store

from qjm_widget import JobManager
from qjm_widget.dashboard import DashboardWidget

STORED = 10_000
RUNS = 5
UPDATES = 300
LIST_TARGET = 0.5
UPDATE_TARGET = 16.0

PAGE = """<!doctype html><html><head><link rel="stylesheet" href="dashboard.css"></head>
<body><div id="host"></div><script type="module">
import dashboard from "./dashboard.js";
const row = (i, final) => ({ id: `${String(i).padStart(8, "0")}${"a".repeat(24)}`,
  name: `set ${i}`, backend: "aer_simulator", created: 1.7e9 - i, tags: ["bench"],
  state: final < 40 ? "running" : "done", final, chunks: 40, experiments: 400, usage: -1,
  where: "here", read_only: false, message: "" });
const values = { rows: Array.from({ length: 50 }, (_, i) => row(i, 0)),
  updates: { seq: 0, rows: [] }, total: 10000, page: 0, page_size: 50, sort: "created",
  descending: true, name_filter: "", tag_filter: "",
  sort_keys: ["created", "name", "backend", "experiments", "usage", "state"], opened: "",
  message: "" };
/* host model */
dashboard.render({ model, el });
window.runBenchmark = (updates) => {
  const times = [];
  for (let u = 0; u < updates; u++) {
    const changed = { seq: u + 1, rows: [row((u * 7) % 50, 1 + (u % 40))] };
    times.push(timed("change:updates", () => { values.updates = changed; }));
  }
  return times;
};
window.ready = true;
</script></body></html>"""


def listing() -> None:
    comm.create_comm = RecordingComm  # the widget's host: no kernel here
    folder = pathlib.Path(tempfile.mkdtemp(prefix="qjm-dashboard-bench-"))
    try:
        started = time.perf_counter()
        fill_store(folder / "store.sqlite3", STORED)
        print(
            f"dashboard listing: {STORED} stored sets written in "
            f"{time.perf_counter() - started:.1f} s"
        )
        manager = JobManager(store=folder / "store.sqlite3")
        for sort in ("created", "state"):
            times = []
            for _ in range(RUNS):
                started = time.perf_counter()
                dashboard = DashboardWidget(manager)
                if sort != "created":
                    dashboard._on_message(dashboard.table, {"type": "query", "sort": sort}, [])
                assert len(dashboard.table.rows) == 50
                assert dashboard.table.total == STORED
                times.append(time.perf_counter() - started)
                dashboard.close()
            median = statistics.median(times)
            print(
                f"  first page by {sort}: median {median * 1000:.0f} ms of {RUNS} "
                f"[{', '.join(f'{t * 1000:.0f}' for t in times)}], ratio to the "
                f"{LIST_TARGET} s target {median / LIST_TARGET:.2f} "
                f"{'OK' if median <= LIST_TARGET else 'MISSED'}"
            )
    finally:
        shutil.rmtree(folder)


def row_update() -> None:
    rows, times = run_page(
        ("dashboard.js", "dashboard.css"),
        with_host_model(PAGE),
        "tr.qjm-d-row",
        f"window.runBenchmark({UPDATES})",
        width=1400,
    )
    print(f"dashboard row update: {rows} rows, {UPDATES} updates of one row, Chromium")
    print(
        f"  median {statistics.median(times):.2f} ms, p95 {p95(times):.2f} ms, max "
        f"{times[-1]:.2f} ms, ratio to the {UPDATE_TARGET:.0f} ms target "
        f"{p95(times) / UPDATE_TARGET:.2f} {'OK' if p95(times) <= UPDATE_TARGET else 'MISSED'}"
    )


if __name__ == "__main__":
    listing()
    row_update()
