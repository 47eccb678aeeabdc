"""Many tasks per job: one job of N one-circuit tasks through qdispatch vs N raw Aer runs.

qdispatch: ``backend.run(circuits, shots=100, max_circuits_per_task=1).result()``
on the thread executor, so the job has N tasks. Raw: ``AerSimulator().run(c)``
for each circuit, all submitted, then every ``result()`` collected. The figure
is the median ratio qdispatch / raw at each N; a job's own bookkeeping must
grow linearly with its tasks, so the ratio stays flat as N grows (before the
job's state became counters updated once per event it grew with N; the
figures are in ``docs/performance.md``).
"""

from __future__ import annotations

import time
from pathlib import Path

from bench import common

NAME = "many_tasks"
TITLE = "Many tasks per job: N one-circuit tasks, qdispatch vs N raw Aer runs"
SHOTS = 100
SEED = 17


def sizes(args: object) -> list[tuple[int, int]]:
    """Return ``(N, rounds)`` pairs for the chosen mode."""
    if getattr(args, "tiny", False):
        return [(20, 1), (40, 1)]
    if getattr(args, "quick", False):
        return [(250, 2), (1000, 2)]
    return [(1000, 3), (2000, 3), (4000, 3)]


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark, print its table and write ``bench/results/many_tasks.json``."""
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

            def run_qdispatch(_r: int, circuits: list = circuits) -> float:  # type: ignore[type-arg]
                start = time.perf_counter()
                result = backend.run(
                    circuits, shots=SHOTS, seed_simulator=SEED, max_circuits_per_task=1
                ).result()
                elapsed = time.perf_counter() - start
                assert result.success and len(result.results) == len(circuits)
                return elapsed

            def run_raw(_r: int, circuits: list = circuits) -> float:  # type: ignore[type-arg]
                start = time.perf_counter()
                jobs = [simulator.run(c, shots=SHOTS, seed_simulator=SEED) for c in circuits]
                results = [job.result() for job in jobs]
                elapsed = time.perf_counter() - start
                assert all(r.success for r in results)
                return elapsed

            run_qdispatch(-1)
            run_raw(-1)
            times = common.interleave(
                rounds, {"qdispatch (N tasks)": run_qdispatch, "raw AerSimulator.run x N": run_raw}
            )
            q, r = times["qdispatch (N tasks)"], times["raw AerSimulator.run x N"]
            cases.append(
                common.case(
                    f"N = {n:,} tasks",
                    params={"n": n, "shots": SHOTS, "rounds": rounds},
                    measures=times,
                    ratio=common.ratios(q, r),
                    ratio_of="qdispatch / raw",
                    note="per task, the qdispatch median over N stays flat when the job scales linearly",
                )
            )
        provider.close()
    data = common.result(
        NAME,
        TITLE,
        description=(
            "One job of N seeded random_circuit(5, 10, measure=True) circuits in N one-circuit tasks "
            f"(max_circuits_per_task=1), {SHOTS} shots, thread executor, vs N AerSimulator().run calls "
            "of the same circuits, all submitted before the results are collected."
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
