"""``python -m bench``: run every benchmark, then regenerate ``docs/performance.md``.

Each benchmark runs in its own interpreter (``python -m bench.<name>``), so
one cannot warm or disturb another; a benchmark that fails is reported and
the others still run. Options:

- ``--quick``: small sizes and few rounds (a smoke run);
- ``--tiny``: the smallest sizes (what the test suite runs);
- ``--no-peer``: skip the peer's venv (qiskit-aqt-provider) and its figures;
- ``--only a,b``: run only these benchmarks;
- ``--results DIR`` / ``--docs FILE``: write elsewhere (the smoke test does);
- ``--report-only``: only regenerate the page from the JSON already there.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

from bench import common, report

BENCHMARKS = ("batch_overhead", "small_jobs", "many_tasks", "parallel_speedup", "persistence", "startup")
"""The benchmarks this entry point runs, in order.

``aqt_polling`` and ``dask_speedup`` are run by their owners.
"""


def main(argv: list[str] | None = None) -> int:
    """Run the chosen benchmarks and regenerate the page; return non-zero if one failed."""
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--tiny", action="store_true")
    parser.add_argument("--no-peer", action="store_true")
    parser.add_argument("--only", default=None, help="comma-separated benchmark names")
    parser.add_argument("--results", type=Path, default=None)
    parser.add_argument("--docs", type=Path, default=None)
    parser.add_argument("--report-only", action="store_true")
    args = parser.parse_args(argv)
    chosen = BENCHMARKS if args.only is None else tuple(n.strip() for n in args.only.split(",") if n.strip())
    unknown = sorted(set(chosen) - set(BENCHMARKS))
    if unknown:
        parser.error(f"unknown benchmark {', '.join(unknown)}; choose from {', '.join(BENCHMARKS)}")
    flags = [
        f for f, on in (("--quick", args.quick), ("--tiny", args.tiny), ("--no-peer", args.no_peer)) if on
    ]
    if args.results is not None:
        flags += ["--results", str(args.results)]
    failed = []
    if not args.report_only:
        for name in chosen:
            common.progress(f"running bench.{name} {' '.join(flags)}".rstrip())
            start = time.perf_counter()
            done = subprocess.run([sys.executable, "-m", f"bench.{name}", *flags], cwd=common.REPO)
            common.progress(
                f"bench.{name} finished in {time.perf_counter() - start:.0f} s (exit {done.returncode})"
            )
            if done.returncode != 0:
                failed.append(name)
    page = report.write(args.results, args.docs)
    try:
        shown = page.resolve().relative_to(common.REPO)
    except ValueError:
        shown = page
    print(f"regenerated {shown}")
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
