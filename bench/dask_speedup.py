"""Benchmark: the ``dask`` executor on a 2-worker Dask cluster vs the ``thread`` executor with one worker.

Speed-up: 200 jobs of one CPU-heavy circuit each (a seeded random circuit,
18 qubits, depth 40: a few tenths of a second with Aer limited to one thread,
``max_parallel_threads=1``), all submitted at once, timed from the first
submission to the last result. Variants, in the same interleaved rounds: the
``thread`` executor with ``max_workers=1``, and the ``dask`` executor on a
``distributed.LocalCluster`` of 2 worker processes with one thread each,
reached through its ``address``. The figure is the median of the per-round
ratios t(thread, 1 worker) / t(dask, 2 workers); on 2 cores the ceiling is 2.

Overhead: trivial jobs (1 qubit, 1 shot) on the same cluster, through
qdispatch's ``dask`` executor (job handle, task, start notice, cancel marks,
result) vs raw ``distributed.Client.submit`` of a function running the same
Aer simulation on the workers. Throughput: N submitted at once, wall time / N.
Latency: one at a time, submit to result. The ratios are qdispatch / raw.

Run it as ``python -m bench.dask_speedup`` (or ``python bench/dask_speedup.py``);
``--quick`` is a small smoke run. It prints a table and writes
``bench/results/dask_speedup.json``.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a file: make ``bench`` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import common

NAME = "dask_speedup"
TITLE = "Dask executor: 2-worker cluster vs thread executor with 1 worker (Aer at one thread)"
SHOTS = 100
SEED = 47
WORKERS = 2


def plan(args: Any) -> dict[str, int]:
    """Return the sizes and rounds for the chosen mode."""
    if args.tiny:
        return {"qubits": 12, "depth": 10, "jobs": 6, "trivial": 10, "sequential": 4, "rounds": 2}
    if args.quick:
        return {"qubits": 18, "depth": 40, "jobs": 20, "trivial": 40, "sequential": 10, "rounds": 2}
    return {"qubits": 18, "depth": 40, "jobs": 200, "trivial": 200, "sequential": 40, "rounds": 3}


def trivial_circuit() -> Any:
    """One qubit, X, measured: almost no simulation work."""
    from qiskit import QuantumCircuit

    qc = QuantumCircuit(1)
    qc.x(0)
    qc.measure_all()
    return qc


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark, print its table and write ``bench/results/dask_speedup.json``."""
    args = common.parser(__doc__ or "").parse_args(argv)
    load_before = common.load_average()
    p = plan(args)
    rounds = args.rounds or p["rounds"]
    with common.isolated_config():
        from distributed import Client, LocalCluster
        from qiskit_aer import AerSimulator

        from bench.circuits import heavy_circuit
        from qdispatch import Provider

        heavy = heavy_circuit(p["qubits"], p["depth"], seed=SEED, target=AerSimulator().target)
        trivial = trivial_circuit()
        simulator = AerSimulator(max_parallel_threads=1)
        simulator.run(heavy, shots=SHOTS).result()
        started = time.perf_counter()
        simulator.run(heavy, shots=SHOTS).result()
        one_circuit = time.perf_counter() - started
        common.progress(f"one heavy circuit takes {one_circuit:.3f} s here with Aer at one thread")

        common.progress(f"starting a LocalCluster of {WORKERS} workers x 1 thread")
        cluster = LocalCluster(
            n_workers=WORKERS,
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            dashboard_address=None,
            scheduler_kwargs={"dashboard": False, "dashboard_address": "127.0.0.1:0"},
        )
        raw = Client(cluster.scheduler_address, set_as_default=False)
        threads = Provider(executor="thread", executor_options={"max_workers": 1})
        dask = Provider(executor="dask", executor_options={"address": cluster.scheduler_address})
        try:
            on_thread = threads.get_backend("aer", max_parallel_threads=1)
            on_dask = dask.get_backend("aer", max_parallel_threads=1)

            def batch(backend: Any, circuit: Any, count: int, shots: int) -> float:
                started = time.perf_counter()
                jobs = [backend.run(circuit, shots=shots) for _ in range(count)]
                for job in jobs:
                    if not job.result().success:
                        raise RuntimeError(f"job {job.job_id()} failed")
                return time.perf_counter() - started

            def raw_batch(circuit: Any, count: int, shots: int) -> float:
                started = time.perf_counter()
                futures = [
                    raw.submit(common.one_thread_aer_run, circuit, shots, pure=False) for _ in range(count)
                ]
                for result in raw.gather(futures):
                    if not result.success:
                        raise RuntimeError("a raw Dask task failed")
                return time.perf_counter() - started

            def sequential(run_one: Any, count: int) -> float:
                started = time.perf_counter()
                for _ in range(count):
                    run_one()
                return (time.perf_counter() - started) / count

            common.progress("warming up: every worker builds its simulator once")
            batch(on_thread, trivial, 2, 1)
            batch(on_dask, trivial, 4 * WORKERS, 1)
            raw_batch(trivial, 4 * WORKERS, 1)

            common.progress(f"speed-up: {p['jobs']} heavy jobs per variant, {rounds} rounds")
            speed = common.interleave(
                rounds,
                {
                    "thread executor, 1 worker": lambda r: batch(on_thread, heavy, p["jobs"], SHOTS),
                    f"dask executor, {WORKERS} workers": lambda r: batch(on_dask, heavy, p["jobs"], SHOTS),
                },
                on_round=lambda r, f: common.progress(
                    f"round {r + 1}/{rounds}: " + ", ".join(f"{k} {v:.2f} s" for k, v in f.items())
                ),
            )

            common.progress(f"overhead: {p['trivial']} trivial jobs at once, {p['sequential']} one at a time")
            throughput = common.interleave(
                rounds,
                {
                    "qdispatch dask executor": lambda r: (
                        batch(on_dask, trivial, p["trivial"], 1) / p["trivial"]
                    ),
                    "raw Client.submit": lambda r: raw_batch(trivial, p["trivial"], 1) / p["trivial"],
                },
            )
            latency = common.interleave(
                rounds,
                {
                    "qdispatch dask executor": lambda r: sequential(
                        lambda: on_dask.run(trivial, shots=1).result(), p["sequential"]
                    ),
                    "raw Client.submit": lambda r: sequential(
                        lambda: raw.submit(common.one_thread_aer_run, trivial, 1, pure=False).result(),
                        p["sequential"],
                    ),
                },
            )
        finally:
            dask.close()
            threads.close()
            raw.close()
            cluster.close()

    thread_times = speed["thread executor, 1 worker"]
    dask_times = speed[f"dask executor, {WORKERS} workers"]
    names = ("qdispatch dask executor", "raw Client.submit")
    cases = [
        common.case(
            f"{p['jobs']} jobs of one heavy circuit ({p['qubits']} qubits, depth {p['depth']}), "
            "all submitted at once",
            measures=speed,
            ratio=common.ratios(thread_times, dask_times),
            ratio_of=f"speed-up, t(thread, 1 worker) / t(dask, {WORKERS} workers)",
            params={
                "jobs": p["jobs"],
                "qubits": p["qubits"],
                "depth": p["depth"],
                "shots": SHOTS,
                "one_circuit_s": round(one_circuit, 4),
            },
            note=f"{WORKERS} cores on this machine, so the ceiling is {WORKERS}",
        ),
    ]
    for label, figures, count in (
        ("throughput", throughput, p["trivial"]),
        ("latency", latency, p["sequential"]),
    ):
        ours, theirs = figures[names[0]], figures[names[1]]
        cases.append(
            common.case(
                f"trivial jobs, {label}: seconds per task ({count} jobs "
                + ("submitted at once)" if label == "throughput" else "one after another)"),
                measures={
                    **figures,
                    "qdispatch minus raw (overhead)": [a - b for a, b in zip(ours, theirs, strict=True)],
                },
                ratio=common.ratios(ours, theirs),
                ratio_of="qdispatch / raw distributed.Client.submit",
                params={"tasks": count, "shots": 1},
            )
        )
    data = common.result(
        NAME,
        TITLE,
        description=(__doc__ or "").strip().split("\n\n")[0],
        quick=args.quick or args.tiny,
        parameters={**p, "rounds": rounds, "workers": WORKERS, "threads_per_worker": 1},
        cases=cases,
        load_before=load_before,
        extra={
            "versions": {
                "distributed": common.package_version("distributed"),
                "qdispatch-dask": common.package_version("qdispatch-dask"),
            }
        },
    )
    common.finish(data, args.results)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
