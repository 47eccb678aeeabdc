"""Checking an executor against the contract: submit, result, errors, cancel, shutdown."""

from __future__ import annotations

import tempfile
import threading
import warnings
from collections.abc import Mapping
from concurrent.futures import CancelledError, Future
from contextlib import suppress
from pathlib import Path
from typing import TYPE_CHECKING, Any

import attrs

from qdispatch.capabilities import cancellable, capabilities_of, resumable, worker_count
from qdispatch.contract.probe import (
    PROBE_BACKEND,
    SHOTS,
    SUBMIT_GRACE,
    ProbeTask,
    _counts_fit,
    _provider,
    _wait_for,
    probe_circuits,
)
from qdispatch.contract.report import ContractReport, Failure, Skip, _Checks, create_checked
from qdispatch.errors import (
    TaskCancelledError,
)
from qdispatch.plugins import PluginManager, get_plugin_manager
from qdispatch.task import Task

if TYPE_CHECKING:
    from qiskit.result import Result

    from qdispatch.protocols import Executor


EXECUTOR_CHECKS = (
    "create",
    "submit",
    "result",
    "error",
    "cancel queued",
    "cancel running",
    "resume",
    "persist/restore round trip",
    "shutdown",
)
"""The executor checks, in the order they run."""


class _ExecutorChecks:
    def __init__(
        self,
        pm: PluginManager,
        name: str,
        options: Mapping[str, Any],
        backend: str | None,
        work: Path,
        timeout: float,
    ) -> None:
        self.pm, self.name, self.options, self.backend = pm, name, dict(options), backend
        self.work, self.timeout = work, timeout
        self.executor: Executor | None = None
        self.submitted: Future[Result] | None = None

    def path(self, tag: str, kind: str) -> Path:
        return self.work / f"{tag}.{kind}"

    def task(
        self, tag: str, *, first: int = 0, count: int = 1, block: bool = False, fail: str | None = None
    ) -> ProbeTask:
        from qdispatch.circuits import CircuitBatch

        options: dict[str, Any] = {
            "probe_marker": str(self.path(tag, "started")),
            "probe_timeout": self.timeout,
        }
        if block:
            options["probe_release"] = str(self.path(tag, "release"))
        if fail:
            options["probe_fail"] = fail
        return ProbeTask(
            job_id=f"contract-{tag}",
            index=0,
            circuits=CircuitBatch(probe_circuits(first, count)),
            backend=PROBE_BACKEND,
            backend_options={},
            shots=SHOTS,
            run_options=options,
            start=first,
        )

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

        self.executor = create_checked(self.pm, "executor", self.name, self.options, Executor)
        offered = ", ".join(capabilities_of(self.executor, "executor")) or "none"
        return f"factory returned {type(self.executor).__name__}; optional capabilities: {offered}"

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
            raise Failure(
                "submit() did not return while the task was still running; it must return a future at once"
            )
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
        workers = worker_count(self.executor)
        if workers is None:
            raise Skip("the executor has no max_workers attribute, so no task can be kept queued")
        busy = [f"busy-{i}" for i in range(workers)]
        try:
            blockers = [self.submit(self.task(tag, block=True)) for tag in busy]
            if not _wait_for([self.path(tag, "started") for tag in busy], self.timeout):
                started = sum(self.path(tag, "started").exists() for tag in busy)
                raise Failure(
                    f"only {started} of max_workers={workers} tasks started within {self.timeout:g} s"
                )
            queued = self.submit(self.task("queued"))
            cancelled = queued.cancel()
            stopper = cancellable(self.executor)
            if not cancelled and stopper is not None:
                cancelled = bool(stopper.cancel(queued))
        finally:
            self.release(*busy)
        for future in blockers:
            future.result(self.timeout)
        self.submit(self.task("after-queued")).result(self.timeout)
        if not cancelled:
            raise Failure("cancelling a task still waiting for a worker returned False")
        if self.path("queued", "started").exists():
            raise Failure("a task whose cancel returned True ran anyway")
        if not queued.done() or not (
            queued.cancelled() or isinstance(queued.exception(0), TaskCancelledError)
        ):
            raise Failure("the future of the cancelled task did not end cancelled")
        return f"cancelled a queued task behind {workers} busy worker(s); it never ran"

    def check_cancel_running(self) -> str:
        stopper = cancellable(self.executor)
        if stopper is None:
            raise Skip("optional cancel(future) not offered: running tasks always finish")
        stop = stopper.cancel
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
        if resumable(self.executor) is None:
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
            unfinished = attrs.evolve(
                job.to_record(),
                job_id=f"{job.job_id()}-again",
                status=JobStatus.QUEUED,
                result=None,
                finished_at=None,
            )
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
            checks.run_in_order(
                "executor",
                [
                    ("create", run.check_create),
                    ("submit", run.check_submit),
                    ("result", run.check_result),
                    ("error", run.check_error),
                    ("cancel queued", run.check_cancel_queued),
                    ("cancel running", run.check_cancel_running),
                    ("resume", run.check_resume),
                    ("persist/restore round trip", run.check_round_trip),
                    ("shutdown", run.check_shutdown),
                ],
            )
        finally:
            run.close()
    return ContractReport("executor", name, tuple(checks.items))


# -- stores -----------------------------------------------------------------------
