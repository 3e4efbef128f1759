"""Time for one update of the job set view in headless Chromium, at 5,000 and 20,000 chunks
(target: p95 <= 16 ms, one frame at 60 Hz), and its first render.

Loads the real bundle (qjm_widget/static/widget.js) into a page with a minimal host model,
renders the widget (timed: the first render, to the end of style and layout), then applies 300
deltas of 10 changed chunks each (about what one 10 Hz update carries), measuring each from the
change event to the end of the forced style and layout recalculation.

``measure(num_chunks)`` is the importable form (benchmarks/scale.py uses it)::

    from view_update import measure
    measure(20_000)["p95_ms"]
"""

from __future__ import annotations

import pathlib
import statistics
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from page_bench import evaluate_page, p95, with_host_model

SIZES = (5_000, 20_000)
UPDATES = 300
CHANGES = 10
TARGET_MS = 16.0

PAGE = """<!doctype html><html><head><link rel="stylesheet" href="widget.css"></head>
<body><div id="host"></div><script type="module">
import widget from "./widget.js";
const n = %(n)d;
function pack(seq, entries, width) {
  const view = new DataView(new ArrayBuffer(4 + width * entries.length));
  view.setUint32(0, seq, true);
  entries.forEach(([i, c], k) => { view.setUint32(4 + width * k, i, true);
    if (width === 5) view.setUint8(8 + width * k, c); });
  return view;
}
const states = new DataView(new ArrayBuffer(4 + n));
const bounds = new DataView(new ArrayBuffer(8 * n));
for (let i = 0; i < n; i++) { bounds.setUint32(8 * i, 10 * i, true);
  bounds.setUint32(8 * i + 4, 10 * i + 9, true); }
const values = { job_set_id: "bench", name: "bench", backend_name: "aer_simulator", tags: [],
  num_chunks: n, num_experiments: 10 * n, started_at: Date.now() / 1000, finished_at: 0,
  can_cancel: true, states, delta: pack(0, [], 5), bounds, errors: [], errors_total: 0,
  selected_detail: {}, histogram: { experiment: -1, bars: [["00000", 10]], other: 0, total: 10 } };
/* host model */
const start = performance.now();
widget.render({ model, el });
el.getBoundingClientRect(); document.body.offsetHeight;  // force style + layout
window.firstRenderMs = performance.now() - start;
window.runBenchmark = (updates, changes) => {
  const times = [];
  let seq = 0;
  for (let u = 0; u < updates; u++) {
    const entries = [];
    for (let k = 0; k < changes; k++) entries.push([(u * 37 + k * 499) %% n, 1 + ((u + k) %% 9)]);
    times.push(timed("change:delta", () => { values.delta = pack(++seq, entries, 5); }));
  }
  return times;
};
window.ready = true;
</script></body></html>"""

# Elements the grid draws: one per chunk, or one per block of chunks, whichever it chose.
GRID_ELEMENTS = """() =>
  document.querySelectorAll(".qjm-grid-wrap [data-index], .qjm-grid-wrap [data-block]").length"""


def measure(num_chunks: int, updates: int = UPDATES, changes: int = CHANGES) -> dict[str, float]:
    """One Chromium run of the view at ``num_chunks`` chunks: ``updates`` deltas of
    ``changes`` chunks each. Returns times in ms: ``p95_ms``, ``median_ms``, ``max_ms`` of one
    update, ``first_render_ms``; and ``grid_elements``, the cells (or blocks) drawn."""
    if isinstance(num_chunks, bool) or not isinstance(num_chunks, int) or num_chunks < 1:
        raise ValueError(f"num_chunks must be a positive int, got {num_chunks!r}")
    page = with_host_model(PAGE % {"n": num_chunks})
    first, elements, times = evaluate_page(
        ("widget.js", "widget.css"),
        page,
        ("window.firstRenderMs", GRID_ELEMENTS, f"window.runBenchmark({updates}, {changes})"),
        width=1200,
    )
    ordered = sorted(times)
    return {
        "p95_ms": p95(ordered),
        "median_ms": statistics.median(ordered),
        "max_ms": ordered[-1],
        "first_render_ms": float(first),
        "grid_elements": float(elements),
    }


def main() -> None:
    print(f"view update: {UPDATES} deltas of {CHANGES} changes each, headless Chromium")
    results = {n: measure(n) for n in SIZES}
    for n, r in results.items():
        verdict = "OK" if r["p95_ms"] <= TARGET_MS else "MISSED"
        print(
            f"  {n:>6} chunks ({r['grid_elements']:.0f} grid elements): median "
            f"{r['median_ms']:.2f} ms, p95 {r['p95_ms']:.2f} ms, max {r['max_ms']:.2f} ms "
            f"(target p95 <= {TARGET_MS:.0f} ms) {verdict}; first render "
            f"{r['first_render_ms']:.0f} ms"
        )
    small, large = (results[n] for n in SIZES)
    print(
        f"  {SIZES[1]:,} / {SIZES[0]:,} chunks: p95 x{large['p95_ms'] / small['p95_ms']:.2f}, "
        f"first render x{large['first_render_ms'] / small['first_render_ms']:.2f}"
    )


if __name__ == "__main__":
    main()
