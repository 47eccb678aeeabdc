"""Benchmark 3, parallel speed-up: CPU-heavy circuits on the process executor, 2 workers vs 1.

Aer is limited to one thread (``max_parallel_threads=1``) so that the speed-up
comes from the executor's processes, not from Aer's OpenMP threads. Each job
has K circuits, one per task (``max_circuits_per_task=1``). Side by side, in
the same interleaved rounds, a raw ``concurrent.futures.ProcessPoolExecutor``
runs the same circuits with 1 and 2 processes: the ceiling on this machine.
Workers are started and warmed before timing. The figure is the median of the
per-round speed-ups t(1 worker) / t(2 workers) (target: at least 1.75).
"""

from __future__ import annotations

import multiprocessing
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

from bench import common

NAME = "parallel_speedup"
TITLE = "Parallel speed-up: process executor, 2 workers vs 1 (Aer at one thread)"
SHOTS = 100
SEED = 33


def plan(args: Any) -> dict[str, int]:
    """Return the circuit size, circuits per job and rounds for the chosen mode."""
    if args.tiny:
        return {"qubits": 12, "depth": 10, "circuits": 4, "rounds": 2}
    if args.quick:
        return {"qubits": 16, "depth": 30, "circuits": 8, "rounds": 3}
    return {"qubits": 18, "depth": 30, "circuits": 8, "rounds": 11}


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark, print its table and write ``bench/results/parallel_speedup.json``."""
    args = common.parser(__doc__ or "").parse_args(argv)
    load_before = common.load_average()
    p = plan(args)
    rounds = args.rounds or p["rounds"]
    with common.isolated_config() as workdir:
        from qiskit_aer import AerSimulator

        from bench.circuits import heavy_circuit
        from qdispatch import Provider

        target = AerSimulator().target
        circuits = [
            heavy_circuit(p["qubits"], p["depth"], seed=SEED + i, target=target) for i in range(p["circuits"])
        ]
        providers = {
            w: Provider(
                executor="process",
                executor_options={"max_workers": w},
                store="sqlite",
                store_options={"path": str(Path(workdir) / f"jobs{w}.sqlite")},
            )
            for w in (1, 2)
        }
        backends = {w: providers[w].get_backend("aer", max_parallel_threads=1) for w in (1, 2)}
        spawn = multiprocessing.get_context("spawn")
        pools = {w: ProcessPoolExecutor(max_workers=w, mp_context=spawn) for w in (1, 2)}

        def qdispatch(workers: int) -> Any:
            def measure(_r: int) -> float:
                start = time.perf_counter()
                result = backends[workers].run(circuits, shots=SHOTS, max_circuits_per_task=1).result()
                elapsed = time.perf_counter() - start
                assert result.success and len(result.results) == len(circuits)
                return elapsed

            return measure

        def raw(workers: int) -> Any:
            def measure(_r: int) -> float:
                start = time.perf_counter()
                futures = [pools[workers].submit(common.one_thread_aer_run, c, SHOTS) for c in circuits]
                results = [f.result() for f in futures]
                elapsed = time.perf_counter() - start
                assert all(r.success for r in results)
                return elapsed

            return measure

        variants = {
            "qdispatch process executor, 1 worker": qdispatch(1),
            "qdispatch process executor, 2 workers": qdispatch(2),
            "raw ProcessPoolExecutor, 1 process": raw(1),
            "raw ProcessPoolExecutor, 2 processes": raw(2),
        }
        common.progress(f"{NAME}: warming up workers")
        for measure in variants.values():
            measure(-1)  # starts and warms every worker (imports, Aer build)
        common.progress(f"{NAME}: {p['circuits']} circuits of {p['qubits']} qubits, {rounds} rounds")
        times = common.interleave(rounds, variants)
        for provider in providers.values():
            provider.close()
        for pool in pools.values():
            pool.shutdown()
    names = list(variants)
    speed_qd = common.ratios(times[names[0]], times[names[1]])
    speed_raw = common.ratios(times[names[2]], times[names[3]])
    cases = [
        common.case(
            "qdispatch speed-up, 2 workers vs 1",
            params={**p, "rounds": rounds, "shots": SHOTS},
            measures={names[0]: times[names[0]], names[1]: times[names[1]]},
            ratio=speed_qd,
            ratio_of="t(1 worker) / t(2 workers)",
            target=(">=", 1.75),
        ),
        common.case(
            "raw ProcessPoolExecutor speed-up, 2 processes vs 1 (the ceiling)",
            params={**p, "rounds": rounds, "shots": SHOTS},
            measures={names[2]: times[names[2]], names[3]: times[names[3]]},
            ratio=speed_raw,
            ratio_of="t(1 process) / t(2 processes)",
        ),
        common.case(
            "qdispatch speed-up relative to the raw pool's",
            params={**p, "rounds": rounds},
            measures={},
            ratio=common.ratios(speed_qd, speed_raw),
            ratio_of="qdispatch speed-up / raw speed-up",
        ),
    ]
    data = common.result(
        NAME,
        TITLE,
        description=(
            f"One job of {p['circuits']} seeded random circuits ({p['qubits']} qubits, depth {p['depth']}), "
            f"one circuit per task, Aer limited to one thread, {SHOTS} shots, on "
            "Provider(executor='process') with max_workers 1 and 2; the same circuits on a raw "
            "ProcessPoolExecutor (spawn) with 1 and 2 processes. Warm workers; "
            "wall time from run() to result()."
        ),
        quick=args.quick or args.tiny,
        parameters={**p, "rounds": rounds, "shots": SHOTS, "seed": SEED},
        cases=cases,
        load_before=load_before,
    )
    common.finish(data, args.results)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
