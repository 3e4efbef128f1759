"""Helpers of the browser tests: a throwaway JupyterLab server, headless Chromium, and a few
steps every test takes in the notebook (open it, wait for the kernel, run code, read output).

Nothing here is a fixture: tests/test_browser.py wraps these context managers in fixtures.
JupyterLab runs with ``window.jupyterapp`` exposed, so a test drives it through the app's own
commands and models instead of keyboard shortcuts, which change between releases.
"""

from __future__ import annotations

import contextlib
import json
import os
import pathlib
import re
import secrets
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import psutil
import pytest

REPO = pathlib.Path(__file__).resolve().parent.parent
CHROMIUM = pathlib.Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
BUNDLE = REPO / "qjm_widget" / "static" / "widget.js"
FRONT_END_SOURCES = [
    p for p in [*REPO.glob("js/*.ts"), *REPO.glob("js/*.css")] if ".test." not in p.name
]

# Every state the view may paint a cell with, and the final ones (see js/model.ts).
FINAL_STATES = ("done", "error", "failed", "cancelled", "lost", "partial")


def bundle_problem() -> str | None:
    """Why the built front end cannot be tested as the sources stand, or None when it can."""
    if not BUNDLE.exists():
        return f"{BUNDLE} is missing: run `npm run build` (or `make install`)"
    built = BUNDLE.stat().st_mtime
    stale = [p.name for p in FRONT_END_SOURCES if p.stat().st_mtime > built]
    if stale:
        return f"{BUNDLE} is older than {', '.join(sorted(stale))}: run `npm run build`"
    return None


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass(frozen=True)
class JupyterLab:
    """A running server: where it is, how to get in, and the directory it serves."""

    base_url: str
    token: str
    root: pathlib.Path
    process: subprocess.Popen[bytes]
    log: pathlib.Path

    def url(self, path: str) -> str:
        separator = "&" if "?" in path else "?"
        return f"{self.base_url}{path}{separator}token={self.token}"

    def api(self, path: str, method: str = "GET") -> Any:
        request = urllib.request.Request(
            f"{self.base_url}{path}",
            method=method,
            headers={"Authorization": f"token {self.token}"},
        )
        with urllib.request.urlopen(request, timeout=5) as response:
            body = response.read()
        return json.loads(body) if body else None

    def shut_down_kernels(self) -> None:
        """End every notebook session and its kernel, so the next test starts from nothing."""
        for session in self.api("/api/sessions"):
            self.api(f"/api/sessions/{session['id']}", method="DELETE")

    def log_tail(self, lines: int = 40) -> str:
        text = self.log.read_text(errors="replace") if self.log.exists() else ""
        return "\n".join(text.splitlines()[-lines:])


@contextlib.contextmanager
def jupyter_lab(workdir: pathlib.Path, startup_timeout: float = 60.0) -> Iterator[JupyterLab]:
    """Start ``jupyter lab`` of this venv on 127.0.0.1 serving ``workdir/root``, with its
    config, runtime, data and IPython directories in ``workdir`` too; stop it (and every
    process it started) by PID on the way out.

    The kernel is this venv's: the default ``python3`` spec of ``sys.prefix``, which jupyter
    starts with the server's own interpreter.
    """
    root = workdir / "root"
    root.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ)
    for name in ("JUPYTER_CONFIG_DIR", "JUPYTER_RUNTIME_DIR", "JUPYTER_DATA_DIR", "IPYTHONDIR"):
        path = workdir / name.lower()
        path.mkdir(exist_ok=True)
        env[name] = str(path)
    # Kernel specs found in sys.prefix (the venv), never ~/.local/share/jupyter or a stale
    # JUPYTER_PATH of the caller's shell.
    env.pop("JUPYTER_PATH", None)
    env["JUPYTER_PLATFORM_DIRS"] = "1"
    # No "get notified about Jupyter news?" toast: it can sit over the widget's buttons.
    settings = workdir / "jupyter_config_dir/lab/user-settings/@jupyterlab/apputils-extension"
    settings.mkdir(parents=True, exist_ok=True)
    (settings / "notification.jupyterlab-settings").write_text(
        json.dumps({"fetchNews": "false", "checkForUpdates": False})
    )
    env["PYTHONUNBUFFERED"] = "1"
    port = free_port()
    token = secrets.token_hex(16)
    log = workdir / "jupyter.log"
    command = [
        sys.executable,
        "-m",
        "jupyter",
        "lab",
        "--no-browser",
        "--allow-root",
        "--ip=127.0.0.1",
        f"--port={port}",
        "--ServerApp.port_retries=0",
        f"--IdentityProvider.token={token}",
        f"--ServerApp.root_dir={root}",
        "--LabApp.expose_app_in_browser=True",
        # No calls to the internet from the server or the page.
        "--LabApp.news_url=None",
        "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
    ]
    with log.open("wb") as log_file:
        process = subprocess.Popen(
            command, cwd=root, env=env, stdout=log_file, stderr=subprocess.STDOUT
        )
    lab = JupyterLab(f"http://127.0.0.1:{port}", token, root, process, log)
    try:
        _wait_until_up(lab, startup_timeout)
        yield lab
    finally:
        stop_process_tree(process)


def _wait_until_up(lab: JupyterLab, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while True:
        if lab.process.poll() is not None:
            raise RuntimeError(
                f"jupyter lab exited with {lab.process.returncode}:\n{lab.log_tail()}"
            )
        try:
            lab.api("/api/status")
            return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"jupyter lab did not answer in {timeout} s:\n{lab.log_tail()}")
        time.sleep(0.1)


def stop_process_tree(process: subprocess.Popen[bytes], timeout: float = 10.0) -> None:
    """Terminate a process and everything it started (kernels run in sessions of their own,
    so a process group would miss them): SIGTERM, then SIGKILL whatever is left."""
    try:
        children = psutil.Process(process.pid).children(recursive=True)
    except psutil.NoSuchProcess:
        children = []
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=timeout)
    # The server shuts its kernels down on SIGTERM; anything still alive is ended by PID.
    _, alive = psutil.wait_procs(children, timeout=timeout)
    for child in alive:
        with contextlib.suppress(psutil.NoSuchProcess):
            child.kill()
    psutil.wait_procs(alive, timeout=timeout)


@contextlib.contextmanager
def chromium(user_data_dir: pathlib.Path) -> Iterator[Any]:
    """A headless Debian Chromium with a fresh profile (a persistent BrowserContext)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(user_data_dir),
            executable_path=str(CHROMIUM),
            headless=True,
            args=CHROMIUM_ARGS,
            viewport={"width": 1400, "height": 1000},
        )
        try:
            yield context
        finally:
            context.close()


def write_notebook(path: pathlib.Path, *sources: str) -> None:
    """A notebook of code cells for this venv's ``python3`` kernel."""
    import nbformat

    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    nb.cells = [nbformat.v4.new_code_cell(source) for source in sources]
    nbformat.write(nb, path)


# -- steps in a notebook ----------------------------------------------------------------------

KERNEL_IDLE = """(path) => {
  const panel = window.jupyterapp?.shell?.currentWidget;
  const kernel = panel?.sessionContext?.session?.kernel;
  return Boolean((path === null || panel?.context?.path === path)
    && panel?.content?.widgets?.length && kernel && kernel.status === "idle"
    && kernel.connectionStatus === "connected");
}"""


def open_notebook(page: Any, lab: JupyterLab, name: str, timeout_ms: float = 45_000) -> None:
    """Open ``name`` (relative to the server's root) and wait until its kernel is idle."""
    page.goto(lab.url(f"/lab/tree/{name}"), wait_until="domcontentloaded")
    page.wait_for_function("() => Boolean(window.jupyterapp?.shell)", timeout=timeout_ms)
    wait_for_kernel_idle(page, timeout_ms, path=name)


def wait_for_kernel_idle(page: Any, timeout_ms: float = 30_000, path: str | None = None) -> None:
    """Wait until the current notebook (``path``, if given) has a connected, idle kernel."""
    page.wait_for_function(KERNEL_IDLE, arg=path, timeout=timeout_ms, polling=100)


def run_all_cells(page: Any) -> None:
    """Start every cell of the current notebook (returns at once; the cells run on)."""
    page.evaluate(
        """() => { void window.jupyterapp.commands.execute("notebook:run-all-cells"); }"""
    )


def run_cell(page: Any, code: str, timeout_ms: float = 30_000) -> str:
    """Append a code cell to the current notebook, run it, and return the text of its output
    as the page shows it (the output area of that cell in the DOM)."""
    marker = f"qjm-{secrets.token_hex(4)}"
    page.evaluate(
        """async ([code, marker]) => {
          const app = window.jupyterapp;
          const notebook = app.shell.currentWidget.content;
          notebook.activeCellIndex = notebook.widgets.length - 1;
          await app.commands.execute("notebook:insert-cell-below");
          const cell = notebook.activeCell;
          cell.node.setAttribute("data-qjm-test", marker);
          cell.model.sharedModel.setSource(code);
          await app.commands.execute("notebook:run-cell");
        }""",
        [code, marker],
    )
    output = page.locator(f'[data-qjm-test="{marker}"] .jp-OutputArea-output')
    output.first.wait_for(state="attached", timeout=timeout_ms)
    wait_for_kernel_idle(page, timeout_ms)
    return "\n".join(output.all_text_contents())


def run_cell_json(page: Any, code: str, timeout_ms: float = 30_000) -> Any:
    """Run ``code``, whose last line must print one JSON value, and return that value."""
    text = run_cell(page, code, timeout_ms)
    try:
        return json.loads(text.strip().splitlines()[-1])
    except (json.JSONDecodeError, IndexError) as exc:
        raise AssertionError(f"the cell did not print JSON: {text!r}") from exc


# The module-scoped fixtures of the browser test modules: one JupyterLab server and one browser
# per module (each module imports them).
@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[JupyterLab]:
    problem = bundle_problem()
    if problem:
        pytest.fail(problem)
    with jupyter_lab(tmp_path_factory.mktemp("jupyter")) as server:
        yield server


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: apt-get install -y chromium (make test does)")
    with chromium(tmp_path_factory.mktemp("chromium-profile")) as context:
        yield context


ARTIFACTS = REPO / "artifacts" / "browser"
"""Screenshots and server logs of failed browser tests."""


class Page:
    """A browser page and what it saw: native dialogs (dismissed), uncaught errors, requests."""

    def __init__(self, page: Any) -> None:
        self.page = page
        self.dialogs: list[str] = []
        self.errors: list[str] = []
        self.requests: list[str] = []
        self.console: list[tuple[str, str]] = []
        page.on("dialog", self._on_dialog)
        page.on("console", lambda message: self.console.append((message.type, message.text)))
        page.on("pageerror", lambda error: self.errors.append(str(error)))
        page.on("request", lambda request: self.requests.append(request.url))

    def _on_dialog(self, dialog: Any) -> None:
        self.dialogs.append(f"{dialog.type}: {dialog.message}")
        dialog.dismiss()


@pytest.fixture
def page(browser: Any, lab: JupyterLab, request: pytest.FixtureRequest) -> Iterator[Page]:
    failed_before = request.session.testsfailed
    watched = Page(browser.new_page())
    yield watched
    if request.session.testsfailed > failed_before:
        # The call phase failed: keep what the page looked like, and the server's log.
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        name = re.sub(r"\W+", "_", request.node.name)
        (ARTIFACTS / f"{name}-jupyter.log").write_text(lab.log_tail(400))
        with contextlib.suppress(Exception):  # a crashed page has no picture to give
            watched.page.screenshot(path=str(ARTIFACTS / f"{name}-failed.png"))
    watched.page.close()
    lab.shut_down_kernels()
