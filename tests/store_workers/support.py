"""Helpers of tests/test_store.py: worker subprocesses, and read-only looks at a store file."""

from __future__ import annotations

import json
import os
import pathlib
import queue
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from typing import IO, Any

from qiskit import QuantumCircuit, qpy

HERE = pathlib.Path(__file__).parent


def write_circuits(path: pathlib.Path, circuits: Sequence[QuantumCircuit]) -> pathlib.Path:
    """The circuits as QPY, for a worker to load: they are built once, by conftest."""
    with open(path, "wb") as file:
        qpy.dump(list(circuits), file)
    return path


class Worker:
    """A script of this folder run by this interpreter; its stdout is read line by line."""

    def __init__(self, script: str, *args: Any, log: pathlib.Path) -> None:
        self.log = log
        self._stderr: IO[bytes] = open(log, "wb")  # noqa: SIM115 (closed by kill/finish)
        self.proc = subprocess.Popen(
            [sys.executable, str(HERE / script), *map(str, args)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            text=True,
        )
        self._lines: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self._lines.put(line.rstrip("\n"))
        self._lines.put(None)

    @property
    def pid(self) -> int:
        return self.proc.pid

    def line(self, timeout: float = 60.0) -> str:
        try:
            line = self._lines.get(timeout=timeout)
        except queue.Empty:
            raise AssertionError(f"no output in {timeout} s; stderr:\n{self.stderr()}") from None
        if line is None:
            raise AssertionError(f"the worker ended (rc {self.proc.wait()}):\n{self.stderr()}")
        return line

    def send(self, text: str) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(text + "\n")
        self.proc.stdin.flush()

    def finish(self, timeout: float = 60.0) -> int:
        """Close stdin (the worker's signal to exit) and return its exit code."""
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        code = self.proc.wait(timeout)
        self._stderr.close()
        return code

    def kill(self) -> None:
        """SIGKILL, then reap: no atexit, no finally, no flush runs in the worker."""
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait(30)
        for stream in (self.proc.stdin, self._stderr):
            if stream is not None:
                stream.close()

    def stderr(self) -> str:
        return self.log.read_text(errors="replace")[-4000:]


def rows(path: pathlib.Path, sql: str, *params: Any) -> list[tuple[Any, ...]]:
    """Rows of ``sql`` from the store file, opened read-only (this never writes to it)."""
    db = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, timeout=30)
    try:
        return db.execute(sql, params).fetchall()
    finally:
        db.close()


def chunk_states(path: pathlib.Path, job_set_id: str) -> list[str]:
    """Each chunk's stored state, by index; [] while the file or its rows are not there yet."""
    try:
        found = rows(path, "SELECT state FROM chunks WHERE job_set_id=? ORDER BY idx", job_set_id)
    except sqlite3.Error:
        return []
    return [state for (state,) in found]


def stored_finished(path: pathlib.Path, job_set_id: str) -> bool:
    """Every chunk of the set is stored done with its results, and the set's finished_at."""
    try:
        (left,) = rows(
            path,
            "SELECT count(*) FROM chunks WHERE job_set_id=? AND (state!='done' OR results IS NULL)",
            job_set_id,
        )
        finished = rows(path, "SELECT finished_at FROM job_sets WHERE id=?", job_set_id)
    except sqlite3.Error:
        return False
    return left == (0,) and bool(finished) and finished[0][0] is not None


def wait_for(condition: Callable[[], bool], what: str, timeout: float = 60.0) -> None:
    """Poll ``condition`` every 20 ms; AssertionError naming ``what`` after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.02)


def standin_json(api: Any) -> str:
    """What a worker needs to build its own client of the test's stand-in (standin_service.py)."""
    return json.dumps(
        {"url": api.url, "api_url": api.api_url, "instance": api.instance, "api_key": api.api_key}
    )
