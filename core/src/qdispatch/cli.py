"""The ``qdispatch`` command: run circuits, list, show, cancel and restore jobs, list and check plugins.

Every command takes ``--json`` for scripts. A user error (an unknown job, a
bad option, a job that failed) prints one ``error: ...`` line on standard
error and exits with status 1; bad arguments exit with status 2. Heavy
libraries (Qiskit, rich, matplotlib) are imported inside the commands.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, NoReturn

from qdispatch.errors import InvalidInputError, JobStateError, QDispatchError

if TYPE_CHECKING:
    from qdispatch.job import Job
    from qdispatch.provider import Provider
    from qdispatch.records import JobRecord, JobSummary


class _Parser(argparse.ArgumentParser):
    """An argument parser whose errors are one line, like every other user error."""

    def error(self, message: str) -> NoReturn:
        """Print ``error: MESSAGE`` and a hint, then exit with status 2."""
        self.exit(2, f"error: {message} (see '{self.prog} --help')\n")


def _print_json(data: Any) -> None:
    print(json.dumps(data, indent=2, default=str))


@contextmanager
def _provider(args: argparse.Namespace) -> Iterator[Provider]:
    from qdispatch.provider import Provider

    store_options = {"path": args.store_path} if getattr(args, "store_path", None) else None
    with Provider(
        executor=getattr(args, "executor", None), store=args.store, store_options=store_options
    ) as provider:
        yield provider


def _counts(result: Any) -> Any:
    """Return the counts of a result: a dict for one circuit, a list of dicts for several."""
    counts = result.get_counts()
    return [dict(c) for c in counts] if isinstance(counts, list) else dict(counts)


def _job_data(job: Job) -> dict[str, Any]:
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
        data["counts"] = _counts(job.result())
    return data


def _record_data(record: JobRecord) -> dict[str, Any]:
    import attrs

    total = len(record.circuits)
    data: dict[str, Any] = {
        "job_id": record.job_id,
        "status": record.status.name,
        "backend": record.backend,
        "executor": record.executor,
        "progress": [total if record.status.name == "DONE" else 0, total],
        "shots": record.shots,
        "tags": list(record.tags),
        "error_message": record.error_message,
        "created_at": record.created_at.isoformat(),
        "submitted_at": record.submitted_at.isoformat() if record.submitted_at else None,
        "finished_at": record.finished_at.isoformat() if record.finished_at else None,
        "provenance": attrs.asdict(record.provenance),
    }
    if record.result is not None and record.status.name == "DONE":
        data["counts"] = _counts(record.result)
    return data


def _print_job(data: dict[str, Any]) -> None:
    from qdispatch.display import print_details

    text = {k: v for k, v in data.items() if k not in ("counts", "provenance")}
    text["progress"] = f"{data['progress'][0]}/{data['progress'][1]} circuits"
    counts = data.get("counts")
    if isinstance(counts, list):
        text.update({f"counts[{i}]": c for i, c in enumerate(counts)})
    elif counts is not None:
        text["counts"] = counts
    print_details(text)


def _finish(job: Job, provider: Provider, args: argparse.Namespace) -> int:
    """Wait for ``job`` showing progress, persist it, print it; return 0 if it is DONE.

    On ``--timeout`` or Ctrl-C the job is cancelled; tasks already running
    finish first, then the job is stored in its final state.
    """
    from qiskit.providers.exceptions import JobTimeoutError

    from qdispatch.display import choose_progress, follow_progress

    try:
        follow_progress(job, choose_progress(args.progress, sys.stderr), timeout=args.timeout)
    except (JobTimeoutError, KeyboardInterrupt) as exc:
        job.cancel()
        job.wait_for_final_state(wait=0.2)
        job.persist(provider.store)
        if isinstance(exc, KeyboardInterrupt):
            raise
        raise QDispatchError(
            f"job {job.job_id()} did not finish within {args.timeout:g} s; it ended {job.status().name}"
        ) from None
    job.persist(provider.store)
    data = _job_data(job)
    if args.json:
        _print_json(data)
    else:
        _print_job(data)
    if data["status"] != "DONE":
        reason = f": {data['error_message']}" if data["error_message"] else ""
        print(f"error: job {job.job_id()} ended {data['status']}{reason}", file=sys.stderr)
        return 1
    return 0


# -- commands ------------------------------------------------------------------------


def cmd_run(args: argparse.Namespace) -> int:
    """Run OpenQASM files as one job and print the job id and counts."""
    from qdispatch.circuit_files import load_qasm
    from qdispatch.compile import transpile_for

    circuits = [load_qasm(path) for path in args.files]
    options: dict[str, Any] = {}
    if args.seed is not None:
        options["seed_simulator"] = args.seed
    if args.max_circuits_per_task is not None:
        options["max_circuits_per_task"] = args.max_circuits_per_task
    if args.job_id is not None:
        options["job_id"] = args.job_id
    with _provider(args) as provider:
        backend = provider.get_backend(args.backend)
        job = backend.run(
            transpile_for(backend, circuits), shots=args.shots, tags=args.tag or None, **options
        )
        if not args.json:
            print(f"job {job.job_id()} submitted to {backend.name} on {job.executor_name}", file=sys.stderr)
        return _finish(job, provider, args)


def _summary_data(summary: JobSummary) -> dict[str, Any]:
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
    """List stored jobs, newest first."""
    with _provider(args) as provider:
        summaries = provider.jobs(status=args.status, backend=args.backend, tag=args.tag, limit=args.limit)
    rows = [_summary_data(s) for s in summaries]
    if args.json:
        _print_json(rows)
        return 0
    from qdispatch.display import print_table

    for row, summary in zip(rows, summaries, strict=True):
        row["created"] = summary.created_at.astimezone().strftime("%Y-%m-%d %H:%M:%S")
    print_table(
        ["job_id", "status", "backend", "executor", "created", "circuits", "shots", "tags"],
        rows,
        title="jobs",
    )
    return 0


def cmd_job(args: argparse.Namespace) -> int:
    """Show one stored job (without running it); ``--plot`` writes a histogram of its counts."""
    with _provider(args) as provider:
        record = provider.store.load(args.job_id)
    data = _record_data(record)
    if args.plot:
        if "counts" not in data:
            raise JobStateError(
                record.job_id, f"job {record.job_id} is {record.status.name}; it has no counts to plot"
            )
        data["plot"] = {"path": str(args.plot), "bars": _plot(data["counts"], args.plot, record.job_id)}
    if args.json:
        _print_json(data)
        return 0
    _print_job({k: v for k, v in data.items() if k != "plot"})
    if args.plot:
        print(f"histogram written to {args.plot}")
    return 0


def _plot(counts: Any, path: str, job_id: str) -> list[dict[str, int]]:
    try:
        from qdispatch.display import write_histogram

        return write_histogram(counts, path, title=f"job {job_id}")
    except ImportError as exc:
        raise QDispatchError(
            f"--plot needs matplotlib ({exc}); install it with 'pip install matplotlib'"
        ) from None
    except Exception as exc:
        if type(exc).__name__ == "MissingOptionalLibraryError":  # Qiskit's way of saying the same
            raise QDispatchError(
                "--plot needs matplotlib; install it with 'pip install matplotlib'"
            ) from None
        if isinstance(exc, OSError | ValueError):
            raise InvalidInputError(f"cannot write the histogram to {path}: {exc}") from None
        raise


def cmd_cancel(args: argparse.Namespace) -> int:
    """Cancel a stored job that has not finished (``Provider.cancel``).

    A job that a remote service is running (its record holds the service's job
    id and its executor can resume it) is cancelled on the service too.
    """
    with _provider(args) as provider:
        cancelled = provider.cancel(args.job_id)
        status = provider.store.load(args.job_id).status.name
    if args.json:
        _print_json({"job_id": args.job_id, "cancelled": cancelled, "status": status})
    elif cancelled:
        print(f"job {args.job_id} cancelled; qdispatch will not run it again")
    if not cancelled:
        print(
            f"error: job {args.job_id} could not be cancelled (its service is already running it); "
            f"status {status}",
            file=sys.stderr,
        )
        return 1
    return 0


def cmd_restore(args: argparse.Namespace) -> int:
    """Restore a stored job: an unfinished one runs again (or resumes), then its result is printed."""
    with _provider(args) as provider:
        job = provider.job(args.job_id)  # warns when an unfinished job is submitted again
        return _finish(job, provider, args)


def cmd_plugins(args: argparse.Namespace) -> int:
    """List installed plugins, what each registers, and failures."""
    from qdispatch.plugins import get_plugin_manager

    rows = [
        {
            "plugin": info.name,
            "distribution": info.distribution or "-",
            "version": info.version or "-",
            "registers": "; ".join(f"{kind}: {', '.join(names)}" for kind, names in info.registers.items())
            or "-",
            "registrations": info.registers,
            "status": (
                f"FAILED: {info.error}"
                if info.error
                else "disabled"
                if info.disabled
                else "; ".join(info.clashes)
                if info.clashes
                else "ok"
            ),
        }
        for info in get_plugin_manager().plugin_infos()
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
    rows = [
        {"backend": name, "plugin": reg.plugin} for name, reg in sorted(pm.catalogue()["backend"].items())
    ]
    if args.json:
        _print_json(rows)
        return 0
    from qdispatch.display import print_table

    print_table(["backend", "plugin"], rows, title="backends")
    return 0


def _option(text: str) -> tuple[str, Any]:
    from qdispatch.config import parse_env_value

    key, sep, value = text.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, not {text!r}")
    return key.strip(), parse_env_value(value)


def cmd_check_plugin(args: argparse.Namespace) -> int:
    """Check an executor, store or backend against the plugin contract."""
    from qdispatch.contract import check_plugin

    report = check_plugin(
        args.name, args.kind, dict(args.option or []), backend=args.backend, timeout=args.timeout
    )
    if args.json:
        _print_json(report.to_dict())
    else:
        from qdispatch.display import print_table

        rows = [{"check": c.name, "outcome": c.outcome, "detail": c.detail} for c in report.checks]
        print_table(["check", "outcome", "detail"], rows, title=f"{report.kind} {report.name!r}")
        verdict = "keeps the contract" if report.ok else f"fails {len(report.failed)} check(s)"
        print(f"{report.kind} {report.name!r} {verdict}")
    return 0 if report.ok else 1


# -- the parser ----------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    """Return the argument parser of the ``qdispatch`` command."""
    from qdispatch._version import qdispatch_version

    parser = _Parser(prog="qdispatch", description="Run and manage Qiskit jobs through qdispatch.")
    parser.add_argument("--version", action="version", version=f"qdispatch {qdispatch_version()}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(
        name: str, func: Any, text: str, store: bool = True, executor: bool = False
    ) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=text, description=text)
        if store:
            p.add_argument("--store", help="store name (default: from configuration, else sqlite)")
            p.add_argument("--store-path", help="the store's path option (a file or a directory)")
        if executor:
            p.add_argument("--executor", help="executor name (default: from configuration, else thread)")
        p.add_argument("--json", action="store_true", help="print JSON for scripts")
        p.set_defaults(func=func)
        return p

    def waiting(p: argparse.ArgumentParser) -> None:
        p.add_argument(
            "--progress",
            action=argparse.BooleanOptionalAction,
            default=None,
            help="show progress (default: a bar when standard error is a terminal)",
        )
        p.add_argument("--timeout", type=float, help="seconds to wait before cancelling the job")

    run = command("run", cmd_run, "run OpenQASM 2 or 3 files as one job", executor=True)
    run.add_argument("files", nargs="+", metavar="FILE")
    run.add_argument("--backend", default="aer", help="backend name (default: aer)")
    run.add_argument("--shots", type=int, default=1024, help="shots per circuit (default: 1024)")
    run.add_argument("--seed", type=int, help="seed_simulator, for reproducible counts")
    run.add_argument("--tag", action="append", help="tag the job (repeatable)")
    run.add_argument("--job-id", help="the job's id (default: a random one)")
    run.add_argument(
        "--max-circuits-per-task", type=int, help="split the job into tasks of this many circuits"
    )
    waiting(run)

    jobs = command("jobs", cmd_jobs, "list stored jobs, newest first")
    jobs.add_argument("--status", help="only jobs in this status (DONE, ERROR, CANCELLED, QUEUED, ...)")
    jobs.add_argument("--backend", help="only jobs of this backend")
    jobs.add_argument("--tag", help="only jobs with this tag")
    jobs.add_argument("--limit", type=int, help="at most this many")

    job = command("job", cmd_job, "show a stored job (status, progress, counts)")
    job.add_argument("job_id", metavar="ID")
    job.add_argument("--plot", metavar="PNG", help="write a histogram of the counts to this file")

    cancel = command("cancel", cmd_cancel, "cancel a stored job that has not finished")
    cancel.add_argument("job_id", metavar="ID")

    restore = command(
        "restore", cmd_restore, "restore a stored job, run it if unfinished, print its result", executor=True
    )
    restore.add_argument("job_id", metavar="ID")
    waiting(restore)

    command("plugins", cmd_plugins, "list installed plugins and what they register", store=False)
    command("backends", cmd_backends, "list the backends the installed plugins offer", store=False)

    check = command(
        "check-plugin",
        cmd_check_plugin,
        "check an executor, store or backend against the plugin contract",
        store=False,
    )
    check.add_argument("name", metavar="NAME")
    check.add_argument(
        "--kind", choices=["executor", "store", "backend"], help="needed if NAME is several kinds"
    )
    check.add_argument(
        "--option",
        action="append",
        type=_option,
        metavar="KEY=VALUE",
        help="an option for its factory, as a TOML value (repeatable)",
    )
    check.add_argument("--backend", help="backend for an executor's round trip (default: aer if installed)")
    check.add_argument(
        "--timeout", type=float, default=60.0, help="seconds any one wait may take (default: 60)"
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``qdispatch`` command; return its exit status."""
    args = build_parser().parse_args(argv)
    original_format = warnings.formatwarning
    with warnings.catch_warnings():
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
        except BrokenPipeError:  # the reader went away (``qdispatch jobs | head``)
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            return 1
        finally:
            warnings.formatwarning = original_format


if __name__ == "__main__":
    raise SystemExit(main())
