"""Benchmark 4, persistence: N jobs of 2 circuits, qdispatch's sqlite and file stores vs the peer.

The peer is qiskit-aqt-provider's ``FileJobStore`` + ``encode_job`` (through
``persist_job``), run in its own venv (``bench/.venv-peer``) by
``bench/peer_persistence.py``, its rounds interleaved with qdispatch's.
Durability is equal: every store fsyncs each job (the peer: the file; the
file store: the file and its directory; sqlite: its WAL, ``synchronous=FULL``).

qdispatch's jobs are real submitted jobs, QUEUED on an executor that holds
their tasks without running them (one in ten cancelled), as the peer's
snapshots describe submitted jobs. Measured, in interleaved rounds:

- persist, including encoding: ``job.persist(store)`` of jobs whose circuits
  were never encoded, vs ``persist_job(snapshot, store)``;
- storage alone: ``job.persist(store)`` again (the QPY bytes are cached; the
  record is still built and JSON-encoded), vs ``FileJobStore.save`` of a
  payload encoded beforehand;
- restore, with N stored, one call at a time: ``store.load(job_id)`` vs
  ``restore_job(...)``; also ``provider.job(job_id)`` (a job handle);
- a filtered listing of the N stored jobs: ``store.list(status=CANCELLED)``
  vs the peer reading every file's header (it keeps no status).
"""

from __future__ import annotations

import random
import statistics
import time
import uuid
from collections.abc import Callable, Mapping
from concurrent.futures import Future
from pathlib import Path
from typing import Any

from bench import common

NAME = "persistence"
TITLE = "Persistence: N jobs of 2 circuits, qdispatch stores vs qiskit-aqt-provider FileJobStore"
SHOTS = 100
SEED = 44
POOL = 200
PER_JOB = 2
CANCEL_EVERY = 10
PEER = "qiskit-aqt-provider FileJobStore"
RAW_SQLITE = "raw sqlite3 INSERT (WAL, synchronous=FULL)"


class HeldExecutor:
    """An executor that accepts tasks and never runs them: its jobs stay QUEUED."""

    def submit(self, task: Any) -> Future[Any]:
        """Return a future that only cancellation completes."""
        return Future()

    def shutdown(self, wait: bool = True) -> None:
        """Nothing to stop."""


class HeldPlugin:
    """Registers the ``bench-held`` executor."""

    def __init__(self) -> None:
        from qdispatch import hookimpl

        def register_executors(register: Any) -> None:
            register("bench-held", HeldExecutor)

        self.register_executors = hookimpl(register_executors)


def plan(args: Any) -> dict[str, int]:
    """Return the sizes for the chosen mode."""
    if args.tiny:
        return {"jobs": 40, "rounds": 2, "restore_rounds": 2, "restore_per_round": 10, "list_rounds": 2}
    if args.quick:
        return {"jobs": 1000, "rounds": 5, "restore_rounds": 3, "restore_per_round": 50, "list_rounds": 3}
    return {"jobs": 10_000, "rounds": 10, "restore_rounds": 9, "restore_per_round": 100, "list_rounds": 5}


def beside_peer(
    times: Mapping[str, list[float]], name: str, convert: Callable[[list[float]], list[float]]
) -> tuple[dict[str, list[float]], list[float] | None]:
    """Return the converted figures of ``name`` and of the peer (if it ran), and their per-round ratios.

    ``convert`` turns seconds into what the table shows (jobs/s, ms); the ratio
    is qdispatch's figure over the peer's, so it reads the same way as the table.
    """
    measures = {name: convert(times[name])}
    if PEER not in times:
        return measures, None
    measures[PEER] = convert(times[PEER])
    return measures, common.ratios(measures[name], measures[PEER])


def milliseconds(seconds: list[float]) -> list[float]:
    """Return ``seconds`` in milliseconds."""
    return [x * 1e3 for x in seconds]


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark, print its table and write ``bench/results/persistence.json``."""
    args = common.parser(__doc__ or "").parse_args(argv)
    load_before = common.load_average()
    p = plan(args)
    rounds = args.rounds or p["rounds"]
    n = p["jobs"]
    per_round = n // rounds
    with common.isolated_config() as workdir:
        import io

        from qiskit import qpy
        from qiskit.providers import JobStatus
        from qiskit_aer import AerSimulator

        from bench.circuits import small_circuits
        from qdispatch import Provider, make_plugin_manager

        pm = make_plugin_manager()
        pm.register(HeldPlugin(), name="bench-held")
        work = Path(workdir)
        provider = Provider(
            executor="bench-held",
            store="sqlite",
            store_options={"path": str(work / "provider.sqlite")},
            plugin_manager=pm,
        )
        stores = {
            "sqlite": pm.create("store", "sqlite", {"path": str(work / "sqlite" / "jobs.sqlite")}),
            "file": pm.create("store", "file", {"path": str(work / "files")}),
        }
        storage_stores = {
            "sqlite": pm.create("store", "sqlite", {"path": str(work / "sqlite2" / "jobs.sqlite")}),
            "file": pm.create("store", "file", {"path": str(work / "files2")}),
        }
        backend = provider.get_backend("aer")
        pool = small_circuits(POOL, AerSimulator().target, seed=SEED)
        rng = random.Random(SEED)
        job_ids = [uuid.UUID(int=rng.getrandbits(128), version=4).hex for _ in range(n)]

        common.progress(f"{NAME}: submitting {n:,} jobs to a held executor (untimed)")
        jobs = []
        for i, job_id in enumerate(job_ids):
            circuits = [pool[(PER_JOB * i + k) % POOL] for k in range(PER_JOB)]
            job = backend.run(circuits, shots=SHOTS, job_id=job_id)
            if i % CANCEL_EVERY == CANCEL_EVERY - 1:
                job.cancel()
            jobs.append(job)

        peer = None
        peer_info: dict[str, Any] | None = None
        peer_note = None
        if not args.no_peer:
            from bench.peer import PeerProcess

            try:
                peer = PeerProcess(Path(__file__).resolve().parent / "peer_persistence.py")
                peer_info = peer.call("hello")
                buffer = io.BytesIO()
                qpy.dump(pool, buffer, version=min(qpy.QPY_VERSION, peer_info["qpy_version"]))
                circuits_file = work / "pool.qpy"
                circuits_file.write_bytes(buffer.getvalue())
                peer.call(
                    "setup",
                    circuits=str(circuits_file),
                    circuits_per_job=PER_JOB,
                    job_ids=job_ids,
                    shots=SHOTS,
                    backend="aer",
                    root=str(work / "peer"),
                    storage_root=str(work / "peer2"),
                )
            except (RuntimeError, OSError) as exc:
                peer_note = f"peer unavailable: {exc}"
                common.progress(peer_note)
                if peer is not None:
                    peer.close()
                peer = None

        def qd_persist(kind: str, target: dict[str, Any]) -> Any:
            def measure(r: int) -> float:
                chunk = jobs[r * per_round : (r + 1) * per_round]
                store = target[kind]
                start = time.perf_counter()
                for job in chunk:
                    job.persist(store)
                return time.perf_counter() - start

            return measure

        import sqlite3

        from qdispatch.serialization import encode_record
        from qdispatch.stores.sqlite import SCHEMA

        raw_db = sqlite3.connect(work / "raw.sqlite", isolation_level=None)
        raw_db.execute("PRAGMA journal_mode=WAL")
        raw_db.execute("PRAGMA synchronous=FULL")
        raw_db.executescript(SCHEMA)

        def raw_sqlite(r: int) -> float:
            """The floor under the sqlite store: the same rows, encoded beforehand, inserted by sqlite3."""
            rows = []
            for job in jobs[r * per_round : (r + 1) * per_round]:
                record = job.to_record()
                rows.append(
                    (
                        record.job_id,
                        record.status.name,
                        record.backend,
                        record.executor,
                        record.created_at.isoformat(),
                        len(record.circuits),
                        record.shots,
                        "[]",
                        encode_record(record),
                    )
                )
            start = time.perf_counter()
            for row in rows:
                raw_db.execute("INSERT OR REPLACE INTO jobs VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", row)
            return time.perf_counter() - start

        def peer_op(op: str) -> Any:
            def measure(r: int) -> float:
                assert peer is not None
                return float(peer.call(op, start=r * per_round, count=per_round)["seconds"])

            return measure

        persist_variants = {
            "qdispatch sqlite": qd_persist("sqlite", stores),
            "qdispatch file": qd_persist("file", stores),
        }
        storage_variants = {
            "qdispatch sqlite": qd_persist("sqlite", storage_stores),
            "qdispatch file": qd_persist("file", storage_stores),
            RAW_SQLITE: raw_sqlite,
        }
        if peer is not None:
            persist_variants[PEER] = peer_op("persist")
            storage_variants[PEER] = peer_op("store")

        common.progress(f"{NAME}: persisting {n:,} jobs in {rounds} interleaved rounds of {per_round:,}")
        persist_times: dict[str, list[float]] = {name: [] for name in persist_variants}
        storage_times: dict[str, list[float]] = {name: [] for name in storage_variants}
        for r in range(rounds):
            # persist first (it encodes the circuits), then storage alone of the same jobs
            for name in common.rotate(list(persist_variants), r):
                persist_times[name].append(persist_variants[name](r))
            for name in common.rotate(list(storage_variants), r):
                storage_times[name].append(storage_variants[name](r))
        stored = rounds * per_round
        raw_db.close()

        def throughput(times: list[float]) -> list[float]:
            return [per_round / t for t in times]

        cases = []
        for label, times, target in (
            ("persist, including encoding", persist_times, 1.15),
            ("storage alone (circuits already encoded)", storage_times, 2.5),
        ):
            for kind in ("sqlite", "file"):
                measures, ratio = beside_peer(times, f"qdispatch {kind}", throughput)
                cases.append(
                    common.case(
                        f"{label}: {kind} store",
                        unit="jobs/s",
                        params={"jobs_per_round": per_round, "rounds": rounds, "circuits_per_job": PER_JOB},
                        measures=measures,
                        ratio=ratio,
                        ratio_of="qdispatch throughput / peer throughput",
                        target=(">=", target) if kind == "sqlite" else None,
                        note=peer_note,
                    )
                )

        cases.append(
            common.case(
                "storage alone: sqlite store vs raw sqlite3 (the floor)",
                unit="jobs/s",
                params={"jobs_per_round": per_round, "rounds": rounds},
                measures={
                    "qdispatch sqlite": throughput(storage_times["qdispatch sqlite"]),
                    RAW_SQLITE: throughput(storage_times[RAW_SQLITE]),
                },
                ratio=common.ratios(storage_times[RAW_SQLITE], storage_times["qdispatch sqlite"]),
                ratio_of="qdispatch throughput / raw sqlite3 throughput",
                note=(
                    "the same schema and rows, JSON encoded beforehand, one INSERT per job in autocommit: "
                    "one WAL fsync per job, as in the store. No store at equal durability can beat this "
                    "floor, so it bounds the storage-alone ratio against the peer."
                ),
            )
        )

        # restore: one call at a time, the same random jobs for every variant in a round
        common.progress(f"{NAME}: restoring with {stored:,} stored")
        restore_rounds, k = p["restore_rounds"], p["restore_per_round"]
        latencies: dict[str, list[float]] = {"qdispatch sqlite": [], "qdispatch file": []}
        medians: dict[str, list[float]] = {"qdispatch sqlite": [], "qdispatch file": []}
        if peer is not None:
            latencies[PEER] = []
            medians[PEER] = []
        handle_latencies: list[float] = []
        for r in range(restore_rounds):
            indices = [rng.randrange(stored) for _ in range(k)]
            for name in common.rotate(list(latencies), r):
                if name == PEER:
                    assert peer is not None
                    values = [float(x) for x in peer.call("restore", indices=indices)["latencies"]]
                else:
                    store = stores[name.split()[-1]]
                    values = []
                    for index in indices:
                        start = time.perf_counter()
                        record = store.load(job_ids[index])
                        values.append(time.perf_counter() - start)
                        assert len(record.circuits) == PER_JOB
                latencies[name].extend(values)
                medians[name].append(statistics.median(values))
        # a job handle, for finished (cancelled) jobs so nothing is submitted again
        provider_sqlite = Provider(
            executor="bench-held",
            store="sqlite",
            store_options={"path": str(work / "sqlite" / "jobs.sqlite")},
            plugin_manager=pm,
        )
        finished = [i for i in range(stored) if i % CANCEL_EVERY == CANCEL_EVERY - 1]
        for index in rng.sample(finished, min(len(finished), k)):
            start = time.perf_counter()
            handle = provider_sqlite.job(job_ids[index])
            handle_latencies.append(time.perf_counter() - start)
            assert handle.status() is JobStatus.CANCELLED
        for kind in ("sqlite", "file"):
            name = f"qdispatch {kind}"
            measures, ratio = beside_peer(medians, name, milliseconds)
            cases.append(
                common.case(
                    f"restore one job with {stored:,} stored: {kind} store (per-round median latency)",
                    unit="ms",
                    params={"stored": stored, "rounds": restore_rounds, "per_round": k},
                    measures=measures,
                    ratio=ratio,
                    ratio_of="qdispatch latency / peer latency",
                    target=("<=", 1.0),
                    target_on=name,
                    note=(
                        "store.load(job_id) -> JobRecord (circuits decoded) "
                        "vs restore_job(...) -> JobSnapshot"
                    ),
                )
            )
        cases.append(
            common.case(
                f"restore a job handle with {stored:,} stored: provider.job(job_id), sqlite store",
                unit="ms",
                params={"stored": stored, "samples": len(handle_latencies)},
                measures={"qdispatch sqlite, Job handle": milliseconds(handle_latencies)},
                note="per-call latencies of finished (cancelled) jobs: record, backend, handle",
            )
        )

        # filtered listing
        common.progress(f"{NAME}: filtered listing of {stored:,} stored jobs")
        list_times: dict[str, list[float]] = {"qdispatch sqlite": [], "qdispatch file": []}
        if peer is not None:
            list_times[PEER] = []
        matches: dict[str, int] = {}
        for r in range(p["list_rounds"]):
            for name in common.rotate(list(list_times), r):
                if name == PEER:
                    assert peer is not None
                    answer = peer.call("list")
                    list_times[name].append(float(answer["seconds"]))
                    matches[name] = int(answer["matches"])
                else:
                    store = stores[name.split()[-1]]
                    start = time.perf_counter()
                    listed = store.list(status=JobStatus.CANCELLED)
                    list_times[name].append(time.perf_counter() - start)
                    matches[name] = len(listed)
        for kind in ("sqlite", "file"):
            name = f"qdispatch {kind}"
            measures, ratio = beside_peer(list_times, name, milliseconds)
            cases.append(
                common.case(
                    f"filtered listing of {stored:,} stored jobs: {kind} store",
                    unit="ms",
                    params={"stored": stored, "rounds": p["list_rounds"], "matches": matches.get(name)},
                    measures=measures,
                    ratio=ratio,
                    ratio_of="qdispatch time / peer time",
                    target=("<=", 10.0) if kind == "sqlite" else None,
                    target_on=name,
                    note=(
                        f"store.list(status=CANCELLED): {matches.get(name)} of {stored:,} match. "
                        "The peer keeps no status: its figure is reading every file's header."
                    ),
                )
            )
        if peer is not None:
            peer.close()
        provider.close()
        provider_sqlite.close()
        for store in (*stores.values(), *storage_stores.values()):
            store.close()
    data = common.result(
        NAME,
        TITLE,
        description=(
            f"{n:,} submitted jobs of {PER_JOB} circuits (seeded random_circuit(5, 10, measure=True), "
            f"transpiled once), {SHOTS} shots, one in {CANCEL_EVERY} cancelled; "
            "fsync per job in every store. "
            "Throughput is jobs per second over each round."
        ),
        quick=args.quick or args.tiny,
        parameters={
            **p,
            "rounds": rounds,
            "jobs_per_round": per_round,
            "circuits_per_job": PER_JOB,
            "seed": SEED,
        },
        cases=cases,
        load_before=load_before,
        extra={"peer_environment": peer_info, "peer_note": peer_note},
    )
    common.finish(data, args.results)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
