"""Benchmark: how soon the ``aqt`` executor sees a finished AQT job, and how many requests it spends.

Fifty Bell jobs go to the local AQT-compatible server (in this process, on
127.0.0.1), which keeps each queued for a random 0.2 to 2.7 s before running
it. Per job the figure is the time from the server marking the job finished
to qdispatch's ``job_finished`` hook (the client has the result), and the
number of HTTP requests it sent (one submit plus its result polls). Two
polling schedules, same code path: qdispatch's adaptive one (50 ms first,
x1.3 per unchanged answer up to 3 s, +/-20 % jitter) and a fixed 5 s interval,
the vendor provider's ``CloudJob.result(wait=5)``.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

from bench import common
from qdispatch import hookimpl

NAME = "aqt_polling"
TITLE = "AQT polling: server finished -> client has the result"
SHOTS = 100
SEED = 5
QUEUE_DELAY, QUEUE_JITTER = 0.2, 2.5

SCHEDULES: dict[str, dict[str, Any]] = {
    "qdispatch adaptive polling": {},
    "fixed 5 s poll (CloudJob.result(wait=5))": {
        "poll_initial": 5.0,
        "poll_max": 5.0,
        "poll_factor": 1.0,
        "jitter": 0.0,
    },
}


class FinishTimes:
    """A plugin that notes when each job reached its final status (``time.monotonic()``)."""

    def __init__(self) -> None:
        self.seen: dict[str, float] = {}
        self._lock = threading.Lock()

    @hookimpl
    def job_finished(self, job: Any) -> None:
        """Note the time ``job`` finished, as the client sees it."""
        with self._lock:
            self.seen.setdefault(job.job_id(), time.monotonic())


def measure(schedule: dict[str, Any], jobs: int, workdir: Path) -> tuple[list[float], list[float]]:
    """Run ``jobs`` Bell jobs with one polling ``schedule``; return per-job latencies and request counts."""
    from qiskit import QuantumCircuit, transpile

    from qdispatch import Provider
    from qdispatch.plugins import get_plugin_manager
    from qdispatch_aqt.testing.server import AQTServer

    recorder = FinishTimes()
    pm = get_plugin_manager()
    pm.register(recorder, name="bench-finish-times")
    token = "bench-token"
    try:
        with (
            AQTServer(
                tokens=[token], workers=4, queue_delay=QUEUE_DELAY, queue_jitter=QUEUE_JITTER, seed=SEED
            ) as server,
            Provider(
                executor="aqt",
                executor_options=schedule,
                store="sqlite",
                store_options={"path": str(workdir / f"jobs-{len(schedule)}.sqlite")},
            ) as provider,
        ):
            backend = provider.get_backend(
                "aqt", url=server.url, token=token, workspace="default", resource="offline_simulator_no_noise"
            )
            bell = QuantumCircuit(2)
            bell.h(0)
            bell.cx(0, 1)
            bell.measure_all()
            circuit = transpile(bell, backend)
            handles = [backend.run(circuit, shots=SHOTS) for _ in range(jobs)]
            for job in handles:
                assert sum(job.result(timeout=120).get_counts().values()) == SHOTS
            latencies, requests = [], []
            for job in handles:
                remote_id = job.to_record().chunks[0].state["remote_job_id"]
                remote = next(j for j in server.jobs.jobs.values() if str(j.job_id) == remote_id)
                assert remote.finished_at is not None
                latencies.append(recorder.seen[job.job_id()] - remote.finished_at)
                requests.append(
                    float(server.count("submit", job_id=remote_id) + server.count("result", job_id=remote_id))
                )
    finally:
        pm.unregister(name="bench-finish-times")
    return latencies, requests


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark, print its table and write ``bench/results/aqt_polling.json``."""
    args = common.parser(__doc__ or "").parse_args(argv)
    jobs = 5 if args.tiny else 20 if args.quick else 50
    load_before = common.load_average()
    latency: dict[str, list[float]] = {}
    requests: dict[str, list[float]] = {}
    with common.isolated_config() as workdir:
        for name, schedule in SCHEDULES.items():
            common.progress(f"{NAME}: {jobs} jobs, {name}")
            latency[name], requests[name] = measure(schedule, jobs, Path(workdir))
    adaptive, fixed = SCHEDULES
    cases = [
        common.case(
            "time from server finished to client has the result",
            params={"jobs": jobs, "shots": SHOTS},
            measures=latency,
            unit="s",
            target=("<=", 0.5),
            target_on=adaptive,
            note="a result is seen within a fraction of a second (median over jobs)",
        ),
        common.case(
            "HTTP requests per job (submit + result polls)",
            params={"jobs": jobs},
            measures=requests,
            unit="requests",
            note=f"{fixed}: one submit plus one poll per 5 s",
        ),
    ]
    data = common.result(
        NAME,
        TITLE,
        description=(
            f"{jobs} Bell jobs ({SHOTS} shots) submitted at once to the local AQT-compatible server in "
            f"this process, which queues each for {QUEUE_DELAY} s plus a uniform random 0 to "
            f"{QUEUE_JITTER} s and runs 4 at a time on Aer. Latency: server's time.monotonic() when the "
            "job turned finished to the client's job_finished hook. Requests counted in the server's log."
        ),
        quick=args.quick or args.tiny,
        parameters={
            "jobs": jobs,
            "shots": SHOTS,
            "seed": SEED,
            "queue_delay": QUEUE_DELAY,
            "queue_jitter": QUEUE_JITTER,
            "schedules": SCHEDULES,
        },
        cases=cases,
        load_before=load_before,
        extra={
            "aqt_versions": {
                "qdispatch-aqt": common.package_version("qdispatch-aqt"),
                "aqt-connector": common.package_version("aqt-connector"),
            }
        },
    )
    common.finish(data, args.results)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
