"""Fixtures of the qiskit 1.4 suite (``make test-qiskit1``, its own venv): basis-state circuits,
a manager with its own store, and the stand-in of the API that qiskit-ibm-provider 0.11 uses.

tests/conftest.py is not loaded here (``--confcutdir``): it needs qiskit 2.x and
qiskit-ibm-runtime. tests/ibm_standin goes on sys.path so that ``provider_api`` is imported
without its package's ``__init__`` (which imports qiskit-ibm-runtime).
"""

from __future__ import annotations

import os
import pathlib
import sys
import tempfile
import warnings
from collections.abc import Iterator
from typing import Any

import pytest

from qjm_widget import JobManager, ManagedJobSet
from qjm_widget.backends import backend_v2
from qjm_widget.store import STORE_ENV_VAR

TESTS = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(TESTS / "ibm_standin"))
sys.path.insert(0, str(TESTS))  # support.py, comm_recorder.py: qiskit-version-agnostic helpers

from support import (  # noqa: E402  (re-exported to the tests of this suite)
    NUM_QUBITS,
    basis_circuit,
    basis_circuits,
    expected_key,
    qjm_threads,
    wait_until,
)

__all__ = [
    "NUM_QUBITS",
    "assert_exact",
    "basis_circuit",
    "basis_circuits",
    "expected_key",
    "qjm_threads",
    "wait_until",
]

# Tests never write to the user's own store.
os.environ[STORE_ENV_VAR] = os.path.join(tempfile.mkdtemp(prefix="qjm-q1-store-"), "s.sqlite3")


# Our own deprecation warnings fail the suite, as in the main one; other libraries' are noise.
def pytest_configure(config: pytest.Config) -> None:
    for line in (
        "ignore::DeprecationWarning",
        "error::DeprecationWarning:qjm_widget",
    ):
        config.addinivalue_line("filterwarnings", line)


def assert_exact(job_set: ManagedJobSet, num: int, shots: int) -> None:
    """Every experiment read its basis state on every shot, counted once."""
    merged = job_set.counts()
    expected = [{expected_key(i): shots} for i in range(num)]
    assert merged.per_experiment == expected, job_set.report()
    assert sum(merged.aggregate.values()) == num * shots, job_set.report()


@pytest.fixture(autouse=True)
def no_threads_left() -> Iterator[None]:
    """Every test leaves no qjm thread behind once its sets are final."""
    yield
    assert wait_until(lambda: not qjm_threads(), timeout=5), f"threads left: {qjm_threads()}"


@pytest.fixture
def manager(tmp_path: pathlib.Path) -> Iterator[JobManager]:
    job_manager = JobManager(store=tmp_path / "s.sqlite3")
    yield job_manager
    for job_set in job_manager.job_sets():
        job_set.cancel()
        job_set.wait(timeout=60)


@pytest.fixture
def api(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """The stand-in API (a ProviderStandIn), polled every 20-200 ms instead of 1-10 s."""
    from provider_api import ProviderStandIn  # imports qiskit-ibm-provider: only when used

    monkeypatch.setattr(backend_v2, "REMOTE_POLL_INTERVAL", (0.02, 0.2))
    with ProviderStandIn() as stand_in:
        yield stand_in


@pytest.fixture
def provider(api: Any) -> Any:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # the package's own deprecation
        return api.provider()


@pytest.fixture
def backend(provider: Any) -> Any:
    return provider.get_backend("fake_manila")
