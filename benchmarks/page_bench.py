"""What the view benchmarks share: a minimal anywidget host model in the page, a quiet local
server for the bundle, and one Chromium run of the page's ``window.runBenchmark``."""

from __future__ import annotations

import functools
import http.server
import pathlib
import shutil
import sys
import tempfile
import threading
from typing import Any

from playwright.sync_api import sync_playwright

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent / "tests"))
from browser_support import CHROMIUM, CHROMIUM_ARGS

ROOT = pathlib.Path(__file__).resolve().parent.parent

HOST_MODEL = """const listeners = new Map();
const model = {
  get: (k) => values[k], set: (k, v) => { values[k] = v; }, save_changes() {}, send() {},
  on(e, cb) { if (!listeners.has(e)) listeners.set(e, new Set()); listeners.get(e).add(cb); },
  off(e, cb) { if (!e) { listeners.clear(); return; } listeners.get(e)?.delete(cb); },
  widget_manager: {},
};
const el = document.getElementById("host");
function timed(event, apply) {
  apply();
  const start = performance.now();
  for (const cb of listeners.get(event) ?? []) cb();
  el.getBoundingClientRect(); document.body.offsetHeight;  // force style + layout
  return performance.now() - start;
}"""


def with_host_model(page_html: str) -> str:
    """``page_html`` with its ``/* host model */`` line replaced by the host model: ``model``
    over a ``values`` object the page declares before it, ``el`` (the #host div), and
    ``timed(event, apply)``, which applies a change, fires ``event`` and times it to the end of
    style and layout."""
    return page_html.replace("/* host model */", HOST_MODEL)


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


def run_page(
    bundle: tuple[str, ...], page_html: str, count: str, benchmark: str, width: int
) -> tuple[int, list[float]]:
    """Serve ``bundle`` (files of qjm_widget/static) with ``page_html``, then return how many
    elements match ``count`` and the sorted times (ms) the page's ``benchmark`` call gives."""
    found, times = evaluate_page(
        bundle, page_html, (f"() => document.querySelectorAll({count!r}).length", benchmark), width
    )
    return int(found), sorted(times)


def evaluate_page(
    bundle: tuple[str, ...], page_html: str, expressions: tuple[str, ...], width: int
) -> list[Any]:
    """Serve ``bundle`` (files of qjm_widget/static) with ``page_html`` in headless Chromium,
    wait for ``window.ready``, and return what each of ``expressions`` evaluates to, in order."""
    site = pathlib.Path(tempfile.mkdtemp(prefix="qjm-view-bench-"))
    for name in bundle:
        shutil.copy(ROOT / "qjm_widget" / "static" / name, site / name)
    (site / "index.html").write_text(page_html)
    handler = functools.partial(QuietHandler, directory=str(site))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
            try:
                page = browser.new_page(viewport={"width": width, "height": 900})
                page.goto(f"http://127.0.0.1:{server.server_address[1]}/index.html")
                page.wait_for_function("window.ready === true", timeout=120_000)
                return [page.evaluate(expression) for expression in expressions]
            finally:
                browser.close()
    finally:
        server.shutdown()
        server.server_close()
        shutil.rmtree(site)


def p95(times: list[float]) -> float:
    """The 95th percentile of sorted ``times``."""
    return times[int(0.95 * len(times)) - 1]
