"""Check a plugin's executor, store or backend against the plugin contract.

Plugin authors run these in their tests, or ``qdispatch check-plugin NAME``
on the command line::

    from qdispatch.contract import check_executor

    def test_my_executor_keeps_the_contract():
        check_executor("my_executor").assert_ok()

Executors are checked with :class:`ProbeTask`, a :class:`qdispatch.Task` that
needs no backend plugin (it simulates with Qiskit's ``BasicSimulator``) and
that can wait for a signal file before it finishes: so the checks can keep
every worker busy and cancel a task that is certainly still queued, without
relying on timing. The executor's workers must share this machine's file
system (true of threads, processes and a local Dask cluster).

Stores are checked in a fresh temporary location when they take a ``path``
option, so your real jobs are never touched.
"""

from __future__ import annotations

import inspect
import json
import tempfile
import threading
import time
import uuid
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import CancelledError, Future
from contextlib import contextmanager, suppress
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import attrs

from qdispatch.errors import (
    InvalidInputError,
    InvalidJobIdError,
    JobNotFoundError,
    PluginNotFoundError,
    TaskCancelledError,
)
from qdispatch.hookspecs import hookimpl
from qdispatch.plugins import KINDS, Kind, PluginManager, get_plugin_manager
from qdispatch.task import Task

if TYPE_CHECKING:
    from qiskit import QuantumCircuit
    from qiskit.result import Result

    from qdispatch.plugins import Register
    from qdispatch.protocols import Executor, Store
    from qdispatch.provider import Provider
    from qdispatch.records import JobRecord

Outcome = Literal["passed", "failed", "skipped"]

PROBE_BACKEND = "contract_probe"
"""The backend name of probe tasks and of the in-process probe device."""

SHOTS = 64
"""Shots per probe circuit."""

SUBMIT_GRACE = 10.0
"""Seconds ``submit`` may take (at most half the checks' timeout) before it counts as
blocking until the task ran."""


@attrs.frozen
class Check:
    """The outcome of one check: ``passed``, ``failed`` or ``skipped``, and why."""

    name: str
    outcome: Outcome
    detail: str = ""


@attrs.frozen
class ContractReport:
    """What :func:`check_executor`, :func:`check_store` or :func:`check_backend` found."""

    kind: Kind
    name: str
    checks: tuple[Check, ...]

    @property
    def ok(self) -> bool:
        """Whether no check failed (skipped checks are optional parts of the contract)."""
        return not self.failed

    @property
    def failed(self) -> list[Check]:
        """The checks that failed."""
        return [c for c in self.checks if c.outcome == "failed"]

    def outcome(self, check: str) -> Outcome:
        """Return the outcome of the check named ``check``."""
        for c in self.checks:
            if c.name == check:
                return c.outcome
        raise KeyError(check)

    def to_dict(self) -> dict[str, Any]:
        """Return the report as JSON-safe data."""
        return {
            "kind": self.kind,
            "name": self.name,
            "ok": self.ok,
            "checks": [attrs.asdict(c) for c in self.checks],
        }

    def assert_ok(self) -> None:
        """Raise ``AssertionError`` with the whole report if a check failed (for pytest)."""
        if not self.ok:
            raise AssertionError(str(self))

    def __str__(self) -> str:
        counts = {o: sum(c.outcome == o for c in self.checks) for o in ("passed", "failed", "skipped")}
        lines = [f"{self.kind} {self.name!r}: " + ", ".join(f"{n} {o}" for o, n in counts.items())]
        width = max((len(c.name) for c in self.checks), default=0)
        lines += [f"  {c.outcome:<7}  {c.name:<{width}}  {c.detail}" for c in self.checks]
        return "\n".join(lines)


class Skip(Exception):
    """Raised by a check that does not apply; its message says why."""


class Failure(Exception):
    """Raised by a check that found the contract broken; its message says how."""


class _Checks:
    """Runs checks one after another and collects their outcomes."""

    def __init__(self) -> None:
        self.items: list[Check] = []

    def run(self, name: str, check: Callable[[], str]) -> bool:
        """Run ``check``; record passed with its returned detail, skipped, or failed."""
        try:
            detail = check()
        except Skip as skip:
            self.items.append(Check(name, "skipped", str(skip)))
            return False
        except Failure as failure:
            self.items.append(Check(name, "failed", str(failure)))
            return False
        except Exception as exc:
            self.items.append(Check(name, "failed", f"{type(exc).__name__}: {exc}"))
            return False
        self.items.append(Check(name, "passed", detail))
        return True

    def skip_rest(self, names: Sequence[str], reason: str) -> None:
        """Record ``names`` as skipped because an earlier check failed."""
        for name in names:
            self.items.append(Check(name, "skipped", reason))


# -- the probe: a task, device and plugin that need no backend plugin ---------------


def probe_circuits(first: int, count: int) -> list[QuantumCircuit]:
    """Return ``count`` two-qubit circuits; circuit ``k`` always measures ``format(k % 4, '02b')``."""
    from qiskit import QuantumCircuit

    circuits = []
    for k in range(first, first + count):
        qc = QuantumCircuit(2, name=f"probe-{k % 4}")
        for qubit in range(2):
            if (k % 4) >> qubit & 1:
                qc.x(qubit)
        qc.measure_all()
        circuits.append(qc)
    return circuits


def expected_bitstring(k: int) -> str:
    """Return what probe circuit ``k`` measures."""
    return format(k % 4, "02b")


def _simulate(circuits: Sequence[QuantumCircuit], shots: int) -> Result:
    from qiskit.providers.basic_provider import BasicSimulator

    return BasicSimulator().run(list(circuits), shots=shots, seed_simulator=1).result()


class ProbeTask(Task):
    """A :class:`qdispatch.Task` that runs without any backend plugin.

    Its ``run_options`` steer it: ``probe_marker`` (a path created when it
    starts), ``probe_release`` (a path it waits for before finishing, at most
    ``probe_timeout`` seconds) and ``probe_fail`` (a message it raises). It
    pickles like any task, so it runs in any process on this machine.
    """

    __slots__ = ()

    def run(self) -> Result:
        """Mark the start, wait for the release, fail if asked, else simulate the circuits."""
        self.report_started()
        options = self.run_options
        if options.get("probe_marker"):
            Path(options["probe_marker"]).touch()
        release = options.get("probe_release")
        if release:
            deadline = time.monotonic() + float(options.get("probe_timeout", 60.0))
            while not Path(release).exists():
                if time.monotonic() > deadline:
                    raise TimeoutError(f"probe task {self.job_id} was never released")
                time.sleep(0.01)
        if options.get("probe_fail"):
            raise RuntimeError(options["probe_fail"])
        return _simulate(self.circuits, self.shots)


class ProbeDevice:
    """A device on Qiskit's ``BasicSimulator``, registered only on the checks' own plugin manager."""

    name = PROBE_BACKEND
    max_shots = 10_000
    max_circuits: int | None = None
    executor: str | None = None
    secret_options: frozenset[str] = frozenset()

    def __init__(self) -> None:
        from qiskit.transpiler import Target

        self.target: Target = Target.from_configuration(basis_gates=["x", "sx", "rz", "cx", "measure"], num_qubits=4)

    def run_circuits(self, circuits: Sequence[QuantumCircuit], shots: int, run_options: Mapping[str, Any]) -> Result:
        """Simulate ``circuits``."""
        return _simulate(circuits, shots)

    def provenance(self) -> dict[str, Any]:
        """Return the simulator and its version."""
        import qiskit

        return {"simulator": "basic_simulator", "simulator_version": qiskit.__version__, "seed": 1, "noise_fingerprint": None}


class _ProbePlugin:
    @hookimpl
    def register_backends(self, register: Register) -> None:
        register(PROBE_BACKEND, ProbeDevice)


def _with_probe(pm: PluginManager) -> PluginManager:
    """Return a new plugin manager with ``pm``'s plugins and the probe device."""
    copy = PluginManager()
    for name, plugin in pm.list_name_plugin():
        if plugin is not None:
            copy.register(plugin, name=name)
    copy.register(_ProbePlugin(), name="qdispatch-contract-probe")
    return copy


@contextmanager
def _provider(pm: PluginManager, **kwargs: Any) -> Iterator[Provider]:
    """A provider on ``pm`` that ignores the user's configuration file and environment."""
    from qdispatch.config import Settings
    from qdispatch.provider import Provider

    with Provider(settings=Settings(), plugin_manager=pm, **kwargs) as provider:
        yield provider


def _counts_fit(result: Result, first: int, count: int, shots: int, exact: bool) -> None:
    """Raise :class:`Failure` unless ``result`` holds the probe circuits' outcomes."""
    from qiskit.result import Result

    if not isinstance(result, Result):
        raise Failure(f"the result is a {type(result).__name__}, not a qiskit.result.Result")
    if not result.success:
        raise Failure(f"the result reports failure: {getattr(result, 'status', '')}")
    if len(result.results) != count:
        raise Failure(f"the result holds {len(result.results)} experiments, expected {count}")
    for j in range(count):
        counts = result.get_counts(j)
        want = expected_bitstring(first + j)
        if sum(counts.values()) != shots:
            raise Failure(f"circuit {j}: {sum(counts.values())} shots counted, expected {shots}")
        if (counts != {want: shots}) if exact else (max(counts, key=counts.get) != want):
            raise Failure(f"circuit {j}: counts {counts}, expected mostly {want!r}")


def _wait_for(paths: Sequence[Path], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while not all(p.exists() for p in paths):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


# -- executors --------------------------------------------------------------------


EXECUTOR_CHECKS = ("create", "submit", "result", "error", "cancel queued", "cancel running",
                   "resume", "persist/restore round trip", "shutdown")
"""The executor checks, in the order they run."""


class _ExecutorChecks:
    def __init__(self, pm: PluginManager, name: str, options: Mapping[str, Any], backend: str | None,
                 work: Path, timeout: float) -> None:
        self.pm, self.name, self.options, self.backend = pm, name, dict(options), backend
        self.work, self.timeout = work, timeout
        self.executor: Executor | None = None
        self.submitted: Future[Result] | None = None

    def path(self, tag: str, kind: str) -> Path:
        return self.work / f"{tag}.{kind}"

    def task(self, tag: str, *, first: int = 0, count: int = 1, block: bool = False, fail: str | None = None) -> ProbeTask:
        from qdispatch.circuits import CircuitBatch

        options: dict[str, Any] = {"probe_marker": str(self.path(tag, "started")), "probe_timeout": self.timeout}
        if block:
            options["probe_release"] = str(self.path(tag, "release"))
        if fail:
            options["probe_fail"] = fail
        return ProbeTask(job_id=f"contract-{tag}", index=0, circuits=CircuitBatch(probe_circuits(first, count)),
                         backend=PROBE_BACKEND, backend_options={}, shots=SHOTS, run_options=options, start=first)

    def release(self, *tags: str) -> None:
        for tag in tags:
            self.path(tag, "release").touch()

    def submit(self, task: Task) -> Future[Result]:
        assert self.executor is not None
        future = self.executor.submit(task)
        if not isinstance(future, Future):
            raise Failure(f"submit() returned a {type(future).__name__}, not a concurrent.futures.Future")
        return future

    def check_create(self) -> str:
        from qdispatch.protocols import Executor

        executor = self.pm.create("executor", self.name, self.options)
        if not isinstance(executor, Executor):
            raise Failure(f"{type(executor).__name__} lacks submit() or shutdown()")
        self.executor = executor
        return f"factory returned {type(executor).__name__}"

    def check_submit(self) -> str:
        task = self.task("submit", block=True)
        box: dict[str, Any] = {}

        def call() -> None:
            try:
                box["future"] = self.submit(task)
            except BaseException as exc:
                box["error"] = exc

        caller = threading.Thread(target=call, daemon=True)
        caller.start()
        caller.join(min(SUBMIT_GRACE, self.timeout / 2))
        self.release("submit")
        if caller.is_alive():
            caller.join(self.timeout)
            raise Failure("submit() did not return while the task was still running; it must return a future at once")
        if "error" in box:
            raise box["error"]
        self.submitted = box["future"]
        return "returned a Future before the task finished"

    def check_result(self) -> str:
        if self.submitted is None:
            raise Skip("submit failed")
        _counts_fit(self.submitted.result(self.timeout), 0, 1, SHOTS, exact=True)
        futures = [self.submit(self.task(f"many-{i}", first=i, count=2)) for i in range(4)]
        for i, future in enumerate(futures):
            _counts_fit(future.result(self.timeout), i, 2, SHOTS, exact=True)
        return "each future gave its own task's Result (5 tasks)"

    def check_error(self) -> str:
        message = "contract probe failure"
        future = self.submit(self.task("error", fail=message))
        error = future.exception(self.timeout)
        if error is None:
            raise Failure("a task that raised gave a result instead of an exception")
        if message not in str(error):
            raise Failure(f"the future's exception ({type(error).__name__}: {error}) lost the task's message")
        return f"the future raised the task's error ({type(error).__name__})"

    def check_cancel_queued(self) -> str:
        workers = getattr(self.executor, "max_workers", None)
        if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
            raise Skip("the executor has no max_workers attribute, so no task can be kept queued")
        busy = [f"busy-{i}" for i in range(workers)]
        try:
            blockers = [self.submit(self.task(tag, block=True)) for tag in busy]
            if not _wait_for([self.path(tag, "started") for tag in busy], self.timeout):
                started = sum(self.path(tag, "started").exists() for tag in busy)
                raise Failure(f"only {started} of max_workers={workers} tasks started within {self.timeout:g} s")
            queued = self.submit(self.task("queued"))
            cancelled = queued.cancel()
            stop = getattr(self.executor, "cancel", None)
            if not cancelled and stop is not None:
                cancelled = bool(stop(queued))
        finally:
            self.release(*busy)
        for future in blockers:
            future.result(self.timeout)
        self.submit(self.task("after-queued")).result(self.timeout)
        if not cancelled:
            raise Failure("cancelling a task still waiting for a worker returned False")
        if self.path("queued", "started").exists():
            raise Failure("a task whose cancel returned True ran anyway")
        if not queued.done() or not (queued.cancelled() or isinstance(queued.exception(0), TaskCancelledError)):
            raise Failure("the future of the cancelled task did not end cancelled")
        return f"cancelled a queued task behind {workers} busy worker(s); it never ran"

    def check_cancel_running(self) -> str:
        stop = getattr(self.executor, "cancel", None)
        if stop is None:
            raise Skip("optional cancel(future) not offered: running tasks always finish")
        try:
            future = self.submit(self.task("running", block=True))
            if not _wait_for([self.path("running", "started")], self.timeout):
                raise Failure(f"the task did not start within {self.timeout:g} s")
            stopped = bool(stop(future))
        finally:
            self.release("running")  # a task that was really stopped never sees it
        try:
            future.result(self.timeout)
        except (CancelledError, TaskCancelledError):
            if stopped:
                return "stopped a running task; its future raised TaskCancelledError"
            raise Failure("cancel(future) returned False, yet the task was stopped") from None
        if stopped:
            raise Failure("cancel(future) returned True, yet the task finished with a result")
        return "declined to stop a running task (allowed); it finished normally"

    def check_resume(self) -> str:
        if getattr(self.executor, "resume", None) is None:
            raise Skip("optional resume(task, state) not offered")
        raise Skip("resume(task, state) is offered; checking it needs the executor's remote service")

    def check_round_trip(self) -> str:
        from qiskit.providers import JobStatus

        from qdispatch.compile import transpile_for
        from qdispatch.job import Job

        backend_name = self.backend or ("aer" if "aer" in self.pm.names("backend") else None)
        if backend_name is None:
            raise Skip("no backend to run a job on: pass backend=NAME (--backend NAME)")
        store = {"store": "file", "store_options": {"path": str(self.work / "jobs")}}
        with _provider(self.pm, executor=self.name, executor_options=self.options, **store) as provider:
            backend = provider.get_backend(backend_name)
            if backend.executor_name != self.name:
                raise Skip(f"backend {backend_name!r} always runs on executor {backend.executor_name!r}")
            circuits = transpile_for(backend, probe_circuits(1, 2))
            job = backend.run(circuits, shots=SHOTS, max_circuits_per_task=1)
            _counts_fit(job.result(self.timeout), 1, 2, SHOTS, exact=False)
            job.persist()
            unfinished = attrs.evolve(job.to_record(), job_id=f"{job.job_id()}-again", status=JobStatus.QUEUED,
                                       result=None, finished_at=None)
            provider.store.save(unfinished)
        with _provider(self.pm, executor=self.name, executor_options=self.options, **store) as provider:
            restored = Job.restore(job.job_id(), provider=provider)
            if restored.resubmitted or restored.status() is not JobStatus.DONE:
                raise Failure("a finished job did not come back DONE without running again")
            if restored.result().get_counts() != job.result().get_counts():
                raise Failure("the restored job's counts differ from the original's")
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)
                again = Job.restore(unfinished.job_id, provider=provider)
            if not again.resubmitted or again.executor_name != self.name:
                raise Failure(f"an unfinished job was not submitted again on {self.name!r}")
            _counts_fit(again.result(self.timeout), 1, 2, SHOTS, exact=False)
        return f"a job on {backend_name!r} ran in 2 tasks, came back finished, and an unfinished copy re-ran"

    def check_shutdown(self) -> str:
        assert self.executor is not None
        last = self.submit(self.task("last"))
        closer = threading.Thread(target=self.executor.shutdown, kwargs={"wait": True}, daemon=True)
        closer.start()
        closer.join(self.timeout)
        if closer.is_alive():
            raise Failure(f"shutdown(wait=True) did not return within {self.timeout:g} s")
        if not last.done():
            raise Failure("shutdown(wait=True) returned while a task was still pending or running")
        try:
            late = self.executor.submit(self.task("late"))
        except Exception as exc:
            return f"waited for its tasks; submit() afterwards raised {type(exc).__name__}"
        late.cancel()
        raise Failure("submit() after shutdown() returned a future; it must raise (qdispatch.ExecutorError)")

    def close(self) -> None:
        for path in self.work.glob("*.started"):
            self.path(path.name[: -len(".started")], "release").touch()
        if self.executor is not None:
            with suppress(Exception):
                self.executor.shutdown(wait=False)


def check_executor(
    name: str,
    options: Mapping[str, Any] | None = None,
    *,
    backend: str | None = None,
    timeout: float = 60.0,
    plugin_manager: PluginManager | None = None,
) -> ContractReport:
    """Check the executor ``name`` against the contract; return what passed and failed.

    Checks, in order: ``create`` (the factory builds an object with ``submit``
    and ``shutdown``), ``submit`` (returns a ``Future`` at once), ``result``
    (each future gives its own task's ``Result``), ``error`` (a task's
    exception reaches its future), ``cancel queued`` (needs a ``max_workers``
    attribute: with every worker busy, a queued task is cancelled and never
    runs), ``cancel running`` (optional ``cancel(future)`` tells the truth),
    ``resume`` (optional), ``persist/restore round trip`` (a job on ``backend``
    persisted and restored; an unfinished copy runs again on this executor)
    and ``shutdown`` (waits, then refuses new tasks).

    :param name: the registered executor name.
    :param options: options for its factory (default: none).
    :param backend: the backend for the round trip (default: ``aer`` if installed).
    :param timeout: seconds any one wait may take before the check fails.
    :param plugin_manager: where to look ``name`` up (default: the shared one).
    """
    pm = plugin_manager if plugin_manager is not None else get_plugin_manager()
    pm.registration("executor", name)
    checks = _Checks()
    with tempfile.TemporaryDirectory(prefix="qdispatch-contract-", ignore_cleanup_errors=True) as work:
        run = _ExecutorChecks(pm, name, options or {}, backend, Path(work), timeout)
        try:
            if checks.run("create", run.check_create):
                steps = [("submit", run.check_submit), ("result", run.check_result), ("error", run.check_error),
                         ("cancel queued", run.check_cancel_queued), ("cancel running", run.check_cancel_running),
                         ("resume", run.check_resume), ("persist/restore round trip", run.check_round_trip),
                         ("shutdown", run.check_shutdown)]
                for check, step in steps:
                    checks.run(check, step)
            else:
                checks.skip_rest(EXECUTOR_CHECKS[1:], "the executor could not be created")
        finally:
            run.close()
    return ContractReport("executor", name, tuple(checks.items))


# -- stores -----------------------------------------------------------------------


STORE_CHECKS = ("create", "save and load", "replace", "list", "delete", "job ids", "reopen",
                "persist/restore round trip")
"""The store checks, in the order they run."""

_RECORD_FIELDS = ("format_version", "job_id", "backend", "backend_options", "executor", "shots", "run_options",
                  "chunks", "status", "created_at", "submitted_at", "finished_at", "error_message", "tags",
                  "provenance")


def _differences(expected: JobRecord, actual: object) -> list[str]:
    """Return the names of the record fields that did not survive the store."""
    from qdispatch.records import JobRecord

    if not isinstance(actual, JobRecord):
        return [f"load() returned a {type(actual).__name__}, not a JobRecord"]
    wrong = [f for f in _RECORD_FIELDS if getattr(expected, f) != getattr(actual, f)]
    if list(expected.circuits) != list(actual.circuits):
        wrong.append("circuits")
    want = expected.result.get_counts() if expected.result is not None else None
    got = actual.result.get_counts() if actual.result is not None else None
    if want != got:
        wrong.append("result")
    return wrong


class _StoreChecks:
    def __init__(self, pm: PluginManager, name: str, options: Mapping[str, Any], timeout: float) -> None:
        self.pm, self.name, self.options, self.timeout = pm, name, dict(options), timeout
        self.store: Store | None = None
        self.saved: dict[str, JobRecord] = {}
        self.base = datetime(2024, 1, 1, 12, 0, tzinfo=UTC)
        self.prefix = f"contract-{uuid.uuid4().hex[:8]}"

    def record(self, suffix: str, *, status: Any = None, backend: str = PROBE_BACKEND,
               tags: tuple[str, ...] = ("contract",), minutes: int = 0) -> JobRecord:
        import qiskit
        from qiskit.providers import JobStatus

        from qdispatch._version import qdispatch_version
        from qdispatch.circuits import CircuitBatch
        from qdispatch.records import ChunkRecord, JobRecord, Provenance

        circuits = probe_circuits(1, 2)
        created = self.base + timedelta(minutes=minutes)
        return JobRecord(
            job_id=f"{self.prefix}-{suffix}", backend=backend, backend_options={"seed_simulator": 1},
            executor="thread", shots=SHOTS, run_options={"memory": False}, circuits=CircuitBatch(circuits),
            chunks=(ChunkRecord(start=0, stop=1, state={"remote_id": "r-1"}), ChunkRecord(start=1, stop=2)),
            status=status if status is not None else JobStatus.DONE, created_at=created,
            submitted_at=created + timedelta(seconds=1), finished_at=created + timedelta(seconds=2),
            result=_simulate(circuits, SHOTS), tags=tags,
            provenance=Provenance(qdispatch_version=qdispatch_version(), qiskit_version=qiskit.__version__,
                                  simulator="basic_simulator", simulator_version=qiskit.__version__, seed=1,
                                  noise_fingerprint="0" * 64),
        )

    def save(self, record: JobRecord) -> str:
        assert self.store is not None
        location = self.store.save(record)
        if not isinstance(location, str) or not location:
            raise Failure(f"save() returned {location!r}; it must return a location string")
        self.saved[record.job_id] = record
        return location

    def check_create(self) -> str:
        from qdispatch.protocols import Store

        store = self.pm.create("store", self.name, self.options)
        if not isinstance(store, Store):
            raise Failure(f"{type(store).__name__} lacks one of save, load, delete, list, close")
        self.store = store
        return f"factory returned {type(store).__name__}"

    def check_save_load(self) -> str:
        assert self.store is not None
        record = self.record("first")
        location = self.save(record)
        wrong = _differences(record, self.store.load(record.job_id))
        if wrong:
            raise Failure(f"fields changed between save and load: {', '.join(wrong)}")
        return f"saved to {location!r} and loaded every field back"

    def check_replace(self) -> str:
        from qiskit.providers import JobStatus

        assert self.store is not None
        newer = attrs.evolve(self.saved[f"{self.prefix}-first"], status=JobStatus.ERROR, result=None,
                             error_message="replaced by the contract check")
        self.save(newer)
        wrong = _differences(newer, self.store.load(newer.job_id))
        if wrong:
            raise Failure(f"saving under an existing id did not replace the record ({', '.join(wrong)})")
        listed = [s.job_id for s in self.store.list()].count(newer.job_id)
        if listed != 1:
            raise Failure(f"after saving one id twice, list() shows it {listed} times")
        return "saving under the same id replaced the record"

    def check_list(self) -> str:
        from qiskit.providers import JobStatus

        assert self.store is not None
        for suffix, status, backend, tags, minutes in (
            ("a", JobStatus.DONE, "contract_a", ("t1",), 1),
            ("b", JobStatus.ERROR, "contract_b", ("t2",), 2),
            ("c", JobStatus.CANCELLED, "contract_a", ("t1", "t2"), 3),
            ("d", JobStatus.QUEUED, "contract_b", (), 4),
        ):
            self.save(self.record(suffix, status=status, backend=backend, tags=tags, minutes=minutes))
        newest_first = sorted(self.saved.values(), key=lambda r: r.created_at, reverse=True)
        cases: list[tuple[str, dict[str, Any], list[JobRecord]]] = [
            ("no filter", {}, newest_first),
            ("status=ERROR", {"status": JobStatus.ERROR}, [r for r in newest_first if r.status is JobStatus.ERROR]),
            ("backend", {"backend": "contract_a"}, [r for r in newest_first if r.backend == "contract_a"]),
            ("tag", {"tag": "t2"}, [r for r in newest_first if "t2" in r.tags]),
            ("limit=2", {"limit": 2}, newest_first[:2]),
            ("status and backend", {"status": JobStatus.DONE, "backend": "contract_a"},
             [r for r in newest_first if r.status is JobStatus.DONE and r.backend == "contract_a"]),
        ]
        for label, filters, want in cases:
            got = self.store.list(**filters)
            if [s.job_id for s in got] != [r.job_id for r in want]:
                raise Failure(f"list({label}) gave {[s.job_id for s in got]}, expected {[r.job_id for r in want]}")
            for summary, record in zip(got, want, strict=True):
                if summary != record.summary():
                    raise Failure(f"list({label}): the summary of {record.job_id!r} differs from its record")
        return f"newest first, filtered by status, backend, tag and limit ({len(cases)} queries)"

    def check_delete(self) -> str:
        assert self.store is not None
        job_id = f"{self.prefix}-d"
        self.store.delete(job_id)
        del self.saved[job_id]
        for action, call in (("load", self.store.load), ("delete", self.store.delete)):
            try:
                call(job_id)
            except JobNotFoundError:
                continue
            raise Failure(f"{action}() of a deleted job did not raise JobNotFoundError")
        if job_id in [s.job_id for s in self.store.list()]:
            raise Failure("list() still shows a deleted job")
        return "deleted; load() and delete() then raise JobNotFoundError"

    def check_job_ids(self) -> str:
        assert self.store is not None
        bad_ids = ["../escape", "x' OR '1'='1", "", "a" * 500]
        for bad in bad_ids:
            for action, call in (("load", self.store.load), ("delete", self.store.delete),
                                 ("save", lambda i: self.store.save(attrs.evolve(self.record("x"), job_id=i)))):  # type: ignore[union-attr]
                try:
                    call(bad)
                except InvalidJobIdError:
                    continue
                except Exception as exc:
                    raise Failure(f"{action}({bad[:20]!r}) raised {type(exc).__name__}, not InvalidJobIdError") from exc
                raise Failure(f"{action}({bad[:20]!r}) was accepted; job ids must be validated")
        return f"{len(bad_ids)} unsafe ids refused by load, delete and save"

    def check_reopen(self) -> str:
        assert self.store is not None
        self.store.close()
        self.store = self.pm.create("store", self.name, self.options)
        for record in self.saved.values():
            wrong = _differences(record, self.store.load(record.job_id))
            if wrong:
                raise Failure(f"after reopening, {record.job_id!r} changed: {', '.join(wrong)}")
        listed = {s.job_id for s in self.store.list()}
        if listed != set(self.saved):
            raise Failure(f"after reopening, list() shows {sorted(listed)}, expected {sorted(self.saved)}")
        return f"a new instance read back all {len(self.saved)} records"

    def check_round_trip(self) -> str:
        from qiskit.providers import JobStatus

        from qdispatch.job import Job

        pm = _with_probe(self.pm)
        kwargs = {"executor": "thread", "store": self.name, "store_options": self.options}
        with _provider(pm, **kwargs) as provider:
            job = provider.get_backend(PROBE_BACKEND).run(probe_circuits(0, 3), shots=SHOTS)
            counts = job.result(self.timeout).get_counts()
            job.persist()
        with _provider(pm, **kwargs) as provider:
            restored = Job.restore(job.job_id(), provider=provider)
            if restored.resubmitted or restored.status() is not JobStatus.DONE:
                raise Failure("the finished job did not come back DONE without running again")
            if restored.result().get_counts() != counts or restored.circuits() != job.circuits():
                raise Failure("the restored job's circuits or counts differ from the original's")
            try:
                provider.store.load(job.job_id())
            except JobNotFoundError:
                return "job.persist() then Job.restore() gave back the same circuits and counts"
            raise Failure("Job.restore(remove_from_store=True) left the job in the store")

    def close(self) -> None:
        if self.store is not None:
            with suppress(Exception):
                self.store.close()


def check_store(
    name: str,
    options: Mapping[str, Any] | None = None,
    *,
    timeout: float = 60.0,
    plugin_manager: PluginManager | None = None,
) -> ContractReport:
    """Check the store ``name`` against the contract; return what passed and failed.

    Checks, in order: ``create``, ``save and load`` (every record field comes
    back), ``replace`` (saving an id again replaces it), ``list`` (newest
    first; filters on status, backend, tag and limit), ``delete`` (then
    ``JobNotFoundError``), ``job ids`` (unsafe ids raise ``InvalidJobIdError``),
    ``reopen`` (a new instance reads what the first wrote) and
    ``persist/restore round trip`` (``job.persist()`` then ``Job.restore()``).

    :param name: the registered store name.
    :param options: options for its factory; when they give no ``path`` and
        the factory takes one, a fresh temporary path is used. The store must
        start empty.
    :param timeout: seconds the round trip's job may take.
    :param plugin_manager: where to look ``name`` up (default: the shared one).
    """
    pm = plugin_manager if plugin_manager is not None else get_plugin_manager()
    registration = pm.registration("store", name)
    checks = _Checks()
    with tempfile.TemporaryDirectory(prefix="qdispatch-contract-", ignore_cleanup_errors=True) as work:
        opts = dict(options or {})
        try:
            takes_path = "path" in inspect.signature(registration.factory).parameters
        except (TypeError, ValueError):
            takes_path = False
        if "path" not in opts and takes_path:
            opts["path"] = str(Path(work) / "store")
        run = _StoreChecks(pm, name, opts, timeout)
        try:
            if checks.run("create", run.check_create):
                for check, step in (("save and load", run.check_save_load), ("replace", run.check_replace),
                                    ("list", run.check_list), ("delete", run.check_delete),
                                    ("job ids", run.check_job_ids), ("reopen", run.check_reopen),
                                    ("persist/restore round trip", run.check_round_trip)):
                    checks.run(check, step)
            else:
                checks.skip_rest(STORE_CHECKS[1:], "the store could not be created")
        finally:
            run.close()
    return ContractReport("store", name, tuple(checks.items))


# -- backends ---------------------------------------------------------------------


BACKEND_CHECKS = ("create", "attributes", "provenance", "run", "persist/restore round trip")
"""The backend checks, in the order they run."""

PROVENANCE_KEYS = frozenset({"simulator", "simulator_version", "seed", "noise_fingerprint"})
"""The keys ``Device.provenance()`` must return."""


def check_backend(
    name: str,
    options: Mapping[str, Any] | None = None,
    *,
    timeout: float = 60.0,
    plugin_manager: PluginManager | None = None,
) -> ContractReport:
    """Check the backend ``name``'s device against the contract; return what passed and failed.

    Checks: ``create`` (the factory builds a :class:`qdispatch.Device`),
    ``attributes`` (a ``Target``, sane limits, a registered executor),
    ``provenance`` (the four keys, JSON-safe), ``run`` (a transpiled one-qubit
    circuit gives mostly ``1``) and ``persist/restore round trip``.

    :param name: the registered backend name.
    :param options: options for its factory (default: none).
    :param timeout: seconds the job may take.
    :param plugin_manager: where to look ``name`` up (default: the shared one).
    """
    from qdispatch.protocols import Device

    pm = plugin_manager if plugin_manager is not None else get_plugin_manager()
    pm.registration("backend", name)
    opts = dict(options or {})
    checks = _Checks()
    box: dict[str, Any] = {}

    def create() -> str:
        device = pm.create("backend", name, opts)
        if not isinstance(device, Device):
            missing = [m for m in ("name", "target", "max_shots", "max_circuits", "executor", "secret_options",
                                   "run_circuits", "provenance") if not hasattr(device, m)]
            raise Failure(f"{type(device).__name__} lacks {', '.join(missing)}")
        box["device"] = device
        return f"factory returned {type(device).__name__}"

    def attributes() -> str:
        from qiskit.transpiler import Target

        device = box["device"]
        target: Target = device.target
        problems = []
        if device.name != name:
            problems.append(f"name is {device.name!r}, but it was registered as {name!r}")
        if not isinstance(target, Target) or not target.num_qubits:
            problems.append("target is not a qiskit Target with qubits")
        if isinstance(device.max_shots, bool) or not isinstance(device.max_shots, int) or device.max_shots < 1:
            problems.append(f"max_shots is {device.max_shots!r}, not a positive integer")
        limit = device.max_circuits
        if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 1):
            problems.append(f"max_circuits is {limit!r}, not None or a positive integer")
        if device.executor is not None and device.executor not in pm.names("executor"):
            problems.append(f"executor {device.executor!r} is not a registered executor")
        secrets = device.secret_options
        if not isinstance(secrets, frozenset) or not all(isinstance(s, str) for s in secrets):
            problems.append("secret_options is not a frozenset of option names")
        if problems:
            raise Failure("; ".join(problems))
        return (f"{target.num_qubits} qubits, max_shots={device.max_shots}, max_circuits={limit}, "
                f"executor={device.executor or 'the provider default'}")

    def provenance() -> str:
        info = box["device"].provenance()
        if not isinstance(info, dict) or set(info) != PROVENANCE_KEYS:
            keys = sorted(info) if isinstance(info, dict) else type(info).__name__
            raise Failure(f"provenance() gave {keys}, expected the keys {sorted(PROVENANCE_KEYS)}")
        json.dumps(info)
        return f"simulator={info['simulator']!r}, version={info['simulator_version']!r}"

    def run_and_round_trip(round_trip: bool) -> str:
        from qiskit import QuantumCircuit
        from qiskit.providers import JobStatus

        from qdispatch.compile import transpile_for
        from qdispatch.job import Job

        with tempfile.TemporaryDirectory(prefix="qdispatch-contract-", ignore_cleanup_errors=True) as work:
            kwargs = {"store": "file", "store_options": {"path": work}}
            with _provider(pm, **kwargs) as provider:
                backend = provider.get_backend(name, **opts)
                circuit = QuantumCircuit(1, name="contract-x")
                circuit.x(0)
                circuit.measure_all()
                shots = min(SHOTS, box["device"].max_shots)
                job = backend.run(transpile_for(backend, circuit), shots=shots)
                counts = job.result(timeout).get_counts()
                if sum(counts.values()) != shots or max(counts, key=counts.get) != "1":
                    raise Failure(f"X then measure gave {counts}, expected mostly '1' over {shots} shots")
                if not round_trip:
                    return f"X then measure on executor {job.executor_name!r} gave {counts}"
                job.persist()
            with _provider(pm, **kwargs) as provider:
                restored = Job.restore(job.job_id(), provider=provider)
                if restored.resubmitted or restored.status() is not JobStatus.DONE:
                    raise Failure("the finished job did not come back DONE without running again")
                if restored.result().get_counts() != counts:
                    raise Failure("the restored job's counts differ from the original's")
        return "persisted to a file store and restored with the same counts"

    if checks.run("create", create):
        for check, step in (("attributes", attributes), ("provenance", provenance),
                            ("run", lambda: run_and_round_trip(False)),
                            ("persist/restore round trip", lambda: run_and_round_trip(True))):
            checks.run(check, step)
    else:
        checks.skip_rest(BACKEND_CHECKS[1:], "the backend could not be created")
    return ContractReport("backend", name, tuple(checks.items))


def check_plugin(
    name: str,
    kind: Kind | None = None,
    options: Mapping[str, Any] | None = None,
    *,
    backend: str | None = None,
    timeout: float = 60.0,
    plugin_manager: PluginManager | None = None,
) -> ContractReport:
    """Check whatever is registered as ``name`` (``qdispatch check-plugin NAME``).

    :param kind: ``executor``, ``store`` or ``backend``; needed only when
        ``name`` is registered as more than one.
    :raises PluginNotFoundError: if nothing is registered as ``name``.
    :raises InvalidInputError: if ``name`` is ambiguous and ``kind`` is not given.
    """
    pm = plugin_manager if plugin_manager is not None else get_plugin_manager()
    if kind is None:
        kinds = [k for k in KINDS if name in pm.catalogue()[k]]
        if not kinds:
            every = [n for k in KINDS for n in pm.names(k)]
            raise PluginNotFoundError("executor, store or backend", name, every)
        if len(kinds) > 1:
            raise InvalidInputError(f"{name!r} is registered as {' and '.join(kinds)}; say which with --kind")
        kind = kinds[0]
    if kind == "executor":
        return check_executor(name, options, backend=backend, timeout=timeout, plugin_manager=pm)
    if kind == "store":
        return check_store(name, options, timeout=timeout, plugin_manager=pm)
    return check_backend(name, options, timeout=timeout, plugin_manager=pm)
