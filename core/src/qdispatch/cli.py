"""The ``qdispatch`` command: run circuits, list and inspect jobs, list plugins."""

from __future__ import annotations

import argparse
import json
import sys
import warnings
from collections.abc import Sequence
from typing import Any

from qdispatch.errors import QDispatchError


def _provider(args: argparse.Namespace) -> Any:
    from qdispatch.provider import Provider

    store_options = {"path": args.store_path} if getattr(args, "store_path", None) else None
    return Provider(executor=getattr(args, "executor", None), store=args.store, store_options=store_options)


def _print_json(data: Any) -> None:
    print(json.dumps(data, indent=2, default=str))


def cmd_run(args: argparse.Namespace) -> int:
    """Run an OpenQASM file on a backend and print the job id and counts."""
    from qdispatch.circuit_files import load_qasm
    from qdispatch.compile import transpile_for

    circuit = load_qasm(args.file)
    with _provider(args) as provider:
        backend = provider.get_backend(args.backend)
        compiled = transpile_for(backend, circuit)
        job = backend.run(compiled, shots=args.shots, tags=args.tag or None)
        try:
            counts = job.result().get_counts()
        finally:
            job.persist()
        if args.json:
            _print_json({"job_id": job.job_id(), "status": job.status().name, "counts": counts})
        else:
            print(f"job {job.job_id()} {job.status().name}")
            print(f"counts: {counts}")
    return 0


def _summary_data(summary: Any) -> dict[str, Any]:
    return {
        "job_id": summary.job_id,
        "status": summary.status.name,
        "backend": summary.backend,
        "executor": summary.executor,
        "created_at": summary.created_at.isoformat(),
        "circuits": summary.num_circuits,
        "shots": summary.shots,
        "tags": list(summary.tags),
    }


def cmd_jobs(args: argparse.Namespace) -> int:
    """List stored jobs."""
    with _provider(args) as provider:
        rows = [_summary_data(s) for s in provider.jobs(status=args.status, backend=args.backend, tag=args.tag, limit=args.limit)]
    if args.json:
        _print_json(rows)
        return 0
    from qdispatch.display import print_table

    print_table(["job_id", "status", "backend", "executor", "created_at", "circuits", "shots", "tags"], rows, title="jobs")
    return 0


def _job_data(job: Any) -> dict[str, Any]:
    progress = job.progress()
    status = job.status()
    data: dict[str, Any] = {
        "job_id": job.job_id(),
        "status": status.name,
        "backend": job.backend().name,
        "executor": job.executor_name,
        "progress": [progress.finished_count, progress.total_count],
        "shots": job.shots,
        "tags": list(job.tags),
        "error_message": job.error_message,
    }
    if status.name == "DONE":
        data["counts"] = job.result().get_counts()
    return data


def cmd_job(args: argparse.Namespace) -> int:
    """Show one stored job: status, progress and result."""
    with _provider(args) as provider:
        job = provider.job(args.job_id)
        data = _job_data(job)
    if args.json:
        _print_json(data)
    else:
        for key, value in data.items():
            print(f"{key}: {value}")
    return 0


def cmd_cancel(args: argparse.Namespace) -> int:
    """Cancel a stored job that has not finished."""
    with _provider(args) as provider:
        job = provider.job(args.job_id)
        cancelled = job.cancel()
        job.persist(provider.store)
    print(f"job {args.job_id} {'cancelled' if cancelled else 'could not be cancelled (already finished or running)'}")
    return 0 if cancelled else 1


def cmd_restore(args: argparse.Namespace) -> int:
    """Restore a stored job, wait for it, and print its result."""
    with _provider(args) as provider:
        job = provider.job(args.job_id)
        job.wait_for_final_state(timeout=args.timeout, wait=0.5)
        job.persist(provider.store)
        data = _job_data(job)
    if args.json:
        _print_json(data)
    else:
        for key, value in data.items():
            print(f"{key}: {value}")
    return 0


def cmd_plugins(args: argparse.Namespace) -> int:
    """List installed plugins, what each registers, and failures."""
    from qdispatch.plugins import get_plugin_manager

    infos = get_plugin_manager().plugin_infos()
    rows = [
        {
            "plugin": info.name,
            "distribution": info.distribution or "-",
            "version": info.version or "-",
            "registers": "; ".join(f"{kind}: {', '.join(names)}" for kind, names in info.registers.items()) or "-",
            "status": f"FAILED: {info.error}" if info.error else "ok",
        }
        for info in infos
    ]
    if args.json:
        _print_json(rows)
        return 0
    from qdispatch.display import print_table

    print_table(["plugin", "distribution", "version", "registers", "status"], rows, title="plugins")
    return 0


def cmd_backends(args: argparse.Namespace) -> int:
    """List the backends the installed plugins offer."""
    from qdispatch.plugins import get_plugin_manager

    pm = get_plugin_manager()
    rows = [{"backend": name, "plugin": reg.plugin} for name, reg in sorted(pm.catalogue()["backend"].items())]
    if args.json:
        _print_json(rows)
        return 0
    from qdispatch.display import print_table

    print_table(["backend", "plugin"], rows, title="backends")
    return 0


def build_parser() -> argparse.ArgumentParser:
    """Return the argument parser of the ``qdispatch`` command."""
    parser = argparse.ArgumentParser(prog="qdispatch", description="Run and manage Qiskit jobs through qdispatch.")
    sub = parser.add_subparsers(dest="command", required=True)

    def common(p: argparse.ArgumentParser, executor: bool = False) -> None:
        p.add_argument("--store", help="store name (default: from configuration, else sqlite)")
        p.add_argument("--store-path", help="path for the store (file or directory)")
        if executor:
            p.add_argument("--executor", help="executor name (default: from configuration, else thread)")
        p.add_argument("--json", action="store_true", help="print JSON for scripts")

    run = sub.add_parser("run", help="run an OpenQASM 2 or 3 file")
    run.add_argument("file")
    run.add_argument("--backend", default="aer")
    run.add_argument("--shots", type=int, default=1024)
    run.add_argument("--tag", action="append", help="tag the job (repeatable)")
    common(run, executor=True)
    run.set_defaults(func=cmd_run)

    jobs = sub.add_parser("jobs", help="list stored jobs")
    jobs.add_argument("--status")
    jobs.add_argument("--backend")
    jobs.add_argument("--tag")
    jobs.add_argument("--limit", type=int)
    common(jobs)
    jobs.set_defaults(func=cmd_jobs)

    for name, func, text in (("job", cmd_job, "show a stored job"), ("cancel", cmd_cancel, "cancel a stored job"), ("restore", cmd_restore, "restore a stored job and wait for its result")):
        p = sub.add_parser(name, help=text)
        p.add_argument("job_id")
        if name == "restore":
            p.add_argument("--timeout", type=float, default=None)
        common(p, executor=True)
        p.set_defaults(func=func)

    plugins = sub.add_parser("plugins", help="list installed plugins")
    plugins.add_argument("--json", action="store_true")
    plugins.set_defaults(func=cmd_plugins)
    backends = sub.add_parser("backends", help="list available backends")
    backends.add_argument("--json", action="store_true")
    backends.set_defaults(func=cmd_backends)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``qdispatch`` command; return its exit status."""
    args = build_parser().parse_args(argv)
    warnings.simplefilter("default")
    warnings.formatwarning = lambda message, category, *_a, **_k: f"warning: {message}\n"
    try:
        code: int = args.func(args)
        return code
    except QDispatchError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
