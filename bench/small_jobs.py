"""Benchmark 2, many small jobs: M one-circuit jobs through qdispatch vs M raw ``AerJob``s.

qdispatch: M calls of ``backend.run(circuit, shots=100)`` on the thread
executor, all submitted, then every ``result()`` awaited. Raw: the same with
``AerSimulator.run(circuit, shots=100)`` (each an ``AerJob``). Interleaved
rounds; the figure is the median of the per-round ratios qdispatch / raw
(target: at most 1.05 for M = 1,000).
"""

from __future__ import annotations

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
    return 1000, 15


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

        def run_qdispatch(_r: int) -> float:
            start, start_cpu = time.perf_counter(), time.process_time()
            jobs = [backend.run(c, shots=SHOTS, seed_simulator=SEED) for c in circuits]
            results = [job.result() for job in jobs]
            elapsed = time.perf_counter() - start
            cpu["qdispatch"].append(time.process_time() - start_cpu)
            assert all(r.success for r in results)
            return elapsed

        def run_raw(_r: int) -> float:
            start, start_cpu = time.perf_counter(), time.process_time()
            jobs = [simulator.run(c, shots=SHOTS, seed_simulator=SEED) for c in circuits]
            results = [job.result() for job in jobs]
            elapsed = time.perf_counter() - start
            cpu["raw"].append(time.process_time() - start_cpu)
            assert all(r.success for r in results)
            return elapsed

        run_qdispatch(-1)  # warm-up, untimed
        run_raw(-1)
        for values in cpu.values():
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
