"""Benchmark 2, many small jobs: M one-circuit jobs through qdispatch vs M raw ``AerJob``s.

qdispatch: M calls of ``backend.run(circuit, shots=100)`` on the thread
executor, all submitted, then every ``result()`` awaited. Raw: the same with
``AerSimulator.run(circuit, shots=100)`` (each an ``AerJob``). Interleaved
rounds; the figure is the median of the per-round ratios qdispatch / raw
(target: at most 1.05 for M = 1,000).

Supplementary, on Linux: the wall time over the CPU time of Aer's own job
thread (the one thread that simulates, in both variants). It says how much of
the run that thread stood waiting (for the GIL, or for its next job), and it
hardly moves when the shared machine speeds up or slows down, as wall time does.
"""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path
from typing import Any

from bench import common

NAME = "small_jobs"
TITLE = "Many small jobs: M one-circuit jobs, qdispatch vs raw AerJobs"
SHOTS = 100
SEED = 22


def plan(args: Any) -> tuple[int, int]:
    """Return ``(M, rounds)`` for the chosen mode."""
    if args.tiny:
        return 20, 2
    if args.quick:
        return 1000, 3
    return 1000, 25


def aer_thread_cpu() -> Any:
    """Return a function giving the CPU seconds used so far by Aer's job thread, or ``None``.

    Aer runs every job on its own ``ThreadPoolExecutor`` thread (default
    name ``ThreadPoolExecutor-...``; qdispatch names its threads ``qdispatch...``).
    Its CPU time is read from ``/proc``, so this works on Linux only.
    """
    tick = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 0
    found = [t for t in threading.enumerate() if t.name.startswith("ThreadPoolExecutor-")]
    if len(found) != 1 or not tick or found[0].native_id is None:
        return None
    stat = Path(f"/proc/self/task/{found[0].native_id}/stat")
    if not stat.exists():
        return None

    def read() -> float:
        fields = stat.read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / tick  # utime + stime

    return read


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark, print its table and write ``bench/results/small_jobs.json``."""
    args = common.parser(__doc__ or "").parse_args(argv)
    load_before = common.load_average()
    count, rounds = plan(args)
    rounds = args.rounds or rounds
    with common.isolated_config() as workdir:
        from qiskit_aer import AerSimulator

        from bench.circuits import small_circuits
        from qdispatch import Provider

        provider = Provider(
            executor="thread", store="sqlite", store_options={"path": str(Path(workdir) / "jobs.sqlite")}
        )
        backend = provider.get_backend("aer")
        simulator = AerSimulator()
        circuits = small_circuits(count, backend.target, seed=SEED)
        common.progress(f"{NAME}: M={count}, {rounds} rounds")
        cpu: dict[str, list[float]] = {"qdispatch": [], "raw": []}
        busy: dict[str, list[float]] = {"qdispatch": [], "raw": []}
        aer_cpu: Any = None

        def measure(name: str, submit: Any) -> float:
            start, start_cpu = time.perf_counter(), time.process_time()
            start_aer = aer_cpu() if aer_cpu is not None else 0.0
            jobs = [submit(c, shots=SHOTS, seed_simulator=SEED) for c in circuits]
            results = [job.result() for job in jobs]
            elapsed = time.perf_counter() - start
            cpu[name].append(time.process_time() - start_cpu)
            if aer_cpu is not None:
                busy[name].append(elapsed / max(aer_cpu() - start_aer, 1e-9))
            assert all(r.success for r in results)
            return elapsed

        def run_qdispatch(_r: int) -> float:
            return measure("qdispatch", backend.run)

        def run_raw(_r: int) -> float:
            return measure("raw", simulator.run)

        run_qdispatch(-1)  # warm-up, untimed
        run_raw(-1)
        aer_cpu = aer_thread_cpu()  # Aer's job thread exists now
        for values in (*cpu.values(), *busy.values()):
            values.clear()
        times = common.interleave(
            rounds, {"qdispatch (thread executor)": run_qdispatch, "raw AerSimulator.run": run_raw}
        )
        provider.close()
    q, r = times["qdispatch (thread executor)"], times["raw AerSimulator.run"]
    cases = [
        common.case(
            f"M = {count:,} jobs, wall time",
            params={"jobs": count, "shots": SHOTS, "rounds": rounds},
            measures=times,
            ratio=common.ratios(q, r),
            ratio_of="qdispatch / raw",
            target=("<=", 1.05),
        ),
        common.case(
            f"M = {count:,} jobs, CPU time of the process (supplementary)",
            params={"jobs": count, "shots": SHOTS, "rounds": rounds},
            measures={"qdispatch (thread executor)": cpu["qdispatch"], "raw AerSimulator.run": cpu["raw"]},
            ratio=common.ratios(cpu["qdispatch"], cpu["raw"]),
            ratio_of="qdispatch / raw",
            note="CPU time is less disturbed by other processes on a shared machine than wall time.",
        ),
    ]
    if busy["raw"]:
        cases.append(
            common.case(
                f"M = {count:,} jobs, wall time over the CPU time of Aer's job thread (supplementary)",
                params={"jobs": count, "shots": SHOTS, "rounds": rounds},
                unit="",
                measures={
                    "qdispatch (thread executor)": busy["qdispatch"],
                    "raw AerSimulator.run": busy["raw"],
                },
                ratio=common.ratios(busy["qdispatch"], busy["raw"]),
                ratio_of="qdispatch / raw",
                note=(
                    "1.00 would mean Aer's thread simulated all the time; the rest is time it waited "
                    "for the GIL or for its next job. Unlike wall time, this barely moves with the "
                    "machine's speed."
                ),
            )
        )
    data = common.result(
        NAME,
        TITLE,
        description=(
            f"{count:,} one-circuit jobs (seeded random_circuit(5, 10, measure=True), transpiled once, "
            f"{SHOTS} shots): all submitted, then all awaited; qdispatch's thread executor vs "
            "AerSimulator.run per circuit (each an AerJob)."
        ),
        quick=args.quick or args.tiny,
        parameters={"jobs": count, "shots": SHOTS, "seed": SEED, "rounds": rounds},
        cases=cases,
        load_before=load_before,
    )
    common.finish(data, args.results)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
