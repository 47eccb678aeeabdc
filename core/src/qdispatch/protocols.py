"""The objects plugins provide: devices (backends), executors and stores.

These are structural protocols: a plugin's classes need not inherit from them,
they only need the members. What a plugin object may offer beyond them is in
:mod:`qdispatch.capabilities` (typed protocols too, looked up in one place).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from concurrent.futures import Future
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

if TYPE_CHECKING:
    from qiskit import QuantumCircuit
    from qiskit.providers import JobStatus
    from qiskit.result import Result
    from qiskit.transpiler import Target

    from qdispatch.records import JobRecord, JobSummary
    from qdispatch.task import Task


@runtime_checkable
class Device(Protocol):
    """What a backend plugin's factory returns: a target and a way to run circuits.

    Attributes:
        name: the backend name it was registered under.
        target: the ``qiskit.transpiler.Target`` circuits must fit.
        max_shots: the largest shot count accepted.
        max_circuits: the most circuits one task may carry (``None``: no limit).

    ``run_circuits`` executes in the current process; it is called by
    :meth:`qdispatch.Task.run`, in whatever process the executor chose. Its
    ``Result`` must hold one experiment per circuit, in the order given, each
    with the circuit's name in its header: qdispatch checks this and fails the
    job otherwise.

    Optional (see :mod:`qdispatch.capabilities`): ``check_circuits`` (its own
    checks before submission), ``executor`` (an executor it must run on),
    ``secret_options`` (options never stored) and ``endpoint_options`` (options
    that say where its credentials go).
    """

    name: str
    target: Target
    max_shots: int
    max_circuits: int | None

    def run_circuits(
        self, circuits: Sequence[QuantumCircuit], shots: int, run_options: Mapping[str, Any]
    ) -> Result:
        """Run ``circuits`` here and now; return their ``Result``."""
        ...

    def provenance(self) -> dict[str, Any]:
        """Return ``simulator``, ``simulator_version``, ``seed`` and ``noise_fingerprint``."""
        ...


@runtime_checkable
class Executor(Protocol):
    """Runs tasks and hands back futures.

    Optional (see :mod:`qdispatch.capabilities`): ``cancel(future)`` to stop a
    running task, ``resume(task, state)`` to pick up a remote task in a later
    process, ``max_workers``.

    Report each task's start with ``task.report_started()`` (a task run in this
    process does it itself): a job is RUNNING once one of its tasks reported so.

    An executor that makes its own ``concurrent.futures.Future`` objects must
    call ``future.set_running_or_notify_cancel()`` before it starts a task (and
    skip the task when that returns False): a future cancelled while pending is
    otherwise never counted as done by ``concurrent.futures.wait``, and
    ``Job.result()`` would wait for it forever.
    """

    def submit(self, task: Task) -> Future[Result]:
        """Start ``task`` (now or when a worker is free); return its future."""
        ...

    def shutdown(self, wait: bool = True) -> None:
        """Stop accepting tasks; with ``wait``, return once running tasks ended."""
        ...


@runtime_checkable
class Store(Protocol):
    """Keeps job records.

    ``save`` returns a location string naming where the record went. Every
    method validates job ids and raises :class:`qdispatch.JobNotFoundError`
    for a missing one.
    """

    def save(self, record: JobRecord) -> str:
        """Write ``record`` durably (replacing one with the same id); return its location."""
        ...

    def load(self, job_id: str) -> JobRecord:
        """Read the record of ``job_id``."""
        ...

    def delete(self, job_id: str) -> None:
        """Remove the record of ``job_id``."""
        ...

    def list(
        self,
        *,
        status: JobStatus | None = None,
        backend: str | None = None,
        tag: str | None = None,
        limit: int | None = None,
    ) -> list[JobSummary]:
        """Return summaries of stored jobs, newest first, filtered as asked."""
        ...

    def close(self) -> None:
        """Release files and connections."""
        ...
