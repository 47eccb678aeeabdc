"""Benchmark 1, batch overhead: one job of N small circuits through qdispatch vs one raw Aer run.

qdispatch: ``Provider(executor="thread").get_backend("aer").run(circuits, shots=100).result()``.
Raw: ``AerSimulator().run(circuits, shots=100).result()``. Same transpiled
circuits, same seed, interleaved rounds; the figure is the median of the
per-round ratios qdispatch / raw (target: at most 1.05 at N = 1,000).
"""

from __future__ import annotations

import time
from pathlib import Path

from bench import common

NAME = "batch_overhead"
TITLE = "Batch overhead: one job of N small circuits, qdispatch vs raw Aer"
SHOTS = 100
SEED = 11
TARGET_N = 1000


def sizes(args: object) -> list[tuple[int, int]]:
    """Return ``(N, rounds)`` pairs for the chosen mode."""
    if getattr(args, "tiny", False):
        return [(10, 2), (20, 2)]
    if getattr(args, "quick", False):
        return [(100, 3), (1000, 3)]
    return [(100, 21), (1000, 11), (5000, 5)]


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark, print its table and write ``bench/results/batch_overhead.json``."""
    args = common.parser(__doc__ or "").parse_args(argv)
    load_before = common.load_average()
    with common.isolated_config() as workdir:
        from qiskit_aer import AerSimulator

        from bench.circuits import small_circuits
        from qdispatch import Provider

        provider = Provider(
            executor="thread", store="sqlite", store_options={"path": str(Path(workdir) / "jobs.sqlite")}
        )
        backend = provider.get_backend("aer")
        simulator = AerSimulator()
        plan = sizes(args)
        circuits_all = small_circuits(max(n for n, _ in plan), backend.target, seed=SEED)
        cases = []
        for n, rounds in plan:
            rounds = args.rounds or rounds
            circuits = circuits_all[:n]
            common.progress(f"{NAME}: N={n}, {rounds} rounds")

            cpu: dict[str, list[float]] = {"qdispatch": [], "raw": []}

            def run_qdispatch(_r: int, circuits: list = circuits, cpu: dict = cpu) -> float:  # type: ignore[type-arg]
                start, start_cpu = time.perf_counter(), time.process_time()
                result = backend.run(circuits, shots=SHOTS, seed_simulator=SEED).result()
                elapsed = time.perf_counter() - start
                cpu["qdispatch"].append(time.process_time() - start_cpu)
                assert result.success and len(result.results) == len(circuits)
                return elapsed

            def run_raw(_r: int, circuits: list = circuits, cpu: dict = cpu) -> float:  # type: ignore[type-arg]
                start, start_cpu = time.perf_counter(), time.process_time()
                result = simulator.run(circuits, shots=SHOTS, seed_simulator=SEED).result()
                elapsed = time.perf_counter() - start
                cpu["raw"].append(time.process_time() - start_cpu)
                assert result.success and len(result.results) == len(circuits)
                return elapsed

            run_qdispatch(-1)  # warm-up, untimed
            run_raw(-1)
            cpu["qdispatch"].clear()
            cpu["raw"].clear()
            times = common.interleave(
                rounds, {"qdispatch (thread executor)": run_qdispatch, "raw AerSimulator.run": run_raw}
            )
            q, r = times["qdispatch (thread executor)"], times["raw AerSimulator.run"]
            cases.append(
                common.case(
                    f"N = {n:,}",
                    params={"n": n, "shots": SHOTS, "rounds": rounds},
                    measures=times,
                    ratio=common.ratios(q, r),
                    ratio_of="qdispatch / raw",
                    target=("<=", 1.05) if n == TARGET_N else None,
                )
            )
            if n == TARGET_N:
                cases.append(
                    common.case(
                        f"N = {n:,}, CPU time of the process (supplementary)",
                        params={"n": n, "shots": SHOTS, "rounds": rounds},
                        measures={
                            "qdispatch (thread executor)": cpu["qdispatch"],
                            "raw AerSimulator.run": cpu["raw"],
                        },
                        ratio=common.ratios(cpu["qdispatch"], cpu["raw"]),
                        ratio_of="qdispatch / raw",
                        note=(
                            "CPU time is less disturbed by other processes on a shared machine "
                            "than wall time."
                        ),
                    )
                )
        provider.close()
    data = common.result(
        NAME,
        TITLE,
        description=(
            "One job of N seeded random_circuit(5, 10, measure=True) circuits, transpiled once "
            f"(one pass manager), {SHOTS} shots, through Provider(executor='thread').get_backend('aer') "
            "vs one AerSimulator().run of the same circuits. Wall time from run() to result()."
        ),
        quick=args.quick or args.tiny,
        parameters={"shots": SHOTS, "seed": SEED, "sizes": [n for n, _ in plan]},
        cases=cases,
        load_before=load_before,
    )
    common.finish(data, args.results)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
