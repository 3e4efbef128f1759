"""The ``qjm`` command line with every decode of stored circuits counted, for
tests/test_big_sets.py.

Usage: ``python qjm_counting_decodes.py --store STORE ARGS...``: runs ``qjm --store STORE
ARGS...`` in this process (its output on stdout, its exit code), then writes ``decodes N`` (QPY
decodes during the command) to stderr, and ``decodes after reading a circuit M`` once it has read
one circuit of the newest stored set itself: the proof that the counter sees decodes at all.
"""

from __future__ import annotations

import sys
from typing import Any

from qjm_widget import cli
from qjm_widget import store as store_module

decodes: list[str] = []
real = store_module.circuits_from_qpy


def counting(data: bytes, where: str) -> Any:
    decodes.append(where)
    return real(data, where)


def main() -> int:
    store_module.circuits_from_qpy = counting  # type: ignore[assignment]
    code = cli.main(sys.argv[1:])
    sys.stdout.flush()
    print(f"decodes {len(decodes)}", file=sys.stderr)
    store = store_module.Store(sys.argv[2])
    newest = store.headers(limit=1)[0].job_set_id
    loaded = store.load(newest)
    assert loaded is not None
    loaded.experiments[0].circuit  # noqa: B018
    print(f"decodes after reading a circuit {len(decodes)}", file=sys.stderr)
    return code


if __name__ == "__main__":
    raise SystemExit(main())
