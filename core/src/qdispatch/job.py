"""The job handle: one submission of circuits, split into tasks, run by an executor."""

from __future__ import annotations

import concurrent.futures
import threading
import time
import warnings
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

import attrs
from qiskit.providers import JobStatus, JobV1
from qiskit.providers.exceptions import JobTimeoutError
from qiskit.result import Result

from qdispatch.circuits import CircuitBatch
from qdispatch.errors import (
    JobCancelledError,
    JobFailedError,
    JobStateError,
)
from qdispatch.jobids import validate_job_id
from qdispatch.records import FINAL_STATUSES, ChunkRecord, JobRecord, Provenance, utcnow
from qdispatch.results import future_outcome, merge_results
from qdispatch.task import Task

if TYPE_CHECKING:
    from qiskit import QuantumCircuit

    from qdispatch.backend import Backend
    from qdispatch.protocols import Executor, Store
    from qdispatch.provider import Provider


@attrs.frozen
class Progress:
    """How many circuits of a job have finished, out of how many."""

    finished_count: int
    total_count: int


@attrs.define
class _Chunk:
    start: int
    stop: int
    future: concurrent.futures.Future[Result] | None = None
    started: bool = False
    finished_count: int = 0
    state: dict[str, Any] = attrs.field(factory=dict)
    outcome: tuple[str, Any] | None = None
    """``future_outcome`` of the finished future, worked out once (it never changes)."""

    @property
    def size(self) -> int:
        return self.stop - self.start


HOOK_GRACE_SECONDS = 60.0
"""How long ``result()`` waits for slow ``job_finished`` hooks once the job itself has finished."""


class _Wake:
    """The done-callback of a job's futures: it refreshes the job, until the job is final.

    Once the job has finished it lets go of the job: the future (held by the
    job) then no longer points back at it, so a finished job is freed as soon
    as the caller drops it, without waiting for Python's cycle collector.
    """

    __slots__ = ("job",)

    def __init__(self, job: Job) -> None:
        self.job: Job | None = job

    def __call__(self, _future: concurrent.futures.Future[Result]) -> None:
        job = self.job
        if job is not None:
            job._refresh()


def split(total: int, per_task: int) -> list[tuple[int, int]]:
    """Return ``(start, stop)`` ranges of at most ``per_task`` circuits covering ``total``."""
    return [(start, min(start + per_task, total)) for start in range(0, total, per_task)]


class Job(JobV1):
    """A qdispatch job: the union of qiskit-aer's ``AerJob`` and qiskit-aqt-provider's ``AQTJob``.

    Jobs are made by ``backend.run(...)`` (already submitted) or by
    :meth:`Job.restore`. Status, progress and result come from the futures the
    executor returned for the job's tasks; lifecycle hooks fire as they change.
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
        max_circuits_per_task: int,
        tags: Sequence[str] = (),
        created_at: datetime | None = None,
    ) -> None:
        super().__init__(backend, validate_job_id(job_id))
        self._circuits = circuits if isinstance(circuits, CircuitBatch) else CircuitBatch(circuits)
        self._shots = shots
        self._run_options = dict(run_options or {})
        self._executor_name = executor_name
        self._executor = executor
        self._provider = provider
        self._pm = provider.plugin_manager
        self._tags = tuple(tags)
        self._created_at = created_at or utcnow()
        self._submitted_at: datetime | None = None
        self._finished_at: datetime | None = None
        self._total = len(self._circuits)
        self._chunks = [_Chunk(a, b) for a, b in split(self._total, max_circuits_per_task)]
        self._lock = threading.RLock()
        self._status = JobStatus.INITIALIZING
        self._reported_progress = 0
        self._cancel_requested = False
        self._result: Result | None = None
        self._error_message: str | None = None
        self._final: JobStatus | None = None
        # Held until the job_finished hooks have run: result() waits on it.
        # A plain lock costs a fraction of a threading.Event, made for every job.
        self._announced = False
        self._announce_gate = threading.Lock()
        self._announce_gate.acquire()
        self._announcer: int | None = None
        self._hold_events = False
        self._wake: _Wake | None = None
        self.resubmitted = False
        """True when :meth:`restore` had to run this unfinished job again."""
        self._pm.notify("job_created", job=self)

    # -- submission -----------------------------------------------------------------

    def _task(self, index: int) -> Task:
        chunk = self._chunks[index]
        backend = self.backend()
        return Task(
            job_id=self.job_id(),
            index=index,
            circuits=self._circuits.slice(chunk.start, chunk.stop),
            backend=backend.name,
            backend_options=backend.device_options,
            shots=self._shots,
            run_options=self._run_options,
            start=chunk.start,
            listener=self._on_task_event,
            device=backend.device,
        )

    def submit(self) -> None:
        """Hand every task of this job to the executor.

        :raises JobStateError: if the job was already submitted (or restored finished).
        """
        with self._lock:
            if self._submitted_at is not None or self._final is not None:
                raise JobStateError(self.job_id(), f"job {self.job_id()!r} was already submitted")
            self._submitted_at = utcnow()
        self._launch(resume_states=None, announce_submitted=True)

    def _launch(self, resume_states: list[dict[str, Any]] | None, announce_submitted: bool) -> None:
        """Hand every task to the executor (resuming those with a state), then report QUEUED.

        Status events wait until every task is out, so hooks see
        ``job_submitted`` and INITIALIZING -> QUEUED before anything a fast
        task reports.
        """
        tasks = [self._task(i) for i in range(len(self._chunks))]
        self._hold_events = True
        try:
            self._start(tasks, resume_states)
        finally:
            self._hold_events = False
        if announce_submitted:
            self._pm.notify("job_submitted", job=self)
        self._refresh(queued=True)

    def _start(self, tasks: list[Task], resume_states: list[dict[str, Any]] | None) -> None:
        resume = getattr(self._executor, "resume", None)
        for task in tasks:
            chunk = self._chunks[task.index]
            state = resume_states[task.index] if resume_states else {}
            if state and resume is not None:
                chunk.state = dict(state)
                future = resume(task, state)
            else:
                future = self._executor.submit(task)
            chunk.future = future
        wake = self._wake = _Wake(self)
        for chunk in self._chunks:
            assert chunk.future is not None
            chunk.future.add_done_callback(wake)

    # -- events from tasks and futures -------------------------------------------------

    def _on_task_event(self, kind: str, payload: Any) -> None:
        with self._lock:
            if kind == "started":
                self._chunks[payload].started = True
            elif kind == "progress":
                index, count = payload
                self._chunks[index].finished_count = count
                self._chunks[index].started = True
            elif kind == "state":
                index, state = payload
                self._chunks[index].state = state
        self._refresh()

    def _compute_status(self) -> JobStatus:
        if self._final is not None:
            return self._final
        if self._submitted_at is None:
            return JobStatus.CANCELLED if self._cancel_requested else JobStatus.INITIALIZING
        # One pass over the chunks: this runs several times per job, so for a
        # one-circuit job it is a noticeable part of what qdispatch adds.
        all_done = True
        running = False
        for chunk in self._chunks:
            future = chunk.future
            if future is None:
                return JobStatus.QUEUED
            if future.done():
                running = True
            else:
                all_done = False
                running = running or chunk.started or future.running()
        if all_done:
            return JobStatus.DONE  # refined by _finish
        return JobStatus.RUNNING if running else JobStatus.QUEUED

    def _outcome(self, chunk: _Chunk) -> tuple[str, Any]:
        """Return the outcome of ``chunk``'s finished future (worked out once)."""
        if chunk.outcome is None:
            assert chunk.future is not None
            chunk.outcome = future_outcome(chunk.future)
        return chunk.outcome

    def _set_status(self, new: JobStatus, events: list[tuple[str, dict[str, Any]]]) -> None:
        old, self._status = self._status, new
        if old is not new:
            events.append(("job_status_changed", {"old": old, "new": new}))

    def _finish(self) -> JobStatus:
        outcomes = [self._outcome(c) for c in self._chunks]
        kinds = [kind for kind, _ in outcomes]
        if "cancelled" in kinds:
            final = JobStatus.CANCELLED
        elif "error" in kinds:
            final = JobStatus.ERROR
            messages = [m for kind, m in outcomes if kind == "error"]
            self._error_message = messages[0] if len(messages) == 1 else "; ".join(
                f"task {i}: {m}" for i, (kind, m) in enumerate(outcomes) if kind == "error"
            )
        else:
            final = JobStatus.DONE
            self._result = merge_results([r for _, r in outcomes], self.job_id())
        for chunk, (kind, _) in zip(self._chunks, outcomes, strict=True):
            if kind == "done":
                chunk.finished_count = chunk.size
        self._finished_at = utcnow()
        self._release_futures()
        self._final = final  # last: result() reads it without waiting for the rest
        return final

    def _release_futures(self) -> None:
        """Let go of the executor's futures once their outcomes are read.

        A finished job keeps its result and error message, not the futures
        (nor, through them, the tasks' own results); and the futures' callbacks
        let go of the job, so nothing points back at it.
        """
        if self._wake is not None:
            self._wake.job = None
            self._wake = None
        for chunk in self._chunks:
            chunk.future = None
            chunk.outcome = None

    def _refresh(self, queued: bool = False) -> JobStatus:
        """Work out the status, then call the hooks for what changed since the last look.

        :param queued: every task was just handed out: report INITIALIZING -> QUEUED first.
        """
        final = self._final
        if final is not None and self._status is final:  # finished and announced: nothing can change
            return final
        if self._hold_events:  # submit() is still handing out tasks
            return self._status
        events: list[tuple[str, dict[str, Any]]] = []
        with self._lock:
            if queued and self._status is JobStatus.INITIALIZING:
                self._set_status(JobStatus.QUEUED, events)
            before_final = self._final
            status = self._compute_status()
            if status in FINAL_STATUSES and self._final is None and self._submitted_at is not None:
                status = self._finish()
            finished = self._finished_count_locked()
            if finished != self._reported_progress:
                self._reported_progress = finished
                events.append(("job_progress", {"progress": Progress(finished, self._total)}))
            self._set_status(status, events)
            if self._final is not None and before_final is None:
                events.append(("job_finished", {}))
                self._announcer = threading.get_ident()
        for hook_name, kwargs in events:
            self._pm.notify(hook_name, job=self, **kwargs)
            if hook_name == "job_finished":
                self._mark_announced()
        return status

    def _mark_announced(self) -> None:
        """Record that the ``job_finished`` hooks ran; release whoever waits in result()."""
        with self._lock:  # the gate is released once, whoever gets here first
            if not self._announced:
                self._announced = True
                self._announce_gate.release()

    def _wait_announced(self, timeout: float | None) -> bool:
        """Wait until the job finished and its ``job_finished`` hooks ran; False if ``timeout`` passed first.

        The caller wakes once, after the futures' callbacks have done all the
        job's bookkeeping (an autosave must land before ``result()`` returns),
        rather than at the future and again for the job's lock. A hook calling
        ``result()`` on the thread announcing the job does not wait; nor does
        anyone wait more than :data:`HOOK_GRACE_SECONDS` for slow hooks.
        """
        if self._announced or (self._final is not None and self._announcer == threading.get_ident()):
            return True
        deadline = None if timeout is None else time.monotonic() + timeout
        finished_since: float | None = None
        while True:
            remaining = None if deadline is None else deadline - time.monotonic()
            step = 0.5 if remaining is None else max(0.0, min(0.5, remaining))
            if self._announce_gate.acquire(timeout=step):
                self._announce_gate.release()
                return True
            if self._final is None and all(f.done() for f in self._futures()):
                self._refresh()  # the callbacks could not finish the job: do it here, raising what they hit
            if self._announced:
                return True
            if remaining is not None and remaining <= step:
                return False
            if self._final is not None:
                now = time.monotonic()
                finished_since = finished_since if finished_since is not None else now
                if now - finished_since >= HOOK_GRACE_SECONDS:
                    return True

    # -- the JobV1 / AerJob / AQTJob interface -------------------------------------------

    def status(self) -> JobStatus:
        """Return the job's status (INITIALIZING, QUEUED, RUNNING, DONE, ERROR or CANCELLED)."""
        return self._refresh()

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
        return self.status() in FINAL_STATUSES

    def circuits(self) -> list[QuantumCircuit]:
        """Return the circuits submitted in this job."""
        return list(self._circuits)

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
    def error_message(self) -> str | None:
        """Why the job failed, or ``None`` if it did not."""
        self._refresh()
        return self._error_message

    def _finished_count_locked(self) -> int:
        if self._final is JobStatus.DONE:
            return self._total
        finished = 0
        for chunk in self._chunks:
            future = chunk.future
            if future is not None and future.done():
                kind, _ = self._outcome(chunk)
                finished += chunk.size if kind == "done" else chunk.finished_count
            else:
                finished += min(chunk.finished_count, chunk.size)
        return finished

    def _progress_locked(self) -> Progress:
        return Progress(self._finished_count_locked(), self._total)

    def progress(self) -> Progress:
        """Return ``Progress(finished_count, total_count)``, counted per circuit."""
        self._refresh()
        with self._lock:
            return self._progress_locked()

    def _futures(self) -> list[concurrent.futures.Future[Result]]:
        return [c.future for c in self._chunks if c.future is not None]

    def result(self, timeout: float | None = None) -> Result:
        """Block until the job finishes and return the results of all its circuits.

        :param timeout: seconds to wait; ``None`` waits as long as it takes.
        :raises concurrent.futures.TimeoutError: if ``timeout`` passed first.
        :raises JobCancelledError: if the job was cancelled.
        :raises JobFailedError: if the job ended in ERROR (the message says why).
        """
        if self._final is None and self._submitted_at is None and not self._cancel_requested:
            raise JobStateError(self.job_id(), f"job {self.job_id()!r} was never submitted")
        if not self._wait_announced(timeout):
            raise concurrent.futures.TimeoutError(f"job {self.job_id()!r} did not finish within {timeout} s")
        status = self._final
        if status is JobStatus.CANCELLED:
            raise JobCancelledError(self.job_id(), f"job {self.job_id()!r} was cancelled; it has no result")
        if status is JobStatus.ERROR:
            raise JobFailedError(self.job_id(), f"job {self.job_id()!r} failed: {self._error_message}")
        assert self._result is not None
        return self._result

    def cancel(self) -> bool:
        """Try to stop the job; return True only if nothing more of it will run."""
        with self._lock:
            if self._final is not None:
                return False
            self._cancel_requested = True
            if self._submitted_at is None:
                self._final = JobStatus.CANCELLED
                self._finished_at = utcnow()
                self._mark_announced()  # never submitted: no job_finished hooks to wait for
        if self._submitted_at is None:
            self._refresh()
            return True
        # The executor decides first when it can: a future may stand for a
        # remote job that only the executor can stop.
        stop = getattr(self._executor, "cancel", None)
        stopped_all = True
        for future in self._futures():
            if future.done():
                continue
            if not (stop(future) if stop is not None else future.cancel()):
                stopped_all = False
        self._refresh()
        return stopped_all

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
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            status = self.status()
            if status in FINAL_STATUSES:
                return
            if callback is not None:
                callback(self.job_id(), status, self)
            remaining = None if deadline is None else deadline - time.monotonic()
            if remaining is not None and remaining <= 0:
                raise JobTimeoutError(f"job {self.job_id()!r} did not finish within {timeout} s")
            step = wait if remaining is None else min(wait, remaining)
            concurrent.futures.wait(self._futures(), timeout=step)

    # -- persistence ---------------------------------------------------------------------

    def to_record(self) -> JobRecord:
        """Return the record a store keeps for this job (no secrets in it)."""
        status = self.status()
        backend = self.backend()
        with self._lock:
            return JobRecord(
                job_id=self.job_id(),
                backend=backend.name,
                backend_options=backend.public_options,
                executor=self._executor_name,
                shots=self._shots,
                run_options=self._run_options,
                circuits=self._circuits,
                chunks=tuple(ChunkRecord(start=c.start, stop=c.stop, state=dict(c.state)) for c in self._chunks),
                status=status,
                created_at=self._created_at,
                submitted_at=self._submitted_at,
                finished_at=self._finished_at,
                result=self._result,
                error_message=self._error_message,
                tags=self._tags,
                provenance=Provenance(**backend.provenance(self._run_options)),
            )

    def persist(self, store: Store | None = None) -> str:
        """Save this job to ``store`` (default: the provider's) and return where it went."""
        target = store if store is not None else self._provider.store
        location = target.save(self.to_record())
        self._pm.notify("job_persisted", job=self, location=location)
        return location

    @classmethod
    def restore(
        cls,
        job_id: str,
        store: Store | None = None,
        remove_from_store: bool = True,
        *,
        provider: Provider | None = None,
        resubmit: bool = False,
    ) -> Job:
        """Rebuild a job handle from a store, in this or any later process.

        A finished job comes back with its result, without running again. An
        unfinished job whose executor can resume it (a remote service) carries
        on polling the same remote job, on the executor that submitted it; any
        other unfinished job is submitted again, with a warning, and
        ``job.resubmitted`` is True.

        :param job_id: the id of the stored job.
        :param store: the store to read (default: the provider's).
        :param remove_from_store: delete the record once read (before the job
            runs again, so a saved newer state is never deleted).
        :param provider: the provider to rebuild the job with (default: ``Provider()``).
        :param resubmit: also run again a job stored as ERROR or CANCELLED
            (say, one whose executor lost its cluster).
        :raises JobNotFoundError: if the store has no job ``job_id``.
        """
        from qdispatch.provider import Provider

        provider = provider if provider is not None else Provider()
        source = store if store is not None else provider.store
        record = source.load(validate_job_id(job_id))
        if resubmit and record.status in (JobStatus.ERROR, JobStatus.CANCELLED):
            record = attrs.evolve(
                record,
                status=JobStatus.QUEUED,
                result=None,
                error_message=None,
                finished_at=None,
                chunks=tuple(attrs.evolve(c, state={}) for c in record.chunks),
            )
        job = provider.job_from_record(record)
        if remove_from_store:
            source.delete(job_id)
        job._adopt(record)
        job._pm.notify("job_restored", job=job)
        return job

    @property
    def provider(self) -> Provider:
        """The provider whose executor runs this job and whose store keeps it by default."""
        return self._provider

    def _adopt(self, record: JobRecord) -> None:
        """Take over a stored record's state, then resume or re-run it if unfinished."""
        self._created_at = record.created_at
        self._submitted_at = record.submitted_at
        for chunk, stored in zip(self._chunks, record.chunks, strict=False):
            chunk.state = dict(stored.state)
        if record.finished:
            self._mark_announced()
            self._final = record.status
            self._status = record.status
            self._finished_at = record.finished_at
            self._result = record.result
            self._error_message = record.error_message
            for chunk in self._chunks:
                chunk.finished_count = chunk.size if record.status is JobStatus.DONE else 0
            self._reported_progress = self._progress_locked().finished_count
            return
        states = [dict(c.state) for c in record.chunks] if len(record.chunks) == len(self._chunks) else None
        resumable = states is not None and self._provider.can_resume(record)
        if not resumable:
            self.resubmitted = True
            warnings.warn(
                f"job {self.job_id()!r} was {record.status.name} when persisted; "
                "it has been submitted again",
                RuntimeWarning,
                stacklevel=3,
            )
        self._submitted_at = utcnow() if self._submitted_at is None or not resumable else self._submitted_at
        self._launch(resume_states=states if resumable else None, announce_submitted=False)

    # -- display -------------------------------------------------------------------------

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
