"""The ``qdispatch`` command: run circuits, list, show, cancel and restore jobs, list and check plugins.

Every command takes ``--json`` for scripts. A user error (an unknown job, a
bad option, a job that failed) prints one ``error: ...`` line on standard
error and exits with status 1; bad arguments exit with status 2. Whatever is
printed for people has its control characters escaped (``--json`` stays exact
JSON). Heavy libraries (Qiskit, rich, matplotlib) are imported inside the
commands.

SIGINT (Ctrl-C), SIGTERM and SIGHUP stop a command with status 128 + the
signal's number. A job that ``run`` or ``restore`` is waiting for is stored
first: a local one cancelled (tasks still running get :data:`GRACE_SECONDS`
to end), a remote one left running on its service, stored with its remote id.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import signal
import sys
import threading
import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from typing import TYPE_CHECKING, Any, NoReturn

from qdispatch.display import printable
from qdispatch.errors import InvalidInputError, JobNotFoundError, JobStateError, QDispatchError, StoreError

if TYPE_CHECKING:
    from types import FrameType

    from qiskit import QuantumCircuit

    from qdispatch.job import Job
    from qdispatch.protocols import Store
    from qdispatch.provider import Provider
    from qdispatch.records import JobRecord, JobSummary

GRACE_SECONDS = 2.0
"""How long the tasks of a stopped job (Ctrl-C, a signal, ``--timeout``) get to end before it is stored."""

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
"""The signals that stop a command the way Ctrl-C does."""


class _Parser(argparse.ArgumentParser):
    """An argument parser whose errors are one line, like every other user error."""

    def error(self, message: str) -> NoReturn:
        """Print ``error: MESSAGE`` and a hint, then exit with status 2."""
        self.exit(2, f"error: {printable(message)} (see '{self.prog} --help')\n")


class _Stop(BaseException):
    """A signal (SIGINT, SIGTERM or SIGHUP) asked the command to stop."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum
        self.name = signal.Signals(signum).name


class _Signals:
    """Turns the stop signals into :class:`_Stop`, or holds them back while a job is handed over or stored."""

    def __init__(self) -> None:
        self.pending: int | None = None
        self.held_by = 0
        self.stopping = False
        self.left_running = False
        """Set when a job's tasks (or a remote job's polling) still run as the command ends."""
        self.supervisor: int | None = None
        """The pipe to tell a supervising parent process how far the command got (see :func:`_supervise`)."""

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        if self.held_by or self.stopping:
            self.pending = self.pending or signum
            return
        self.stopping = True
        raise _Stop(signum)

    @contextmanager
    def held(self) -> Iterator[None]:
        """Hold signals back (they are remembered) while the main thread submits or stores a job.

        Only the main thread holds them: a signal interrupts only the main
        thread, so another thread storing a job (a task reporting its remote
        id) needs no protection, and must not make a signal wait for a check
        that may never come.
        """
        if threading.current_thread() is not threading.main_thread():
            yield
            return
        self.held_by += 1
        try:
            yield
        finally:
            self.held_by -= 1

    def tell(self, what: bytes) -> None:
        """Tell the supervising process (if any) where the command is (see :func:`_supervise`)."""
        if self.supervisor is not None:
            with suppress(OSError):
                os.write(self.supervisor, what)

    def check(self) -> None:
        """Raise :class:`_Stop` for a signal that came while held."""
        if self.pending is not None and not self.held_by and not self.stopping:
            signum, self.pending = self.pending, None
            self.stopping = True
            raise _Stop(signum)

    @contextmanager
    def installed(self) -> Iterator[None]:
        """Handle the stop signals while the command runs (only the main thread can)."""
        self.pending, self.held_by, self.stopping, self.left_running = None, 0, False, False
        if threading.current_thread() is not threading.main_thread():
            yield
            return
        previous = {signum: signal.getsignal(signum) for signum in STOP_SIGNALS}
        for signum in STOP_SIGNALS:
            signal.signal(signum, self._handle)
        try:
            yield
        finally:
            for signum, handler in previous.items():
                signal.signal(signum, handler)


_SIGNALS = _Signals()


def _print_json(data: Any) -> None:
    print(json.dumps(data, indent=2, default=str))


def _error(message: str) -> None:
    print(f"error: {printable(message)}", file=sys.stderr)


@contextmanager
def _provider(args: argparse.Namespace) -> Iterator[Provider]:
    """A provider for the command; closed at the end, in the background if a job was left running."""
    from qdispatch.provider import Provider

    store_options = {"path": args.store_path} if getattr(args, "store_path", None) else None
    provider = Provider(
        executor=getattr(args, "executor", None), store=args.store, store_options=store_options
    )
    try:
        yield provider
    finally:
        with _SIGNALS.held():
            if _SIGNALS.left_running:  # closing would wait for the tasks left running
                threading.Thread(target=provider.close, name="qdispatch-close", daemon=True).start()
            else:
                provider.close()


def _counts(result: Any) -> Any:
    """Return the counts of a result: a dict for one circuit, a list for several; ``None`` where a circuit
    measured nothing (it has no counts)."""
    from qiskit.exceptions import QiskitError

    counts: list[dict[str, int] | None] = []
    for index in range(len(result.results)):
        try:
            counts.append(dict(result.get_counts(index)))
        except QiskitError:
            counts.append(None)
    return counts[0] if len(counts) == 1 else counts


def _add_counts(data: dict[str, Any], result: Any) -> None:
    """Put the counts of ``result`` into ``data``, with a note naming circuits that have none."""
    counts = _counts(result)
    data["counts"] = counts
    missing = [i for i, c in enumerate(counts if isinstance(counts, list) else [counts]) if c is None]
    if missing:
        which = "the circuit" if not isinstance(counts, list) else "circuit " + ", ".join(map(str, missing))
        data["note"] = f"{which} measured nothing, so there are no counts"


def _measures(circuit: QuantumCircuit) -> bool:
    """Whether ``circuit`` measures anything (inside control flow too)."""
    for instruction in circuit.data:
        operation = instruction.operation
        if operation.name == "measure":
            return True
        if any(_measures(block) for block in getattr(operation, "blocks", ())):
            return True
    return False


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
        _add_counts(data, job.result())
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
        _add_counts(data, record.result)
    return data


def _print_job(data: dict[str, Any]) -> None:
    from qdispatch.display import print_details

    text = {k: v for k, v in data.items() if k not in ("counts", "provenance", "note")}
    text["progress"] = f"{data['progress'][0]}/{data['progress'][1]} circuits"
    counts = data.get("counts")
    if isinstance(counts, list):
        text.update({f"counts[{i}]": c for i, c in enumerate(counts)})
    elif "counts" in data:
        text["counts"] = counts
    if "note" in data:
        text["note"] = data["note"]
    print_details(text)


class _Keeper:
    """Keeps a job in the store while the command waits for it.

    It is saved when submitted, whenever a task reports executor state (a
    remote service's job id, so that even SIGKILL cannot lose it) and at the
    end. Only the last save's failure is an error: the others warn once.
    """

    def __init__(self, job: Job, store: Store) -> None:
        self.job = job
        self.store = store
        self._lock = threading.Lock()
        self._closed = False
        self._warned = False

    def start(self) -> None:
        """Store the job now and each time a task reports state."""
        self.job.on_task_state(self.update)
        self.update(self.job)

    def update(self, job: Job) -> None:
        """Store the job as it is now (called on the thread of the task that reported state)."""
        with self._lock:
            if self._closed:
                return
            try:
                self.store.save(job.to_record())
            except Exception as exc:
                if not self._warned:
                    self._warned = True
                    warnings.warn(
                        f"job {job.job_id()} could not be stored yet ({exc}); qdispatch will try "
                        "again when it ends",
                        RuntimeWarning,
                        stacklevel=1,
                    )

    def final(self, record: JobRecord | None = None) -> str | None:
        """Store the job for good (``record``, else the job as it is); return why that failed, or ``None``."""
        with self._lock:
            self._closed = True
            try:
                if record is None:
                    self.job.persist(self.store)
                else:
                    self.store.save(record)
            except QDispatchError as exc:
                return str(exc)
            except Exception as exc:
                return f"{type(exc).__name__}: {exc}"
        return None


def _check_writable(store: Store, record: JobRecord) -> None:
    """Refuse to start a job whose store cannot be written, before anything runs (or is paid for).

    A compare-and-set save expecting a status no stored job has writes nothing
    where the store is writable, and fails first where it is read-only.
    """
    from qiskit.providers import JobStatus

    from qdispatch.capabilities import guarded_save

    save = guarded_save(store)
    if save is None:
        return  # no write can be tried without writing
    try:
        save(record, expected_status=JobStatus.VALIDATING)
    except (JobNotFoundError, JobStateError):
        return
    except StoreError as exc:
        raise StoreError(f"job {record.job_id} was not started: its store cannot be written: {exc}") from None


def _probe_record(job_id: str, backend: str, executor: str) -> JobRecord:
    """A record of no circuits under the id a new job will have, to check the store takes writes."""
    import qiskit
    from qiskit.providers import JobStatus

    from qdispatch._version import qdispatch_version
    from qdispatch.circuits import CircuitBatch
    from qdispatch.records import JobRecord, Provenance, utcnow

    return JobRecord(
        job_id=job_id,
        backend=backend,
        executor=executor,
        shots=1,
        circuits=CircuitBatch([]),
        status=JobStatus.QUEUED,
        created_at=utcnow(),
        provenance=Provenance(qdispatch_version=qdispatch_version(), qiskit_version=qiskit.__version__),
    )


def _keeps_running(job: Job) -> bool:
    """Whether ``job`` runs on a remote service a later process can resume (stopping need not cancel it)."""
    from qdispatch.capabilities import resumable

    return resumable(job.executor()) is not None and job.to_record().remote


def _come_back(job_id: str, args: argparse.Namespace) -> list[str]:
    """The commands to follow or cancel ``job_id`` later, with this command's store options."""
    import shlex

    store = [
        f"--{name.replace('_', '-')} {shlex.quote(value)}"
        for name in ("store", "store_path")
        if (value := getattr(args, name, None))
    ]
    tail = " ".join(["", *store])
    return [f"  follow it: qdispatch restore {job_id}{tail}", f"  cancel it: qdispatch cancel {job_id}{tail}"]


def _stop_job(job: Job) -> JobRecord | None:
    """Cancel ``job`` and give its tasks :data:`GRACE_SECONDS` to end.

    Return the record to store if a task is still running then: it is left
    behind as the command ends, so the job is stored as CANCELLED.
    """
    import attrs
    from qiskit.providers import JobStatus
    from qiskit.providers.exceptions import JobTimeoutError

    from qdispatch.records import utcnow

    job.cancel()
    with suppress(JobTimeoutError):
        job.wait_for_final_state(timeout=GRACE_SECONDS, wait=0.1)
    if job.in_final_state():
        return None
    _SIGNALS.left_running = True
    return attrs.evolve(job.to_record(), status=JobStatus.CANCELLED, finished_at=utcnow(), result=None)


def _finish(job: Job, keeper: _Keeper | None, args: argparse.Namespace) -> int:
    """Wait for ``job`` showing progress, store it, print it; return 0 if it is DONE.

    On ``--timeout`` the job is cancelled; on Ctrl-C, SIGTERM or SIGHUP too,
    unless a remote service runs it (then it keeps running there). Tasks still
    running get :data:`GRACE_SECONDS` to end; the job is stored either way.
    ``keeper`` is ``None`` for a job that had finished before (nothing to store).
    """
    from qiskit.providers.exceptions import JobTimeoutError

    from qdispatch.display import choose_progress, follow_progress

    stop: _Stop | None = None
    timed_out = False
    try:
        _SIGNALS.tell(b"w")
        _SIGNALS.check()
        follow_progress(job, choose_progress(args.progress, sys.stderr), timeout=args.timeout)
    except JobTimeoutError:
        timed_out = True
    except _Stop as exc:
        stop = exc
    with _SIGNALS.held():
        if stop is not None and _keeps_running(job):
            return _leave_running(job, keeper, stop, args)
        record = _stop_job(job) if (stop is not None or timed_out) else None
        problem = keeper.final(record) if keeper is not None else None
        data = _job_data(job)
        if record is not None:
            data["status"] = record.status.name
        if args.json:
            _print_json(data)
        else:
            _print_job(data)
        job_id = job.job_id()
        if problem is not None:
            _error(f"job {job_id} ended {data['status']} but could not be stored: {problem}")
        if stop is not None:
            left = "; a task still running was abandoned" if record is not None else ""
            stored = "not stored" if problem else "stored"
            _error(f"{stop.name}: job {job_id} stopped and {stored} as {data['status']}{left}")
            return 128 + stop.signum
        if timed_out and data["status"] != "DONE":
            left = " (a task still running was abandoned)" if record is not None else ""
            _error(f"job {job_id} did not finish within {args.timeout:g} s; it ended {data['status']}{left}")
            return 1
        if data["status"] != "DONE":
            reason = f": {data['error_message']}" if data["error_message"] else ""
            _error(f"job {job_id} ended {data['status']}{reason}")
            return 1
        return 1 if problem is not None else 0


def _leave_running(job: Job, keeper: _Keeper | None, stop: _Stop, args: argparse.Namespace) -> int:
    """Store a remote job as it is (with its remote ids) and leave it running on its service."""
    _SIGNALS.left_running = True  # the executor is still polling the service
    problem = keeper.final() if keeper is not None else None
    data = _job_data(job)
    if args.json:
        _print_json(data)
    job_id = job.job_id()
    if problem is not None:
        states = json.dumps([chunk.state for chunk in job.to_record().chunks])
        _error(
            f"{stop.name}: job {job_id} keeps running on its service but could not be stored: {problem}; "
            f"its remote state: {states}"
        )
        return 128 + stop.signum
    print(
        printable(
            f"{stop.name}: job {job_id} keeps running on its service (not cancelled); it is stored "
            f"{data['status']} with its remote id"
        ),
        file=sys.stderr,
    )
    for line in _come_back(job_id, args):
        print(printable(line), file=sys.stderr)
    return 128 + stop.signum


# -- commands ------------------------------------------------------------------------


def cmd_run(args: argparse.Namespace) -> int:
    """Run OpenQASM files as one job and print the job id and counts."""
    from qdispatch.capabilities import resumable
    from qdispatch.circuit_files import load_qasm
    from qdispatch.compile import transpile_for
    from qdispatch.jobids import new_job_id, validate_job_id

    circuits = [load_qasm(path) for path in args.files]
    for path, circuit in zip(args.files, circuits, strict=True):
        if not _measures(circuit):
            raise InvalidInputError(
                f"{path} measures nothing, so the job would have no counts; add measurements "
                "(such as 'measure q -> c;')"
            )
    job_id = new_job_id() if args.job_id is None else validate_job_id(args.job_id)
    args.job_id = job_id
    options: dict[str, Any] = {"job_id": job_id}
    if args.seed is not None:
        options["seed_simulator"] = args.seed
    if args.max_circuits_per_task is not None:
        options["max_circuits_per_task"] = args.max_circuits_per_task
    with _provider(args) as provider:
        backend = provider.get_backend(args.backend)
        transpiled = transpile_for(backend, circuits)
        store = provider.store
        _check_writable(store, _probe_record(job_id, backend.name, backend.executor_name))
        with _SIGNALS.held():
            _SIGNALS.tell(b"r" if resumable(provider.executor(backend.executor_name)) else b"s")
            job = provider.prepare(backend, transpiled, shots=args.shots, tags=args.tag or None, **options)
            keeper = _Keeper(job, store)
            keeper.start()  # stored before any task runs: a task may hold the interpreter lock at once
            job.submit()
            keeper.update(job)
        if not args.json:
            print(
                printable(f"job {job.job_id()} submitted to {backend.name} on {job.executor_name}"),
                file=sys.stderr,
            )
        return _finish(job, keeper, args)


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
        if "note" in data:
            raise JobStateError(record.job_id, f"job {record.job_id}: {data['note']} to plot")
        data["plot"] = {"path": str(args.plot), "bars": _plot(data["counts"], args.plot, record.job_id)}
    if args.json:
        _print_json(data)
        return 0
    _print_job({k: v for k, v in data.items() if k != "plot"})
    if args.plot:
        print(printable(f"histogram written to {args.plot}"))
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
    id and its executor can resume it) is cancelled on the service too. Any
    other job's record is marked CANCELLED, only if it is still in the status
    read (compare and set); a process still running that job is not stopped.
    """
    with _provider(args) as provider:
        before = provider.store.load(args.job_id)
        remote = not before.finished and provider.can_resume(before)
        try:
            cancelled = provider.cancel(args.job_id)
        except JobStateError:
            now = provider.store.load(args.job_id)
            if before.finished or not now.finished:
                raise
            raise JobStateError(
                args.job_id,
                f"job {args.job_id} finished meanwhile (now {now.status.name}); nothing cancelled",
            ) from None
        status = provider.store.load(args.job_id).status.name
    if args.json:
        _print_json({"job_id": args.job_id, "cancelled": cancelled, "status": status})
    elif cancelled and remote:
        print(f"job {args.job_id} cancelled on its service; stored as {status}")
    elif cancelled:
        print(
            f"job {args.job_id} marked {status} in the store (it was {before.status.name}); qdispatch will "
            "not "
            "run it again, but a process still running it is not stopped"
        )
    if not cancelled:
        _error(
            f"job {args.job_id} could not be cancelled (its service is already running it); status {status}"
        )
        return 1
    return 0


def cmd_restore(args: argparse.Namespace) -> int:
    """Restore a stored job: an unfinished one runs again (or resumes), then its result is printed."""
    with _provider(args) as provider:
        store = provider.store
        record = store.load(args.job_id)
        if not record.finished:
            _check_writable(store, record)
        with _SIGNALS.held():
            _SIGNALS.tell(b"r" if not record.finished and provider.can_resume(record) else b"s")
            job = provider.job(args.job_id)  # warns when an unfinished job is submitted again
            keeper = None if record.finished else _Keeper(job, store)
            if keeper is not None:
                keeper.start()
        return _finish(job, keeper, args)


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


def _seconds(text: str) -> float:
    """Parse ``--timeout``: finite seconds, 0 or more (0: stop at once unless already finished)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of seconds, not {text!r}") from None
    if not math.isfinite(value) or value < 0:
        raise argparse.ArgumentTypeError(f"expected a finite number of seconds, 0 or more, not {text!r}")
    return value


def _positive_seconds(text: str) -> float:
    """Parse a number of seconds greater than 0."""
    value = _seconds(text)
    if value == 0:
        raise argparse.ArgumentTypeError("expected a number of seconds greater than 0, not '0'")
    return value


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
        p.add_argument(
            "--timeout",
            type=_seconds,
            metavar="SECONDS",
            help="seconds to wait (0 or more) before cancelling the job and storing it",
        )

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
        "--timeout", type=_positive_seconds, default=60.0, help="seconds any one wait may take (default: 60)"
    )
    return parser


STOP_MARGIN = GRACE_SECONDS + 3.0
"""How long a supervising process lets the command stop by itself (after a signal, or past ``--timeout``)."""


def _supervise(args: argparse.Namespace) -> int | None:
    """Fork: the child runs the command; the parent returns its exit status once it ends.

    A simulator may hold the interpreter lock for as long as a task runs, so
    the process running it cannot act on a signal (or on ``--timeout``) until
    the task ends. The parent holds no such lock: it passes SIGINT, SIGTERM and
    SIGHUP on, and if the child has not ended :data:`STOP_MARGIN` seconds after
    one (or after ``--timeout``), it kills the child and stores the job as the
    child would have: a local job CANCELLED, a remote one left running.
    Returns ``None`` in the child.
    """
    read_end, write_end = os.pipe()
    for stream in (sys.stdout, sys.stderr):
        stream.flush()
    pid = os.fork()
    if pid == 0:
        os.close(read_end)
        _SIGNALS.supervisor = write_end
        return None
    os.close(write_end)
    received: list[int] = []

    def forward(signum: int, frame: FrameType | None) -> None:
        received.append(signum)
        with suppress(ProcessLookupError):
            os.kill(pid, signum)

    for signum in STOP_SIGNALS:
        signal.signal(signum, forward)
    import select
    import time

    started: float | None = None  # when the child began to submit the job
    remote = False  # its executor hands it to a remote service: never kill the child while it submits
    submitted = False
    stopped: float | None = None
    timeout = getattr(args, "timeout", None)
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            os.close(read_end)
            code = os.waitstatus_to_exitcode(status)
            return code if code >= 0 else 128 - code
        now = time.monotonic()
        while select.select([read_end], [], [], 0)[0]:
            news = os.read(read_end, 16)
            if not news:
                break
            if started is None:
                started, remote = now, news.startswith(b"r")
            if b"w" in news:
                submitted = True
                started = now if remote else started
        if stopped is None and received:
            stopped = now
        deadlines = []
        if stopped is not None:
            deadlines.append(stopped + STOP_MARGIN)
        if timeout is not None and started is not None:
            deadlines.append(started + timeout + STOP_MARGIN)
        if deadlines and now >= min(deadlines) and (submitted or not remote):
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            os.close(read_end)
            try:
                return _after_kill(args, received[0] if received else None)
            except QDispatchError as exc:
                _error(str(exc))
                return 1
        time.sleep(0.05)


def _after_kill(args: argparse.Namespace, signum: int | None) -> int:
    """Store the job of a child killed while a task held it: CANCELLED if local, as it is if remote."""
    why = f"{signal.Signals(signum).name}: " if signum is not None else ""
    code = 128 + signum if signum is not None else 1
    job_id = args.job_id
    with _provider(args) as provider:
        store = provider.store
        try:
            record = store.load(job_id)
        except JobNotFoundError:
            _error(f"{why}stopped before job {job_id} was submitted; nothing was stored")
            return code
        if not record.finished and record.remote:
            if args.json:
                _print_json(_record_data(record))
            print(
                printable(
                    f"{why}job {job_id} keeps running on its service (not cancelled); it is stored "
                    f"{record.status.name} with its remote id"
                ),
                file=sys.stderr,
            )
            for line in _come_back(job_id, args):
                print(printable(line), file=sys.stderr)
            return code
        left = ""
        if not record.finished:
            left = "; a task still running was abandoned"
            try:
                provider.cancel(job_id)  # compare-and-set: a job that finished meanwhile stays as it is
            except QDispatchError as exc:
                _error(f"{why}job {job_id} was stopped but could not be stored as CANCELLED: {exc}")
                return code
            record = store.load(job_id)
    data = _record_data(record)
    if args.json:
        _print_json(data)
    else:
        _print_job(data)
    if signum is None:
        if record.status.name == "DONE":
            return 0
        _error(f"job {job_id} did not finish within {args.timeout:g} s; it ended {record.status.name}{left}")
        return 1
    _error(f"{why}job {job_id} stopped and stored as {record.status.name}{left}")
    return code


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``qdispatch`` command; return its exit status.

    As the program itself (``argv`` not given), a command that leaves a job's
    tasks running (after Ctrl-C, a signal or ``--timeout``) exits at once
    rather than wait for them.
    """
    args = build_parser().parse_args(argv)
    if argv is None and args.func in (cmd_run, cmd_restore) and hasattr(os, "fork"):
        if args.func is cmd_run and args.job_id is None:
            from qdispatch.jobids import new_job_id

            args.job_id = new_job_id()  # the parent must know it, to store the job if it has to
        status = _supervise(args)
        if status is not None:
            return status
    original_format = warnings.formatwarning
    with warnings.catch_warnings(), _SIGNALS.installed():
        warnings.simplefilter("default")
        warnings.formatwarning = lambda message, category, *_a, **_k: f"warning: {printable(message)}\n"
        try:
            code: int = args.func(args)
        except QDispatchError as exc:
            _error(str(exc))
            code = 1
        except (KeyboardInterrupt, _Stop) as exc:
            name, signum = (exc.name, exc.signum) if isinstance(exc, _Stop) else ("SIGINT", signal.SIGINT)
            print(f"interrupted ({name})", file=sys.stderr)
            code = 128 + signum
        except BrokenPipeError:  # the reader went away (``qdispatch jobs | head``)
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            code = 1
        finally:
            warnings.formatwarning = original_format
        left_running = _SIGNALS.left_running
    if left_running and argv is None:
        for stream in (sys.stdout, sys.stderr):
            with suppress(Exception):
                stream.flush()
        os._exit(code)
    return code


if __name__ == "__main__":
    raise SystemExit(main())
