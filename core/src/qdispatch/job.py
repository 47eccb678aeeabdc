"""The job handle users hold: Qiskit's ``JobV1`` over a :class:`~qdispatch.lifecycle.JobLifecycle`.

A ``Job`` is made by its :class:`~qdispatch.Provider` (through ``backend.run``
or ``provider.restore``). It hands its tasks to its executor, keeps itself in
its store when asked, and passes what its lifecycle reports on to the
provider's lifecycle hooks. Reads (``status()``, ``progress()``,
``error_message``, ``repr``) never fire a hook and never write.
"""

from __future__ import annotations

import concurrent.futures
import threading
import time
import warnings
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from qiskit.providers import JobStatus, JobV1
from qiskit.providers.exceptions import JobTimeoutError

from qdispatch.capabilities import cancellable, resumable
from qdispatch.circuits import CircuitBatch
from qdispatch.dispatch import HOOK_GRACE_SECONDS
from qdispatch.errors import JobCancelledError, JobFailedError, JobStateError
from qdispatch.jobids import validate_job_id
from qdispatch.lifecycle import Event, JobLifecycle, Progress
from qdispatch.records import FINAL_STATUSES, ChunkRecord, JobRecord, Provenance
from qdispatch.task import Task

if TYPE_CHECKING:
    from qiskit import QuantumCircuit
    from qiskit.result import Result

    from qdispatch.backend import Backend
    from qdispatch.dispatch import HookDispatcher
    from qdispatch.protocols import Executor, Store
    from qdispatch.provider import Provider

__all__ = ["Job", "Progress"]


class Job(JobV1):
    """A qdispatch job: the union of qiskit-aer's ``AerJob`` and qiskit-aqt-provider's ``AQTJob``.

    Jobs are made by ``backend.run(...)`` (already submitted) or by
    :meth:`Job.restore` / :meth:`qdispatch.Provider.restore`.
    """

    def __init__(
        self,
        backend: Backend,
        job_id: str,
        circuits: Sequence[QuantumCircuit],
        *,
        shots: int,
        run_options: Mapping[str, Any] | None = None,
        executor_name: str,
        executor: Executor,
        provider: Provider,
        hooks: HookDispatcher,
        max_circuits_per_task: int,
        tags: Sequence[str] = (),
        created_at: datetime | None = None,
    ) -> None:
        super().__init__(backend, validate_job_id(job_id))
        batch = circuits if isinstance(circuits, CircuitBatch) else CircuitBatch(circuits)
        self._shots = shots
        self._run_options = dict(run_options or {})
        self._executor_name = executor_name
        self._executor = executor
        self._provider = provider
        self._hooks = hooks
        self._tags = tuple(tags)
        # Held until the job_finished hooks have run: result() waits on it (a
        # plain lock costs a fraction of a threading.Event, made for every job).
        self._announced = False
        self._gate = threading.Lock()
        self._gate.acquire()
        self._final_seen: float | None = None
        self.resubmitted = False
        """True when a restore had to run this unfinished job again."""
        self._life = JobLifecycle(
            self.job_id(), batch, max_circuits_per_task, backend.name, self._on_events, created_at
        )
        self._hooks.send(self, [("job_created", {})])

    # -- what the lifecycle reports -------------------------------------------------------

    def _on_events(self, events: list[Event]) -> None:
        """Pass the lifecycle's events on to the hooks (``job_finished`` last opens the result gate)."""
        finished = any(name == "job_finished" for name, _ in events)
        self._hooks.send(self, events, self._open_gate if finished else None)

    def _open_gate(self) -> None:
        if not self._announced:
            self._announced = True
            self._gate.release()

    def on_task_state(self, listener: Callable[[Job], None] | None) -> None:
        """Call ``listener(job)`` whenever a task reports executor state (a remote job id).

        It is called on the thread that reported, outside the job's lock. The
        CLI uses it to store a remote job's id as soon as the service gave it.
        """
        self._life.on_state = None if listener is None else (lambda _index: listener(self))

    # -- submission (the provider calls these) ---------------------------------------------

    def _task(self, index: int) -> Task:
        chunk = self._life.chunks[index]
        backend = self.backend()
        return Task(
            job_id=self.job_id(),
            index=index,
            circuits=self._life.circuits.slice(chunk.start, chunk.stop),
            backend=backend.name,
            backend_options=backend.device_options,
            shots=self._shots,
            run_options=self._run_options,
            start=chunk.start,
            listener=self._life.on_task_event,
            device=backend.device,
        )

    def _submit_task(self, index: int, state: dict[str, Any] | None) -> concurrent.futures.Future[Result]:
        task = self._task(index)
        if state:
            resumer = resumable(self._executor)
            if resumer is not None:
                return resumer.resume(task, state)
        return self._executor.submit(task)

    def submit(self) -> None:
        """Hand every task of this job to the executor.

        :raises JobStateError: if the job was already submitted (or restored finished).
        """
        self._life.start(self._submit_task, None, announce=True)

    def _resume(self, states: list[dict[str, Any]] | None, record: JobRecord) -> None:
        """Carry on an unfinished stored job: resume its remote tasks from ``states``, or run it again."""
        self.resubmitted = states is None
        self._life.submitted_at = None if states is None else record.submitted_at
        running = states is not None and record.status is JobStatus.RUNNING
        self._life.start(
            self._submit_task, states or [{} for _ in self._life.chunks], announce=False, running=running
        )

    def _adopt_finished(self, record: JobRecord) -> None:
        """Take over a stored job that had finished: its result or error, without running it again."""
        self._life.adopt_final(
            record.status, record.result, record.error_message, record.submitted_at, record.finished_at
        )
        self._open_gate()

    # -- the JobV1 / AerJob / AQTJob interface ----------------------------------------------

    def status(self) -> JobStatus:
        """Return the job's status (INITIALIZING, QUEUED, RUNNING, DONE, ERROR or CANCELLED)."""
        return self._life.status()

    def done(self) -> bool:
        """Return whether the job finished successfully."""
        return self.status() is JobStatus.DONE

    def running(self) -> bool:
        """Return whether a task of the job is running now."""
        return self.status() is JobStatus.RUNNING

    def cancelled(self) -> bool:
        """Return whether the job was cancelled."""
        return self.status() is JobStatus.CANCELLED

    def in_final_state(self) -> bool:
        """Return whether the job reached DONE, ERROR or CANCELLED."""
        return self._life.final is not None

    def circuits(self) -> list[QuantumCircuit]:
        """Return the circuits submitted in this job."""
        return list(self._life.circuits)

    def executor(self) -> Executor:
        """Return the executor running this job."""
        return self._executor

    @property
    def executor_name(self) -> str:
        """The registered name of the executor running this job."""
        return self._executor_name

    @property
    def shots(self) -> int:
        """The number of shots per circuit."""
        return self._shots

    @property
    def tags(self) -> tuple[str, ...]:
        """The tags given at submission (``backend.run(..., tags=[...])``)."""
        return self._tags

    @property
    def run_options(self) -> dict[str, Any]:
        """The run options passed on to the device (``seed_simulator``, ``memory``, ...)."""
        return dict(self._run_options)

    @property
    def error_message(self) -> str | None:
        """Why the job failed, or ``None`` if it did not."""
        return self._life.error_message

    @property
    def provider(self) -> Provider:
        """The provider whose executor runs this job and whose store keeps it by default."""
        return self._provider

    def progress(self) -> Progress:
        """Return ``Progress(finished_count, total_count)``, counted per circuit."""
        return self._life.progress()

    def result(self, timeout: float | None = None) -> Result:
        """Block until the job finishes and return the results of all its circuits.

        It returns once the ``job_finished`` hooks ran (so an autosave has
        landed), or :data:`~qdispatch.dispatch.HOOK_GRACE_SECONDS` after the
        job finished if a plugin is slower than that.

        :param timeout: seconds to wait; ``None`` waits as long as it takes.
        :raises concurrent.futures.TimeoutError: if ``timeout`` passed first.
        :raises JobCancelledError: if the job was cancelled.
        :raises JobFailedError: if the job ended in ERROR (the message says why).
        """
        life = self._life
        if life.final is None and life.submitted_at is None:
            raise JobStateError(self.job_id(), f"job {self.job_id()!r} was never submitted")
        if not self._wait(timeout):
            raise concurrent.futures.TimeoutError(f"job {self.job_id()!r} did not finish within {timeout} s")
        status = life.final
        if status is JobStatus.CANCELLED:
            raise JobCancelledError(self.job_id(), f"job {self.job_id()!r} was cancelled; it has no result")
        if status is JobStatus.ERROR:
            raise JobFailedError(self.job_id(), f"job {self.job_id()!r} failed: {life.error_message}")
        assert life.result is not None
        return life.result

    def _wait(self, timeout: float | None) -> bool:
        """Wait for the job to end and its ``job_finished`` hooks to run; False if ``timeout`` passed."""
        if self._announced or (self._life.final is not None and self._hooks.on_hook_thread()):
            return True
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            remaining = None if deadline is None else deadline - time.monotonic()
            step = 0.5 if remaining is None else max(0.0, min(0.5, remaining))
            if self._gate.acquire(timeout=step):
                self._gate.release()
                return True
            if self._life.final is not None:
                now = time.monotonic()
                self._final_seen = self._final_seen or now
                if now - self._final_seen >= HOOK_GRACE_SECONDS:
                    self._hooks.flush(0)  # note the blocked plugin: later waits need not wait for it again
                    return True  # the job has finished; only a slow plugin is still running
                if self._hooks.is_stuck() or (remaining is not None and remaining <= step):
                    return True
            elif remaining is not None and remaining <= step:
                return False

    def cancel(self) -> bool:
        """Try to stop the job; return True only if nothing more of it will run."""
        stopper = cancellable(self._executor)
        stopped = self._life.cancel(stopper.cancel if stopper is not None else None)
        if stopped and self._life.submitted_at is None:
            self._open_gate()
        return stopped

    def wait_for_final_state(
        self,
        timeout: float | None = None,
        wait: float = 5,
        callback: Callable[[str, JobStatus, Job], None] | None = None,
    ) -> None:
        """Wait until the job reaches a final state.

        :param timeout: seconds to wait in all; ``None`` waits indefinitely.
        :param wait: seconds between calls of ``callback`` (the wait itself ends
            as soon as the job does, not at the next tick).
        :param callback: called as ``callback(job_id, status, job)`` while waiting.
        :raises JobTimeoutError: if ``timeout`` passed first.

        When it returns, the ``job_finished`` hooks have run (as for :meth:`result`).
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            status = self.status()
            if status in FINAL_STATUSES:
                self._wait(None if deadline is None else max(0.0, deadline - time.monotonic()))
                return
            if callback is not None:
                callback(self.job_id(), status, self)
            remaining = None if deadline is None else deadline - time.monotonic()
            if remaining is not None and remaining <= 0:
                raise JobTimeoutError(f"job {self.job_id()!r} did not finish within {timeout} s")
            step = wait if remaining is None else min(wait, remaining)
            futures = self._life.futures()
            if futures:
                concurrent.futures.wait(futures, timeout=step, return_when=concurrent.futures.FIRST_COMPLETED)
            else:
                time.sleep(min(step, 0.05))

    # -- persistence ----------------------------------------------------------------------

    def to_record(self) -> JobRecord:
        """Return the record a store keeps for this job (no secrets in it)."""
        life = self._life
        backend = self.backend()
        return JobRecord(
            job_id=self.job_id(),
            backend=backend.name,
            backend_options=backend.public_options,
            executor=self._executor_name,
            shots=self._shots,
            run_options=self._run_options,
            circuits=life.circuits,
            chunks=tuple(ChunkRecord(start=c.start, stop=c.stop, state=dict(c.state)) for c in life.chunks),
            status=life.final or life.recorded_status,
            created_at=life.created_at,
            submitted_at=life.submitted_at,
            finished_at=life.finished_at,
            result=life.result,
            error_message=life.error_message,
            tags=self._tags,
            provenance=Provenance(**backend.provenance(self._run_options)),
        )

    def persist(self, store: Store | None = None) -> str:
        """Save this job to ``store`` (default: its provider's) and return where it went.

        The ``job_persisted`` hooks have run when this returns (or a plugin is
        slower than :data:`~qdispatch.dispatch.HOOK_GRACE_SECONDS`).
        """
        target = store if store is not None else self._provider.store
        location = target.save(self.to_record())
        self._hooks.send(self, [("job_persisted", {"location": location})])
        self._hooks.flush()
        return location

    @classmethod
    def restore(
        cls,
        job_id: str,
        store: Store | None = None,
        remove_from_store: bool = False,
        *,
        provider: Provider | None = None,
        resubmit: bool = False,
        backend_options: Mapping[str, Any] | None = None,
    ) -> Job:
        """Rebuild a job handle from a store, in this or any later process (see :meth:`Provider.restore`).

        :param job_id: the id of the stored job.
        :param store: the store to read (default: the provider's).
        :param remove_from_store: delete the record once read (default: keep it).
        :param provider: the provider to restore with (default: ``Provider()`` from the configuration).
        :param resubmit: also run again a job stored as ERROR or CANCELLED.
        :param backend_options: backend options you vouch for (an endpoint given here is trusted).
        :raises JobNotFoundError: if the store has no job ``job_id``.
        """
        if provider is None:
            from qdispatch.provider import Provider

            provider = Provider()
        return provider.restore(
            job_id,
            store=store,
            remove_from_store=remove_from_store,
            resubmit=resubmit,
            backend_options=backend_options,
        )

    def _announce_restored(self) -> None:
        self._hooks.send(self, [("job_restored", {})])
        self._hooks.flush()

    # -- display -----------------------------------------------------------------------------

    def __repr__(self) -> str:
        progress = self.progress()
        return (
            f"<qdispatch.Job {self.job_id()} backend={self.backend().name!r} "
            f"executor={self._executor_name!r} status={self.status().name} "
            f"progress={progress.finished_count}/{progress.total_count}>"
        )

    def _repr_html_(self) -> str:
        """Show the job in Jupyter: status, progress, backend and executor."""
        from qdispatch.display import job_html

        return job_html(self)


def warn_resubmitted(job: Job, status: JobStatus) -> None:
    """Warn that the unfinished stored ``job`` had to be submitted again."""
    warnings.warn(
        f"job {job.job_id()!r} was {status.name} when persisted; it has been submitted again",
        RuntimeWarning,
        stacklevel=4,
    )
