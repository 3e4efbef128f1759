"""Time for one update of a 5,000-chunk view in headless Chromium (target: p95 <= 16 ms).

Loads the real bundle (qjm_widget/static/widget.js) into a page with a minimal host model, then
applies 300 deltas of 10 changed chunks each (about what one 10 Hz update carries), measuring
each from the change event to the end of the forced style and layout recalculation.
"""

from __future__ import annotations

import functools
import http.server
import pathlib
import shutil
import statistics
import sys
import tempfile
import threading

from playwright.sync_api import sync_playwright

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent / "tests"))
from browser_support import CHROMIUM, CHROMIUM_ARGS

ROOT = pathlib.Path(__file__).resolve().parent.parent
NUM_CHUNKS = 5000
UPDATES = 300
CHANGES = 10

PAGE = """<!doctype html><html><head><link rel="stylesheet" href="widget.css"></head>
<body><div id="host"></div><script type="module">
import widget from "./widget.js";
const n = %(n)d;
const listeners = new Map();
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
const model = {
  get: (k) => values[k], set: (k, v) => { values[k] = v; }, save_changes() {}, send() {},
  on(e, cb) { if (!listeners.has(e)) listeners.set(e, new Set()); listeners.get(e).add(cb); },
  off(e, cb) { if (!e) { listeners.clear(); return; } listeners.get(e)?.delete(cb); },
  widget_manager: {},
};
const el = document.getElementById("host");
widget.render({ model, el });
window.runBenchmark = (updates, changes) => {
  const times = [];
  let seq = 0;
  for (let u = 0; u < updates; u++) {
    const entries = [];
    for (let k = 0; k < changes; k++) entries.push([(u * 37 + k * 499) %% n, 1 + ((u + k) %% 9)]);
    values.delta = pack(++seq, entries, 5);
    const start = performance.now();
    for (const cb of listeners.get("change:delta") ?? []) cb();
    el.getBoundingClientRect(); document.body.offsetHeight;  // force style + layout
    times.push(performance.now() - start);
  }
  return times;
};
window.ready = true;
</script></body></html>"""


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


def main() -> None:
    site = pathlib.Path(tempfile.mkdtemp(prefix="qjm-view-bench-"))
    for name in ("widget.js", "widget.css"):
        shutil.copy(ROOT / "qjm_widget" / "static" / name, site / name)
    (site / "index.html").write_text(PAGE % {"n": NUM_CHUNKS})
    handler = functools.partial(QuietHandler, directory=str(site))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": 1200, "height": 900})
            page.goto(f"http://127.0.0.1:{server.server_address[1]}/index.html")
            page.wait_for_function("window.ready === true")
            cells = page.locator(".qjm-cell").count()
            times = sorted(page.evaluate(f"window.runBenchmark({UPDATES}, {CHANGES})"))
            browser.close()
    finally:
        server.shutdown()
        shutil.rmtree(site)
    p95 = times[int(0.95 * len(times)) - 1]
    print(f"view update: {cells} chunk cells, {UPDATES} deltas of {CHANGES} changes, Chromium")
    print(
        f"  median {statistics.median(times):.2f} ms, p95 {p95:.2f} ms, max {times[-1]:.2f} ms "
        f"(target p95 <= 16 ms) {'OK' if p95 <= 16 else 'MISSED'}"
    )


if __name__ == "__main__":
    main()
