"""Benchmark 5, start-up: ``import qdispatch; qdispatch.Provider().backends()`` vs ``import qiskit``.

Whole-process wall time of a fresh interpreter for each command, with every
bundled plugin installed, in interleaved rounds; the figure is the median of
the per-round ratios (target: at most 1.25). Aer, Dask and HTTP clients must
be imported only when a backend or executor that needs them is used, so the
benchmark also records which heavy modules the qdispatch command imported.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from typing import Any

from bench import common

NAME = "startup"
TITLE = "Start-up: import qdispatch + Provider().backends() vs import qiskit"
QDISPATCH = "import qdispatch; qdispatch.Provider().backends()"
QISKIT = "import qiskit"
HEAVY = ("qiskit_aer", "dask", "distributed", "httpx", "requests", "aqt_connector", "qiskit_aqt_provider")
"""Modules that must not be imported by the start-up command."""


def plan(args: Any) -> int:
    """Return the number of rounds for the chosen mode."""
    if args.tiny:
        return 2
    if args.quick:
        return 5
    return 31


def wall(code: str) -> float:
    """Return the wall time of ``python -c code`` in a fresh interpreter."""
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


def imported_heavy_modules() -> list[str]:
    """Return the heavy modules the qdispatch start-up command imports (should be none)."""
    probe = f"{QDISPATCH}; import sys, json; print(json.dumps(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", probe], check=True, capture_output=True, text=True).stdout
    modules = json.loads(out.strip().splitlines()[-1])
    return sorted({m.split(".")[0] for m in modules if m.split(".")[0] in HEAVY})


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark, print its table and write ``bench/results/startup.json``."""
    args = common.parser(__doc__ or "").parse_args(argv)
    load_before = common.load_average()
    rounds = args.rounds or plan(args)
    with common.isolated_config():
        wall(QISKIT)  # warm the file cache, untimed
        wall(QDISPATCH)
        common.progress(f"{NAME}: {rounds} rounds")
        times = common.interleave(
            rounds,
            {
                f"python -c '{QDISPATCH}'": lambda _r: wall(QDISPATCH),
                f"python -c '{QISKIT}'": lambda _r: wall(QISKIT),
            },
        )
        heavy = imported_heavy_modules()
    q, r = times.values()
    cases = [
        common.case(
            "whole-process wall time",
            params={"rounds": rounds},
            measures=times,
            ratio=common.ratios(list(q), list(r)),
            ratio_of="qdispatch / qiskit",
            target=("<=", 1.25),
            note=("heavy modules imported at start-up: " + (", ".join(heavy) if heavy else "none")),
        )
    ]
    data = common.result(
        NAME,
        TITLE,
        description=(
            "Fresh interpreters, every bundled plugin installed (qdispatch-aer, qdispatch-aqt, "
            "qdispatch-dask where present), an empty configuration file; whole-process wall time."
        ),
        quick=args.quick or args.tiny,
        parameters={"rounds": rounds, "qdispatch_command": QDISPATCH, "qiskit_command": QISKIT},
        cases=cases,
        load_before=load_before,
        extra={"heavy_modules_imported": heavy},
    )
    common.finish(data, args.results)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
