"""The widget of a set on a Dask cluster, in a real JupyterLab in headless Chromium: the backend
as "aer_simulator on Dask (2 workers)", the cluster's dashboard linked in the header (text, opened
in a new tab), and each chunk's worker in its details. The kernel runs a LocalCluster of two
worker processes."""

from __future__ import annotations

import re

import browser_support as bs
import pytest
from browser_support import Page, browser, lab, page  # noqa: F401 - the module's fixtures
from playwright.sync_api import expect

pytestmark = [pytest.mark.browser, pytest.mark.timeout(240)]

NOTEBOOK = """\
from distributed import Client, LocalCluster
from qiskit import QuantumCircuit
from qiskit_aer import AerSimulator

from qjm_widget import JobManager

cluster = LocalCluster(
    n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
    dashboard_address="127.0.0.1:0",
)
client = Client(cluster)
circuits = []
for i in range(4):
    circuit = QuantumCircuit(2, 2, name=f"basis_{i}")
    for qubit in range(2):
        if i >> qubit & 1:
            circuit.x(qubit)
    circuit.measure(range(2), range(2))
    circuits.append(circuit)
job_set = JobManager(store=None).run(
    circuits, AerSimulator(), executor=client, name="on dask", max_experiments_per_job=1,
    shots=100,
)
job_set"""


def test_the_widget_of_a_dask_set_links_the_dashboard_and_names_each_chunks_worker(
    lab: bs.JupyterLab, page: Page
) -> None:
    bs.write_notebook(lab.root / "dask.ipynb", NOTEBOOK)
    bs.open_notebook(page.page, lab, "dask.ipynb")
    bs.run_all_cells(page.page)
    widget = page.page.locator(".qjm-widget")
    widget.wait_for(timeout=120_000)
    expect(widget.locator(".qjm-cell.qjm-s-done")).to_have_count(4, timeout=120_000)
    bs.wait_for_kernel_idle(page.page, 60_000)
    try:
        facts = bs.run_cell_json(
            page.page,
            "import json\n"
            "print(json.dumps({'link': client.dashboard_link, 'workers': list(client.nthreads()),"
            " 'counts': [job_set.results().get_counts(i) for i in range(4)]}))",
        )
        assert facts["counts"] == [{format(i, "02b"): 100} for i in range(4)]
        expect(widget.locator(".qjm-backend")).to_have_text("on aer_simulator on Dask (2 workers)")
        link = widget.locator(".qjm-dashboard-link")
        expect(link).to_be_visible()
        expect(link).to_have_text("Dask dashboard")
        expect(link).to_have_attribute("href", facts["link"])
        expect(link).to_have_attribute("target", "_blank")
        expect(link).to_have_attribute("rel", "noopener")
        widget.locator('.qjm-cell[data-index="2"]').click()
        worker = widget.locator(".qjm-detail-worker")
        expect(worker).to_have_text(re.compile(r"^tcp://127\.0\.0\.1:\d+$"), timeout=20_000)
        assert worker.text_content() in facts["workers"]
        bs.ARTIFACTS.mkdir(parents=True, exist_ok=True)
        widget.screenshot(path=str(bs.ARTIFACTS / "dask-widget.png"))
        with page.page.context.expect_page(timeout=30_000) as opened:
            link.click()
        dashboard = opened.value
        dashboard.wait_for_load_state("domcontentloaded", timeout=60_000)
        assert dashboard.url.startswith(facts["link"].rsplit("/", 1)[0]), dashboard.url
        dashboard.close()
    finally:
        bs.run_cell(page.page, "client.close()\ncluster.close()\nprint('closed')", 60_000)
